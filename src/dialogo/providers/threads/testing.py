"""The Threads provider's fixture for the provider contract (:mod:`dialogo.providers.contract`).

Threads answers errors as Graph API error objects (an invalid token is code 190 on an HTTP
400); a rate limit is code 4 with the wait Meta estimates in ``X-Business-Use-Case-Usage``
(``estimated_time_to_regain_access``, in minutes)."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from typing import Any

from dialogo.providers.base import Credentials, Draft, Media, Provider, RemoteRef
from dialogo.providers.contract import Answer, ContractFixture, Responder, httpx_client
from dialogo.providers.meta.testing import graph_listing
from dialogo.providers.threads.provider import THREADS_PAGE, ThreadsProvider

USER_ID = "25000000000000001"
TOKEN = "contract-threads-token"  # noqa: S105 - a made-up token
JPEG = b"\xff\xd8\xff\xe0" + b"\0" * 32
URL = "https://media.dialogo.example/m/abc.jpg"
_GRAPH = {
    401: (190, "Error validating access token: Session has expired"),
    500: (2, "An unexpected error has occurred. Please retry your request later."),
    503: (2, "Service temporarily unavailable"),
}


def error_answer(status: int) -> Answer:
    code, message = _GRAPH.get(status, (1, "An unknown error occurred"))
    return Answer(
        status if status != 401 else 400,
        json={"error": {"message": message, "type": "OAuthException", "code": code}},
    )


def rate_limit_answer(wait: float) -> Answer:
    usage = {
        USER_ID: [
            {"type": "threads", "call_count": 100, "estimated_time_to_regain_access": wait / 60.0}
        ]
    }
    return Answer(
        400,
        headers={"X-Business-Use-Case-Usage": json.dumps(usage)},
        json={
            "error": {
                "message": "Application request limit reached",
                "type": "OAuthException",
                "code": 4,
                "is_transient": True,
            }
        },
    )


def contract_fixture() -> ContractFixture:
    @contextlib.contextmanager
    def connect(responder: Responder) -> Iterator[Provider]:
        provider = ThreadsProvider(
            Credentials(access_token=TOKEN, account_id=USER_ID),
            http=httpx_client(responder),
            config={"client_id": "contract-app"},
        )
        try:
            yield provider
        finally:
            provider.close()

    image = Media(JPEG, "image/jpeg", alt_text="una tazza", url=URL)
    return ContractFixture(
        provider_class=ThreadsProvider,
        connect=connect,
        valid_drafts=[
            Draft(text="Nuova miscela autunnale, da provare"),
            Draft(text="é" * 500),
            Draft(text="☕" * 166),  # an emoji counts its 3 UTF-8 bytes: 498
            Draft(text="", media=[image]),
            Draft(text="album", media=[image] * 20),
            Draft(text="uno", thread=[Draft(text="due"), Draft(text="tre")]),
            Draft(text="Grazie!", reply_to=RemoteRef("18000000000000001")),
        ],
        invalid_drafts={
            "501 characters": Draft(text="é" * 501),
            "168 emoji": Draft(text="☕" * 168),
            "empty": Draft(text="  "),
            "gif": Draft(text="x", media=[Media(b"GIF89a", "image/gif", url=URL)]),
            "no public url": Draft(text="x", media=[Media(JPEG, "image/jpeg")]),
            "21 items": Draft(text="x", media=[image] * 21),
            "thread post too long": Draft(text="ok", thread=[Draft(text="y" * 501)]),
            "media later in a thread": Draft(text="ok", thread=[Draft(text="y", media=[image])]),
        },
        error_answer=error_answer,
        rate_limit_answer=rate_limit_answer,
        retry_after_tolerance=0.5,
        # Threads documents cursors only: the end of the listing is an empty page
        account_listing=graph_listing(
            "threads", "text", "timestamp", THREADS_PAGE, next_links=False
        ),
        listing_cap=THREADS_PAGE,
    )


# -- webhook notifications, written from Meta's "Webhooks for Threads" -------------------------

APP_ID = "990602627938098"
USERNAME = "caffeaurora"


def notification(
    field: str, value: dict[str, Any], *, target_id: str, listed: bool = False
) -> bytes:
    """A Threads notification as Meta sends it (``values`` a single object, or a list as
    some live deliveries have it)."""
    values: Any = {"value": value, "field": field}
    return json.dumps(
        {
            "app_id": APP_ID,
            "topic": "interaction" if field in ("mentions", "publish") else "moderate",
            "target_id": target_id,
            "time": 1_790_000_000,
            "subscription_id": "234567",
            "has_uid_field": False,
            "values": [values] if listed else values,
        }
    ).encode()


def reply_value(
    reply_id: str,
    text: str,
    *,
    username: str = "giulia.b",
    root: str = "18000000000000001",
    parent: str | None = None,
    owner: str = USER_ID,
    timestamp: str = "2026-12-01T10:33:16+0000",
) -> dict[str, Any]:
    """The reply object of a ``replies`` notification (on a post of ``owner``)."""
    return {
        "id": reply_id,
        "username": username,
        "text": text,
        "media_type": "TEXT_POST",
        "permalink": f"https://www.threads.net/@{username}/post/Pp{reply_id[-4:]}",
        "replied_to": {"id": parent or root},
        "root_post": {"id": root, "owner_id": owner, "username": USERNAME},
        "shortcode": f"Pp{reply_id[-4:]}",
        "timestamp": timestamp,
    }


def mention_value(post_id: str, text: str, *, username: str = "marco.r") -> dict[str, Any]:
    """The media object of a ``mentions`` notification (a post naming the account)."""
    return {
        "id": post_id,
        "has_replies": False,
        "is_quote_post": False,
        "is_reply": False,
        "media_product_type": "THREADS",
        "media_type": "TEXT_POST",
        "permalink": f"https://www.threads.net/@{username}/post/Mm{post_id[-4:]}",
        "shortcode": f"Mm{post_id[-4:]}",
        "text": text,
        "timestamp": "2026-12-01T11:00:00+0000",
        "username": username,
    }
