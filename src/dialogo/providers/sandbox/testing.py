"""The sandbox's fixture for the provider contract (:mod:`dialogo.providers.contract`)."""

from __future__ import annotations

import contextlib
import datetime as dt
from collections.abc import Iterator

from dialogo.core.clock import FrozenClock
from dialogo.providers.base import Credentials, Draft, Media, Provider
from dialogo.providers.contract import Check, ContractFixture, Responder
from dialogo.providers.sandbox.provider import DEMO_TOKEN, SandboxProvider

#: A small world: the contract checks validation only, which never builds it.
CONFIG = {"seed": "7", "population": "500", "start": "2026-01-01", "history_days": "10"}
_NO_HTTP = (
    "the sandbox makes no HTTP requests, so there is no answer to script; a wrong token "
    "raises ReauthRequired (tests/providers/sandbox)"
)
PNG = b"\x89PNG\r\n\x1a\n" + b"\0" * 32


def contract_fixture() -> ContractFixture:
    @contextlib.contextmanager
    def connect(responder: Responder) -> Iterator[Provider]:
        provider = SandboxProvider(
            Credentials(access_token=DEMO_TOKEN),
            config=dict(CONFIG),
            clock=FrozenClock(dt.datetime(2026, 1, 12, 10, tzinfo=dt.UTC)),
        )
        try:
            yield provider
        finally:
            provider.close()

    return ContractFixture(
        provider_class=SandboxProvider,
        connect=connect,
        valid_drafts=[
            Draft(text="Nuova collezione di primavera: scoprila in negozio!"),
            Draft(text="x" * 500, media=[Media(PNG, "image/png", alt_text="a jacket")] * 4),
        ],
        invalid_drafts={
            "501 characters": Draft(text="x" * 501),
            "empty": Draft(text="   "),
            "five images": Draft(text="x", media=[Media(PNG, "image/png")] * 5),
            "video": Draft(text="x", media=[Media(b"\0\0\0\x18ftypmp42", "video/mp4")]),
            "image over 5 MB": Draft(text="x", media=[Media(PNG * 200_000, "image/png")]),
            "thread post too long": Draft(text="ok", thread=[Draft(text="y" * 501)]),
        },
        not_applicable={
            Check.unauthorized: _NO_HTTP,
            Check.rate_limited: _NO_HTTP + "; the sandbox has no rate limits",
            Check.server_error: _NO_HTTP,
            Check.read_timeout: _NO_HTTP,
            Check.recent_posts: _NO_HTTP
            + "; its ledger pages like a network (with since, and each post's wall-clock"
            " created_at), tested in tests/providers/sandbox",
        },
    )
