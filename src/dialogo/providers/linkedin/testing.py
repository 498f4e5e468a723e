"""The LinkedIn provider's fixture for the provider contract (:mod:`dialogo.providers.contract`).

Error answers are LinkedIn's ``{"status", "serviceErrorCode", "code", "message"}``; a 429
here carries ``Retry-After`` (LinkedIn's daily limits usually come without it, and then the
provider waits until midnight UTC: see :mod:`dialogo.providers.linkedin.client`)."""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import urllib.parse
from collections.abc import Callable, Iterator
from typing import Any

import httpx

from dialogo.providers import contract
from dialogo.providers.base import Credentials, Draft, Media, Provider, RemoteRef
from dialogo.providers.contract import Answer, ContractFixture, Responder, httpx_client
from dialogo.providers.linkedin.provider import POSTS_PAGE, LinkedInProvider
from dialogo.providers.testing import ScriptedApi
from dialogo.providers.video import tiny_mp4

TOKEN = "contract-linkedin-token"  # noqa: S105 - a made-up token
PNG = b"\x89PNG\r\n\x1a\n" + b"\0" * 32
VIDEO = tiny_mp4(20, size=100_000)
_ERRORS = {
    401: (65600, "INVALID_ACCESS_TOKEN", "Invalid access token"),
    500: (0, "INTERNAL_SERVER_ERROR", "Internal Server Error"),
    503: (0, "SERVICE_UNAVAILABLE", "Service Unavailable"),
}


def error_answer(status: int) -> Answer:
    service, code, message = _ERRORS.get(status, (0, "ERROR", "error"))
    return Answer(
        status,
        json={"status": status, "serviceErrorCode": service, "code": code, "message": message},
    )


def rate_limit_answer(wait: float) -> Answer:
    return Answer(
        429,
        headers={"Retry-After": str(int(wait))},
        json={"status": 429, "code": "TOO_MANY_REQUESTS", "message": "Resource level throttle"},
    )


def contract_fixture() -> ContractFixture:
    @contextlib.contextmanager
    def connect(responder: Responder) -> Iterator[Provider]:
        provider = LinkedInProvider(
            Credentials(access_token=TOKEN, account_id="urn:li:organization:2414183"),
            http=httpx_client(responder),
            config={"client_id": "contract-app", "organization_id": "2414183"},
        )
        try:
            yield provider
        finally:
            provider.close()

    png = Media(PNG, "image/png", alt_text="una tazza")
    return ContractFixture(
        provider_class=LinkedInProvider,
        connect=connect,
        valid_drafts=[
            Draft(text="Nuova miscela autunnale (tostatura media) #caffè"),
            Draft(text="é" * 3000),
            Draft(text="", media=[png]),
            Draft(text="album", media=[png] * 20),
            Draft(text="Dietro le quinte", media=[Media(VIDEO, "video/mp4")]),
            Draft(text="", media=[Media(tiny_mp4(1800, size=75 * 1024), "video/mp4")]),
            Draft(
                text="Grazie!",
                reply_to=RemoteRef(
                    "urn:li:comment:(urn:li:activity:7,8)", conversation_id="urn:li:share:7"
                ),
            ),
        ],
        invalid_drafts={
            "3001 characters": Draft(text="é" * 3001),
            "empty": Draft(text="  "),
            "MOV video": Draft(
                text="x", media=[Media(tiny_mp4(10, brand=b"qt  "), "video/quicktime")]
            ),
            "video under 75 KB": Draft(
                text="x", media=[Media(tiny_mp4(10, size=75 * 1024 - 1), "video/mp4")]
            ),
            "video under 3 s": Draft(
                text="x", media=[Media(tiny_mp4(2.9, size=80_000), "video/mp4")]
            ),
            "video over 30 minutes": Draft(
                text="x", media=[Media(tiny_mp4(1801, size=80_000), "video/mp4")]
            ),
            "two videos": Draft(text="x", media=[Media(VIDEO, "video/mp4")] * 2),
            "a video with an image": Draft(text="x", media=[Media(VIDEO, "video/mp4"), png]),
            "webp": Draft(text="x", media=[Media(b"RIFF", "image/webp")]),
            "21 images": Draft(text="x", media=[png] * 21),
            "alt text over 4086": Draft(text="x", media=[Media(PNG, "image/png", "a" * 4087)]),
            "a thread": Draft(text="x", thread=[Draft(text="y")]),
        },
        error_answer=error_answer,
        rate_limit_answer=rate_limit_answer,
        account_listing=posts_by_author,
        listing_cap=POSTS_PAGE,
    )


def posts_by_author(total: int) -> Responder:
    """The Posts API's ``q=author`` finder for an organization of ``total`` posts (the
    contract's :func:`~dialogo.providers.contract.listing_page`): ``count`` posts (at most
    100) from ``start``, newest created first, with a ``rel: next`` link while older ones
    remain ("Posts API", "Pagination" on learn.microsoft.com/linkedin)."""

    def respond(request: contract.ScriptedRequest) -> Answer:
        url = httpx.URL(request.url)
        if request.method != "GET" or not url.path.endswith("/rest/posts"):
            return error_answer(500)
        if url.params.get("q") != "author" or url.params.get("sortBy") != "CREATED":
            return Answer(400, json={"status": 400, "code": "ILLEGAL_ARGUMENT", "message": "q"})
        start, count = int(url.params.get("start", "0")), int(url.params.get("count", "10"))
        numbers = contract.listing_page(
            total, older_than=total - start + 1 if start else None, count=count, cap=POSTS_PAGE
        )
        paging: dict[str, Any] = {"start": start, "count": count, "links": []}
        if numbers and numbers[-1] > 1:
            following = url.copy_set_param("start", str(start + len(numbers)))
            paging["links"] = [{"rel": "next", "type": "application/json", "href": str(following)}]
        elements = [
            {
                "id": f"urn:li:share:{7000 + n}",
                "author": "urn:li:organization:2414183",
                "commentary": f"post {n}",
                "createdAt": int(contract.listed_at(n).timestamp() * 1000),
                "lifecycleState": "PUBLISHED",
            }
            for n in numbers
        ]
        return Answer(200, json={"elements": elements, "paging": paging})

    return respond


PART = 4 * 1024 * 1024  # the Videos API's part size (4,194,304 bytes)
UPLOADS = "https://www.linkedin.com/dms-uploads/sp/v2/D5610AQ/uploadedVideo"


class VideoApi(ScriptedApi):
    """A small stateful LinkedIn for video posts, answering as the Videos and Posts APIs
    document (an ``httpx.MockTransport`` handler): ``initializeUpload`` gives an upload URL
    per 4 MB byte range and an ``uploadToken``; each part's PUT answers an ``ETag``;
    ``finalizeUpload`` wants every ETag in order; ``GET /rest/videos/{urn}`` answers the
    statuses in ``statuses`` one per request (the last one repeats), with
    ``processingFailureReason`` when it is ``PROCESSING_FAILED``; ``POST /rest/posts`` refuses a
    video that is not ``AVAILABLE`` and answers 201 with ``x-restli-id``; the ``q=author``
    finder lists the posts. ``fail`` queues answers (or exceptions) given instead of the normal
    one, per operation (``initialize``, ``part``, ``finalize``, ``status``, ``post``,
    ``posts``)."""

    def __init__(self, statuses: list[str] | None = None, *, reason: str = "") -> None:
        super().__init__()
        self.statuses = list(statuses or ["PROCESSING", "AVAILABLE"])
        self.reason = reason or "Video format not supported"
        self.videos: dict[str, dict[str, Any]] = {}
        self.posts: list[dict[str, Any]] = []
        self.part_headers: list[httpx.Headers] = []
        #: Now, for the upload URLs' expiry (``uploadUrlsExpireAt``: a day after
        #: ``initializeUpload``); an upload whose URLs expired refuses its parts (403).
        self.now: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC)
        self.url_lifetime = dt.timedelta(days=1)

    def operation(self, request: httpx.Request) -> str:
        path, action = request.url.path, request.url.params.get("action")
        if path == "/rest/videos" and action == "initializeUpload":
            return "initialize"
        if path == "/rest/videos" and action == "finalizeUpload":
            return "finalize"
        if path.startswith("/rest/videos/"):
            return "status"
        if str(request.url).startswith(UPLOADS):
            return "part"
        if path == "/rest/posts":
            return "post" if request.method == "POST" else "posts"
        return "unknown"

    def _initialize(self, request: httpx.Request) -> httpx.Response:
        ask = json.loads(request.content)["initializeUploadRequest"]
        size = int(ask["fileSizeBytes"])
        number = len(self.videos)
        urn = f"urn:li:video:C5605AQH{number:04d}"
        parts = [
            {
                "uploadUrl": f"{UPLOADS}/{number}/part/{index}",
                "firstByte": first,
                "lastByte": min(first + PART, size) - 1,
            }
            for index, first in enumerate(range(0, size, PART))
        ]
        expires = self.now() + self.url_lifetime
        self.videos[urn] = {"owner": ask["owner"], "size": size, "parts": {}, "status": ""}
        self.videos[urn].update(expected=len(parts), expires=expires)
        return httpx.Response(
            200,
            json={
                "value": {
                    "uploadUrlsExpireAt": int(expires.timestamp() * 1000),
                    "video": urn,
                    "uploadInstructions": parts,
                    "uploadToken": f"token-{number}",
                }
            },
        )

    def _part(self, request: httpx.Request) -> httpx.Response:
        number, index = request.url.path.rsplit("/", 3)[-3], request.url.path.rsplit("/", 1)[-1]
        urn = f"urn:li:video:C5605AQH{int(number):04d}"
        self.part_headers.append(request.headers)
        if self.now() >= self.videos[urn]["expires"]:
            return _li_error(403, "ACCESS_DENIED", "the upload URL has expired")
        etag = f"/ambry-video/signedId__{number}_{index}"
        self.videos[urn]["parts"][int(index)] = (etag, len(request.content))
        return httpx.Response(200, headers={"ETag": etag})

    def _finalize(self, request: httpx.Request) -> httpx.Response:
        ask = json.loads(request.content)["finalizeUploadRequest"]
        video = self.videos[ask["video"]]
        parts = [video["parts"][i] for i in sorted(video["parts"])]
        if (
            ask["uploadToken"] != f"token-{list(self.videos).index(ask['video'])}"
            or ask["uploadedPartIds"] != [etag for etag, _ in parts]
            or len(parts) != video["expected"]
            or sum(n for _, n in parts) != video["size"]
        ):
            return _li_error(400, "BAD_REQUEST", "uploadedPartIds do not match the upload")
        video["status"] = "PROCESSING"
        return httpx.Response(200, json={})

    def _status(self, request: httpx.Request) -> httpx.Response:
        urn = urllib.parse.unquote(request.url.path.rsplit("/", 1)[-1])
        video = self.videos[urn]
        status = self.statuses.pop(0) if len(self.statuses) > 1 else self.statuses[0]
        video["status"] = status
        body: dict[str, Any] = {"id": urn, "owner": video["owner"], "status": status}
        if status == "PROCESSING_FAILED":
            body["processingFailureReason"] = self.reason
        return httpx.Response(200, json=body)

    def _post(self, request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        urn = ((body.get("content") or {}).get("media") or {}).get("id")
        if urn is not None and self.videos.get(urn, {}).get("status") != "AVAILABLE":
            return _li_error(422, "UNPROCESSABLE_ENTITY", f"{urn} is not AVAILABLE")
        post_urn = f"urn:li:share:{6_844_785_523_593_134_080 + len(self.posts)}"
        self.posts.append({"id": post_urn, **body})
        return httpx.Response(201, headers={"x-restli-id": post_urn})

    def _posts(self, request: httpx.Request) -> httpx.Response:
        elements = [{"id": p["id"], "commentary": p["commentary"]} for p in reversed(self.posts)]
        return httpx.Response(200, json={"elements": elements})


def _li_error(status: int, code: str, message: str) -> httpx.Response:
    return httpx.Response(
        status, json={"status": status, "serviceErrorCode": 0, "code": code, "message": message}
    )
