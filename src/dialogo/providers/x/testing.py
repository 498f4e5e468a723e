"""The X provider's fixture for the provider contract (:mod:`dialogo.providers.contract`).

Error answers are X's problem documents (``{"title", "detail", "type", "status"}``); a 429
announces its wait in ``x-rate-limit-reset``, an epoch second (so the contract allows a
second of drift)."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator

from dialogo.providers.base import Credentials, Draft, Media, Provider
from dialogo.providers.contract import Answer, ContractFixture, Responder, httpx_client
from dialogo.providers.x.provider import XProvider

TOKEN = "contract-x-user-token"  # noqa: S105 - a made-up token
PNG = b"\x89PNG\r\n\x1a\n" + b"\0" * 32
_TITLES = {401: "Unauthorized", 500: "Internal Server Error", 503: "Service Unavailable"}


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
        ],
        invalid_drafts={
            "281 characters": Draft(text="é" * 281),
            "141 CJK characters": Draft(text="日" * 141),
            "empty": Draft(text="  "),
            "five images": Draft(text="x", media=[Media(PNG, "image/png")] * 5),
            "video": Draft(text="x", media=[Media(b"\0\0\0\x18ftypmp42", "video/mp4")]),
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
    )
