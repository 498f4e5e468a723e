"""The X provider's fixture for the provider contract (:mod:`dialogo.providers.contract`).

Error answers are X's problem documents (``{"title", "detail", "type", "status"}``); a 429
announces its wait in ``x-rate-limit-reset``, an epoch second (so the contract allows a
second of drift).

The media upload's answers for a video (:func:`media_init_answer`, :func:`media_finalize_answer`,
:func:`media_status_answer`) are those of docs.x.com's "Chunked media upload" quickstart and
"Get media upload status" reference: ``{"data": {"id", "media_key", "expires_after_secs",
"processing_info": {"state", "check_after_secs", "progress_percent", "error"}}}``."""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import time
from collections.abc import Callable, Iterator
from typing import Any

import httpx

from dialogo.providers.base import Credentials, Draft, Media, Provider
from dialogo.providers.contract import (
    Answer,
    ContractFixture,
    Responder,
    ScriptedRequest,
    httpx_client,
    listed_at,
    listing_page,
)
from dialogo.providers.testing import ScriptedApi
from dialogo.providers.video import tiny_mp4
from dialogo.providers.x.provider import TIMELINE_PAGE, XProvider

TOKEN = "contract-x-user-token"  # noqa: S105 - a made-up token
PNG = b"\x89PNG\r\n\x1a\n" + b"\0" * 32
VIDEO = tiny_mp4(12.0)
_TITLES = {401: "Unauthorized", 500: "Internal Server Error", 503: "Service Unavailable"}


def media_init_answer(media_id: str, expires_after: int = 86400) -> httpx.Response:
    """INIT: the media id, for ``expires_after_secs`` (24 hours unless told)."""
    return httpx.Response(
        200,
        json={
            "data": {
                "id": media_id,
                "media_key": f"7_{media_id}",
                "expires_after_secs": expires_after,
            }
        },
    )


def media_expired_answer(media_id: str) -> httpx.Response:
    """An APPEND or FINALIZE for a media id X no longer knows (its upload session expired).
    X's documentation shows no example of it; this is its usual 400 problem document."""
    return httpx.Response(
        400,
        json={
            "title": "Invalid Request",
            "detail": "One or more parameters to your request was invalid.",
            "type": "https://api.twitter.com/2/problems/invalid-request",
            "errors": [{"message": f"media_id {media_id} is expired or does not exist"}],
        },
    )


def _processing(state: str, check_after: int | None, error: str | None) -> dict[str, Any]:
    info: dict[str, Any] = {"state": state}
    if check_after is not None:
        info["check_after_secs"] = check_after
    if state == "in_progress":
        info["progress_percent"] = 42
    if error is not None:
        info["error"] = {"code": 1, "name": "InvalidMedia", "message": error}
    return info


def media_finalize_answer(
    media_id: str, state: str | None = "pending", *, check_after: int | None = 1
) -> httpx.Response:
    """FINALIZE: a video is then processed (``processing_info``); ``state=None`` is the
    answer for media X has nothing to process."""
    data: dict[str, Any] = {
        "id": media_id,
        "media_key": f"7_{media_id}",
        "size": 1_048_576,
        "expires_after_secs": 86400,
    }
    if state is not None:
        data["processing_info"] = _processing(state, check_after, None)
    return httpx.Response(200, json={"data": data})


def media_status_answer(
    media_id: str, state: str, *, check_after: int | None = 5, error: str | None = None
) -> httpx.Response:
    """STATUS: ``pending`` → ``in_progress`` → ``succeeded`` or ``failed`` (with an error)."""
    if state in ("succeeded", "failed"):
        check_after = None
    data: dict[str, Any] = {
        "id": media_id,
        "media_key": f"7_{media_id}",
        "processing_info": _processing(state, check_after, error),
    }
    if state == "succeeded":
        data["video"] = {"video_type": "video/mp4"}
    return httpx.Response(200, json={"data": data})


def error_answer(status: int) -> Answer:
    title = _TITLES.get(status, f"Error {status}")
    return Answer(
        status, json={"title": title, "detail": title, "type": "about:blank", "status": status}
    )


def rate_limit_answer(wait: float) -> Answer:
    reset = int(time.time() + wait)
    return Answer(
        429,
        headers={
            "x-rate-limit-limit": "100",
            "x-rate-limit-remaining": "0",
            "x-rate-limit-reset": str(reset),
        },
        json={"title": "Too Many Requests", "detail": "Too Many Requests", "type": "about:blank"},
    )


def contract_fixture() -> ContractFixture:
    @contextlib.contextmanager
    def connect(responder: Responder) -> Iterator[Provider]:
        provider = XProvider(
            Credentials(access_token=TOKEN, account_id="2244994945", extra={"username": "brand"}),
            http=httpx_client(responder),
            config={"client_id": "contract-client"},
        )
        try:
            yield provider
        finally:
            provider.close()

    link = "https://example.com/" + "a" * 300
    return ContractFixture(
        provider_class=XProvider,
        connect=connect,
        valid_drafts=[
            Draft(text="Nuova collezione autunno 🍂 #moda"),
            Draft(text="x" * 256 + " " + link),  # the link counts 23: 280 in all
            Draft(text="日" * 140),  # CJK weighs 2: 280
            Draft(text="", media=[Media(PNG, "image/png", alt_text="a dot")] * 4),
            Draft(text="first", thread=[Draft(text="second"), Draft(text="third")]),
            Draft(text="Tostatura in diretta", media=[Media(VIDEO, "video/mp4")]),
            Draft(text="", media=[Media(tiny_mp4(140), "video/quicktime")]),  # 140 s: the most
        ],
        invalid_drafts={
            "281 characters": Draft(text="é" * 281),
            "141 CJK characters": Draft(text="日" * 141),
            "empty": Draft(text="  "),
            "five images": Draft(text="x", media=[Media(PNG, "image/png")] * 5),
            "two videos": Draft(text="x", media=[Media(VIDEO, "video/mp4")] * 2),
            "a video with an image": Draft(
                text="x", media=[Media(VIDEO, "video/mp4"), Media(PNG, "image/png")]
            ),
            "video over 140 s": Draft(text="x", media=[Media(tiny_mp4(140.5), "video/mp4")]),
            "video under 0.5 s": Draft(text="x", media=[Media(tiny_mp4(0.4), "video/mp4")]),
            "AVI video": Draft(text="x", media=[Media(b"RIFF\0\0\0\0AVI ", "video/x-msvideo")]),
            "video in a thread's second post": Draft(
                text="x", thread=[Draft(text="y", media=[Media(VIDEO, "video/mp4")])]
            ),
            "image over 5 MB": Draft(
                text="x", media=[Media(PNG + b"\0" * (5 * 1024 * 1024), "image/png")]
            ),
            "alt text over 1000": Draft(
                text="x", media=[Media(PNG, "image/png", alt_text="a" * 1001)]
            ),
            "thread post too long": Draft(text="ok", thread=[Draft(text="y" * 281)]),
        },
        error_answer=error_answer,
        rate_limit_answer=rate_limit_answer,
        retry_after_tolerance=1.5,
        account_listing=timeline,
        listing_cap=TIMELINE_PAGE,
    )


def timeline(total: int) -> Responder:
    """``GET /2/users/:id/tweets`` for an account of ``total`` posts (the contract's
    :func:`~dialogo.providers.contract.listing_page`): ``max_results`` posts (5-100) older
    than the ``pagination_token``, and ``meta.next_token`` while older ones remain."""

    def respond(request: ScriptedRequest) -> Answer:
        url = httpx.URL(request.url)
        if request.method != "GET" or not url.path.endswith("/tweets"):
            return error_answer(500)
        token = url.params.get("pagination_token")
        count = int(url.params.get("max_results", "10"))
        if not 5 <= count <= 100:
            return Answer(400, json={"title": "Invalid Request", "detail": "max_results"})
        numbers = listing_page(
            total, older_than=int(token) if token else None, count=count, cap=TIMELINE_PAGE
        )
        meta: dict[str, Any] = {"result_count": len(numbers)}
        if numbers and numbers[-1] > 1:
            meta["next_token"] = str(numbers[-1])
        data = [
            {
                "id": str(1000 + n),
                "text": f"post {n}",
                "created_at": listed_at(n).strftime("%Y-%m-%dT%H:%M:%S.000Z"),
            }
            for n in numbers
        ]
        return Answer(200, json={"data": data, "meta": meta} if data else {"meta": meta})

    return respond


class VideoApi(ScriptedApi):
    """A small stateful X for video posts, answering as the documentation says (an
    ``httpx.MockTransport`` handler): the media upload's INIT/APPEND/FINALIZE/STATUS, Create
    Post (which refuses a media id X has not finished processing, as X does) and the user's
    posts timeline (whose text ends with the media's link, a ``media_key`` url entity).

    ``states`` is what STATUS answers, one per request (the last one repeats); ``fail``
    queues answers (or exceptions) given instead of the normal one, per operation
    (``INIT``, ``APPEND``, ``FINALIZE``, ``STATUS``, ``tweets``, ``timeline``)."""

    def __init__(self, states: list[str] | None = None, *, reason: str = "") -> None:
        super().__init__()
        self.states = list(states or ["in_progress", "succeeded"])
        self.reason = reason or "Unsupported video format"
        self.media: dict[str, dict[str, Any]] = {}
        self.posts: list[dict[str, Any]] = []
        #: How long an upload session lasts (INIT's ``expires_after_secs``); past it, APPEND
        #: and FINALIZE of that media id are refused (:func:`media_expired_answer`).
        self.expires_after = 86400
        #: Each APPEND in order: (media id, segment index).
        self.appends: list[tuple[str, int]] = []
        #: When a post is made (its ``created_at``); tests with a frozen clock set theirs.
        self.now: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC)

    @staticmethod
    def _field(body: bytes, name: str) -> str:
        marker = f'name="{name}"\r\n\r\n'.encode()
        start = body.index(marker) + len(marker)
        return body[start : body.index(b"\r\n", start)].decode()

    def operation(self, request: httpx.Request) -> str:
        path = request.url.path
        if path == "/2/media/upload":
            if request.method == "GET":
                return request.url.params["command"]
            return self._field(request.content, "command")
        if path == "/2/tweets" and request.method == "POST":
            return "tweets"
        if path.startswith("/2/users/") and path.endswith("/tweets"):
            return "timeline"
        return "unknown"

    def _init(self, request: httpx.Request) -> httpx.Response:
        media_id = str(1_880_028_106_020_515_840 + len(self.media))
        total = int(self._field(request.content, "total_bytes"))
        category = self._field(request.content, "media_category")
        expires = self.now() + dt.timedelta(seconds=self.expires_after)
        self.media[media_id] = {
            "total": total,
            "category": category,
            "segments": {},
            "expires": expires,
        }
        return media_init_answer(media_id, self.expires_after)

    def _expired(self, media_id: str) -> bool:
        return media_id not in self.media or self.now() >= self.media[media_id]["expires"]

    def _append(self, request: httpx.Request) -> httpx.Response:
        media_id = self._field(request.content, "media_id")
        if self._expired(media_id):
            return media_expired_answer(media_id)
        media = self.media[media_id]
        index = int(self._field(request.content, "segment_index"))
        self.appends.append((media_id, index))
        head = request.content.index(b"\r\n\r\n", request.content.index(b'name="media"')) + 4
        chunk = request.content[head : request.content.rindex(b"\r\n--")]
        if len(chunk) > 5 * 1024 * 1024:
            return httpx.Response(400, json={"title": "Bad Request", "detail": "segment > 5 MB"})
        media["segments"][index] = len(chunk)
        return httpx.Response(204)

    def _finalize(self, request: httpx.Request) -> httpx.Response:
        media_id = self._field(request.content, "media_id")
        if self._expired(media_id):
            return media_expired_answer(media_id)
        media = self.media[media_id]
        segments = media["segments"]
        if (
            sorted(segments) != list(range(len(segments)))
            or sum(segments.values()) != media["total"]
        ):
            return httpx.Response(
                400, json={"title": "Bad Request", "detail": "File size does not match"}
            )
        media["state"] = "pending"
        return media_finalize_answer(media_id, "pending")

    def _status(self, request: httpx.Request) -> httpx.Response:
        media_id = request.url.params["media_id"]
        state = self.states.pop(0) if len(self.states) > 1 else self.states[0]
        self.media[media_id]["state"] = state
        return media_status_answer(media_id, state, error=self.reason)

    def _tweets(self, request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        for media_id in (body.get("media") or {}).get("media_ids") or []:
            if self.media.get(media_id, {}).get("state") != "succeeded":
                return httpx.Response(
                    400,
                    json={
                        "title": "Invalid Request",
                        "detail": "One or more parameters to your request was invalid.",
                        "errors": [{"message": "Your media IDs are invalid."}],
                    },
                )
        post_id = str(1_846_987_139_428_634_858 + len(self.posts))
        self.posts.append({"id": post_id, "created_at": self.now(), **body})
        return httpx.Response(201, json={"data": {"id": post_id, "text": body.get("text", "")}})

    def _timeline(self, request: httpx.Request) -> httpx.Response:
        data = []
        for post in reversed(self.posts):
            text, urls = post.get("text", ""), []
            if post.get("media"):
                link = f"https://t.co/{post['id'][-6:]}"
                text = f"{text} {link}".strip()
                key = f"7_{post['media']['media_ids'][0]}"
                urls.append({"url": link, "media_key": key, "start": 0, "end": len(link)})
            data.append(
                {
                    "id": post["id"],
                    "text": text,
                    "created_at": post["created_at"].strftime("%Y-%m-%dT%H:%M:%S.000Z"),
                    "entities": {"urls": urls},
                }
            )
        return httpx.Response(200, json={"data": data, "meta": {"result_count": len(data)}})
