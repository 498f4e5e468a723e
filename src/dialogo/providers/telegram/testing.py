"""The Telegram provider's fixture for the provider contract (:mod:`dialogo.providers.contract`).

Error answers are written the way the Bot API documents them: ``{"ok": false, "error_code":
..., "description": ...}``, and flood control as ``429 Too Many Requests: retry after N`` with
``parameters.retry_after`` (no ``Retry-After`` header)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from dialogo.providers.base import Credentials, Draft, Media, Provider
from dialogo.providers.contract import Answer, ContractFixture, Responder, httpx_client
from dialogo.providers.telegram.provider import TelegramProvider

TOKEN = "123456789:AAHcontract-token_0123456789abcdefghi"  # noqa: S105 - a made-up token
CHAT = "@dialogo_contract"
#: The smallest PNG header the validation looks at (the contract never uploads it).
PNG = b"\x89PNG\r\n\x1a\n" + b"\0" * 32

_DESCRIPTIONS = {
    400: "Bad Request: chat not found",
    401: "Unauthorized",
    403: "Forbidden: bot is not a member of the channel chat",
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
}


def error_answer(status: int) -> Answer:
    description = _DESCRIPTIONS.get(status, f"Error {status}")
    return Answer(status, json={"ok": False, "error_code": status, "description": description})


def rate_limit_answer(wait: float) -> Answer:
    seconds = int(wait)
    return Answer(
        429,
        json={
            "ok": False,
            "error_code": 429,
            "description": f"Too Many Requests: retry after {seconds}",
            "parameters": {"retry_after": seconds},
        },
    )


def contract_fixture() -> ContractFixture:
    @contextlib.contextmanager
    def connect(responder: Responder) -> Iterator[Provider]:
        provider = TelegramProvider(
            Credentials(
                access_token=TOKEN, account_id="123456789", extra={"username": "dialogo_bot"}
            ),
            http=httpx_client(responder),
            config={"chat_id": CHAT},
        )
        try:
            yield provider
        finally:
            provider.close()

    return ContractFixture(
        provider_class=TelegramProvider,
        connect=connect,
        valid_drafts=[
            Draft(text="Nuova collezione autunno 🍂 #moda"),
            Draft(text="👍" * 2048),  # 4096 UTF-16 code units exactly
            Draft(text="a" * 1024, media=[Media(PNG, "image/png")] * 10),
        ],
        invalid_drafts={
            "4097 UTF-16 code units": Draft(text="a" + "👍" * 2048),
            "empty": Draft(text="  "),
            "caption over 1024": Draft(text="é" * 1025, media=[Media(PNG, "image/png")]),
            "eleven images": Draft(text="x", media=[Media(PNG, "image/png")] * 11),
            "image over 10 MB": Draft(
                text="x", media=[Media(PNG + b"\0" * (10 * 1024 * 1024), "image/png")]
            ),
            "video": Draft(text="x", media=[Media(b"\0\0\0\x18ftypmp42", "video/mp4")]),
            "a thread": Draft(text="ok", thread=[Draft(text="and then")]),
        },
        error_answer=error_answer,
        rate_limit_answer=rate_limit_answer,
    )
