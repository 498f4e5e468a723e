"""The Facebook provider's fixture for the provider contract (:mod:`dialogo.providers.contract`).

Error answers are Graph API error objects (Meta's "Handling errors" guide: an expired token is
code 190 on an HTTP 400); a rate limit is code 32 (Page-level) with the wait Meta estimates in
``X-Business-Use-Case-Usage`` (``estimated_time_to_regain_access``, in minutes)."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator

from dialogo.providers.base import Credentials, Draft, Media, Provider, RemoteRef
from dialogo.providers.contract import Answer, ContractFixture, Responder, httpx_client
from dialogo.providers.facebook.provider import POSTS_PAGE, FacebookProvider
from dialogo.providers.meta.testing import graph_listing

PAGE_ID = "104512345678901"
TOKEN = "contract-facebook-page-token"  # noqa: S105 - a made-up token
JPEG = b"\xff\xd8\xff\xe0" + b"\0" * 32
URL = "https://media.dialogo.example/m/abc.jpg"
_GRAPH = {
    401: (190, "Error validating access token: The session has been invalidated."),
    500: (2, "An unexpected error has occurred. Please retry your request later."),
    503: (2, "Service temporarily unavailable"),
}


def error_answer(status: int) -> Answer:
    code, message = _GRAPH.get(status, (1, "An unknown error occurred"))
    return Answer(
        status if status != 401 else 400,
        json={
            "error": {"message": message, "type": "OAuthException", "code": code, "fbtrace_id": "A"}
        },
    )


def rate_limit_answer(wait: float) -> Answer:
    usage = {
        PAGE_ID: [
            {
                "type": "pages",
                "call_count": 100,
                "total_cputime": 20,
                "total_time": 25,
                "estimated_time_to_regain_access": wait / 60.0,
            }
        ]
    }
    return Answer(
        400,
        headers={"X-Business-Use-Case-Usage": json.dumps(usage)},
        json={
            "error": {
                "message": "(#32) Page request limit reached",
                "type": "OAuthException",
                "code": 32,
                "fbtrace_id": "A",
            }
        },
    )


def contract_fixture() -> ContractFixture:
    @contextlib.contextmanager
    def connect(responder: Responder) -> Iterator[Provider]:
        provider = FacebookProvider(
            Credentials(
                access_token=TOKEN,
                account_id=PAGE_ID,
                extra={"token_kind": "page", "user_token": "contract-user-token"},
            ),
            http=httpx_client(responder),
            config={"client_id": "contract-app", "page_id": PAGE_ID},
        )
        try:
            yield provider
        finally:
            provider.close()

    photo = Media(JPEG, "image/jpeg", url=URL)
    return ContractFixture(
        provider_class=FacebookProvider,
        connect=connect,
        valid_drafts=[
            Draft(text="Nuova miscela autunnale ☕ https://caffeaurora.example/autunno"),
            Draft(text="é" * 63_206),
            Draft(text="", media=[photo]),
            Draft(text="Album", media=[photo] * 10),
            Draft(text="Grazie!", reply_to=RemoteRef("104512345678901_987_123")),
        ],
        invalid_drafts={
            "over 63206 characters": Draft(text="é" * 63_207),
            "empty": Draft(text="  "),
            "video": Draft(text="x", media=[Media(b"\0\0\0\x18ftypmp42", "video/mp4", url=URL)]),
            "webp": Draft(text="x", media=[Media(b"RIFF", "image/webp", url=URL)]),
            "no public url": Draft(text="x", media=[Media(JPEG, "image/jpeg")]),
            "photo over 4 MB": Draft(
                text="x", media=[Media(JPEG + b"\0" * (4 * 1024 * 1024), "image/jpeg", url=URL)]
            ),
            "eleven photos": Draft(text="x", media=[photo] * 11),
            "a thread": Draft(text="x", thread=[Draft(text="y")]),
        },
        error_answer=error_answer,
        rate_limit_answer=rate_limit_answer,
        retry_after_tolerance=0.5,
        account_listing=graph_listing("published_posts", "message", "created_time", POSTS_PAGE),
        listing_cap=POSTS_PAGE,
    )
