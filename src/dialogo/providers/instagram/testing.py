"""The Instagram provider's fixture for the provider contract (:mod:`dialogo.providers.contract`).

Error answers are Graph API error objects; a rate limit is code 4 with the wait Meta estimates
in ``X-Business-Use-Case-Usage`` (``estimated_time_to_regain_access``, in minutes)."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator

from dialogo.providers.base import Credentials, Draft, Media, Provider, RemoteRef
from dialogo.providers.contract import Answer, ContractFixture, Responder, httpx_client
from dialogo.providers.instagram.provider import MEDIA_PAGE, InstagramProvider
from dialogo.providers.meta.testing import graph_listing

TOKEN = "contract-instagram-token"  # noqa: S105 - a made-up token
JPEG = b"\xff\xd8\xff\xe0" + b"\0" * 32
URL = "https://media.dialogo.example/m/abc.jpg"
_GRAPH = {
    401: (190, "OAuthException", "Error validating access token: Session has expired"),
    500: (
        2,
        "OAuthException",
        "An unexpected error has occurred. Please retry your request later.",
    ),
    503: (2, "OAuthException", "Service temporarily unavailable"),
}


def error_answer(status: int) -> Answer:
    code, kind, message = _GRAPH.get(status, (1, "OAuthException", "An unknown error occurred"))
    return Answer(
        status if status != 401 else 400,
        json={"error": {"message": message, "type": kind, "code": code, "fbtrace_id": "Axyz"}},
    )


def rate_limit_answer(wait: float) -> Answer:
    usage = {
        "17841400000000000": [
            {
                "type": "instagram",
                "call_count": 100,
                "total_cputime": 10,
                "total_time": 12,
                "estimated_time_to_regain_access": wait / 60.0,
            }
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
                "fbtrace_id": "Axyz",
            }
        },
    )


def contract_fixture() -> ContractFixture:
    @contextlib.contextmanager
    def connect(responder: Responder) -> Iterator[Provider]:
        provider = InstagramProvider(
            Credentials(access_token=TOKEN, account_id="17841400000000000"),
            http=httpx_client(responder),
            config={"client_id": "contract-app"},
        )
        try:
            yield provider
        finally:
            provider.close()

    image = Media(JPEG, "image/jpeg", alt_text="una tazza", url=URL)
    return ContractFixture(
        provider_class=InstagramProvider,
        connect=connect,
        valid_drafts=[
            Draft(text="Nuova miscela autunnale ☕ #caffè", media=[image]),
            Draft(text="é" * 2200, media=[image] * 10),
            Draft(text="", media=[Media(b"\0\0\0\x18ftypmp42", "video/mp4", url=URL)]),
            Draft(text="Grazie!", reply_to=RemoteRef("17890000000000001")),
        ],
        invalid_drafts={
            "caption over 2200": Draft(text="é" * 2201, media=[image]),
            "no media": Draft(text="solo testo"),
            "png": Draft(text="x", media=[Media(b"\x89PNG\r\n\x1a\n", "image/png", url=URL)]),
            "no public url": Draft(text="x", media=[Media(JPEG, "image/jpeg")]),
            "eleven images": Draft(text="x", media=[image] * 11),
            "video in an album": Draft(
                text="x", media=[image, Media(b"\0\0\0\x18ftypmp42", "video/mp4", url=URL)]
            ),
            "31 hashtags": Draft(text=" ".join(f"#t{i}" for i in range(31)), media=[image]),
            "a thread": Draft(text="x", media=[image], thread=[Draft(text="y")]),
        },
        error_answer=error_answer,
        rate_limit_answer=rate_limit_answer,
        retry_after_tolerance=0.5,
        account_listing=graph_listing("media", "caption", "timestamp", MEDIA_PAGE),
        listing_cap=MEDIA_PAGE,
    )
