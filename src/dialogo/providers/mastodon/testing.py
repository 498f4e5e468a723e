"""The Mastodon provider's fixture for the provider contract (:mod:`dialogo.providers.contract`),
and :class:`ScriptedAdapter`, a ``requests`` transport adapter answering from a contract
:data:`~dialogo.providers.contract.Responder` (Mastodon.py speaks HTTP through ``requests``,
so the script is mounted on the session the client is given; nothing listens on a port)."""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import urllib.parse
from collections.abc import Iterator, Mapping
from typing import Any

import requests
from requests.adapters import BaseAdapter
from requests.structures import CaseInsensitiveDict

from dialogo.providers.base import Credentials, Draft, Media, Provider
from dialogo.providers.contract import (
    Answer,
    ContractFixture,
    Responder,
    ScriptedRequest,
    listed_at,
    listing_page,
)
from dialogo.providers.mastodon.client import MastodonClient, RecordingSession
from dialogo.providers.mastodon.provider import STATUSES_PAGE, MastodonProvider

INSTANCE = "https://mastodon.example"
ACCOUNT_ID = "109000000000000001"
#: A 1×1 PNG.
PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010802000000907753de0000000c4944415478"
    "9c63f8cfc000000301010018dd8db00000000049454e44ae426082"
)


class ScriptedAdapter(BaseAdapter):
    """Answers every request with ``responder``; a ``timeout`` answer raises
    ``requests.exceptions.ReadTimeout`` as a real adapter does when no answer comes."""

    def __init__(self, responder: Responder) -> None:
        super().__init__()
        self.responder = responder
        self.requests: list[requests.PreparedRequest] = []

    def send(  # type: ignore[override]
        self, request: requests.PreparedRequest, **kwargs: Any
    ) -> requests.Response:
        self.requests.append(request)
        answer = self.responder(ScriptedRequest(request.method or "GET", request.url or ""))
        if answer.timeout:
            raise requests.exceptions.ReadTimeout("scripted: no answer", request=request)
        return _response(request, answer)

    def close(self) -> None:
        pass


def _response(request: requests.PreparedRequest, answer: Answer) -> requests.Response:
    response = requests.Response()
    response.status_code = answer.status
    headers: dict[str, str] = dict(answer.headers)
    if answer.json is not None:
        body = json.dumps(answer.json).encode()
        headers.setdefault("Content-Type", "application/json; charset=utf-8")
    else:
        body = answer.text.encode()
    response._content = body
    response.headers = CaseInsensitiveDict(headers)
    response.encoding = "utf-8"
    response.reason = {200: "OK", 401: "Unauthorized", 429: "Too Many Requests"}.get(
        answer.status, ""
    )
    response.url = request.url or ""
    response.request = request
    return response


def scripted_session(responder: Responder) -> RecordingSession:
    session = RecordingSession()
    adapter = ScriptedAdapter(responder)
    session.mount("https://", adapter)
    session.mount("http://", adapter)
    return session


def scripted_provider(
    responder: Responder,
    *,
    config: Mapping[str, str] | None = None,
    account_id: str | None = ACCOUNT_ID,
) -> MastodonProvider:
    """A provider on :data:`INSTANCE` whose every request is answered by ``responder``."""
    client = MastodonClient(INSTANCE, "contract-token", session=scripted_session(responder))
    return MastodonProvider(
        Credentials(access_token="contract-token", account_id=account_id),  # noqa: S106
        config={"instance_url": INSTANCE, **(config or {})},
        client=client,
    )


def error_answer(status: int) -> Answer:
    # Mastodon's error entity: {"error": "...", "error_description": "..."}
    message = {401: "The access token is invalid", 503: "Service Unavailable"}.get(
        status, "Internal Server Error"
    )
    return Answer(status, json={"error": message})


def rate_limit_answer(wait: float) -> Answer:
    """Mastodon's 429: ``X-RateLimit-Reset`` is an ISO 8601 date (docs: Rate limits)."""
    reset = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=wait)
    return Answer(
        429,
        headers={
            "X-RateLimit-Limit": "300",
            "X-RateLimit-Remaining": "0",
            "X-RateLimit-Reset": reset.isoformat(timespec="microseconds").replace("+00:00", "Z"),
        },
        json={"error": "Too many requests"},
    )


def contract_fixture() -> ContractFixture:
    @contextlib.contextmanager
    def connect(responder: Responder) -> Iterator[Provider]:
        provider = scripted_provider(responder)
        try:
            yield provider
        finally:
            provider.close()

    link = "https://example.com/" + "a" * 200
    return ContractFixture(
        provider_class=MastodonProvider,
        connect=connect,
        valid_drafts=[
            Draft(text="Nuova collezione autunno 🍂 #moda", idempotency_key="contract-1"),
            Draft(text="x" * 476 + " " + link),  # the link counts 23: 500 in all
            Draft(text="@ann@" + "d" * 480 + ".social " + "y" * 490),  # counts as @ann
            Draft(text="", media=[Media(PNG, "image/png", alt_text="a dot")] * 4),
            Draft(text="video", media=[Media(b"\0\0\0\x18ftypmp42", "video/mp4")]),
            Draft(text="first", thread=[Draft(text="second"), Draft(text="third")]),
        ],
        invalid_drafts={
            "501 characters": Draft(text="é" * 501),
            "empty": Draft(text="  "),
            "five images": Draft(text="x", media=[Media(PNG, "image/png")] * 5),
            "image and video": Draft(
                text="x",
                media=[Media(PNG, "image/png"), Media(b"\0\0\0\x18ftypmp42", "video/mp4")],
            ),
            "image over 16 MB": Draft(
                text="x", media=[Media(PNG + b"\0" * (16 * 1024 * 1024), "image/png")]
            ),
            "alt text over 1500": Draft(
                text="x", media=[Media(PNG, "image/png", alt_text="a" * 1501)]
            ),
            "pdf": Draft(text="x", media=[Media(b"%PDF-1.4", "application/pdf")]),
            "thread post too long": Draft(text="ok", thread=[Draft(text="y" * 501)]),
        },
        error_answer=error_answer,
        rate_limit_answer=rate_limit_answer,
        retry_after_tolerance=2.0,
        account_listing=account_statuses,
        listing_cap=STATUSES_PAGE,
    )


def account_statuses(total: int) -> Responder:
    """``GET /api/v1/accounts/:id/statuses`` for an account of ``total`` statuses (the
    contract's :func:`~dialogo.providers.contract.listing_page`): at most 40 (``limit``)
    older than ``max_id``, with a ``Link: <…max_id=…>; rel="next"`` header while older ones
    remain (docs.joinmastodon.org, API guidelines: pagination)."""

    def respond(request: ScriptedRequest) -> Answer:
        url = urllib.parse.urlsplit(request.url)
        if request.method != "GET" or not url.path.endswith(f"/accounts/{ACCOUNT_ID}/statuses"):
            return error_answer(500)
        query = dict(urllib.parse.parse_qsl(url.query))
        older = int(query["max_id"]) - 1000 if "max_id" in query else None
        numbers = listing_page(
            total, older_than=older, count=int(query.get("limit", 20)), cap=STATUSES_PAGE
        )
        statuses = [
            {
                "id": str(1000 + n),
                "created_at": listed_at(n).isoformat().replace("+00:00", ".000Z"),
                "content": f"<p>post {n}</p>",
                "visibility": "public",
                "url": f"{INSTANCE}/@brand/{1000 + n}",
                "in_reply_to_id": None,
            }
            for n in numbers
        ]
        headers = {}
        if numbers and numbers[-1] > 1:
            following = f"{INSTANCE}{url.path}?max_id={1000 + numbers[-1]}&limit={STATUSES_PAGE}"
            headers["Link"] = f'<{following}>; rel="next"'
        return Answer(200, headers=headers, json=statuses)

    return respond
