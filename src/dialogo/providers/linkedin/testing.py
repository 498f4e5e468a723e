"""The LinkedIn provider's fixture for the provider contract (:mod:`dialogo.providers.contract`).

Error answers are LinkedIn's ``{"status", "serviceErrorCode", "code", "message"}``; a 429
here carries ``Retry-After`` (LinkedIn's daily limits usually come without it, and then the
provider waits until midnight UTC: see :mod:`dialogo.providers.linkedin.client`)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from dialogo.providers.base import Credentials, Draft, Media, Provider, RemoteRef
from dialogo.providers.contract import Answer, ContractFixture, Responder, httpx_client
from dialogo.providers.linkedin.provider import LinkedInProvider

TOKEN = "contract-linkedin-token"  # noqa: S105 - a made-up token
PNG = b"\x89PNG\r\n\x1a\n" + b"\0" * 32
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
            "video": Draft(text="x", media=[Media(b"\0\0\0\x18ftypmp42", "video/mp4")]),
            "webp": Draft(text="x", media=[Media(b"RIFF", "image/webp")]),
            "21 images": Draft(text="x", media=[png] * 21),
            "alt text over 4086": Draft(text="x", media=[Media(PNG, "image/png", "a" * 4087)]),
            "a thread": Draft(text="x", thread=[Draft(text="y")]),
        },
        error_answer=error_answer,
        rate_limit_answer=rate_limit_answer,
    )
