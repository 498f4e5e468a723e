"""The RSS provider's fixture for the provider contract (:mod:`dialogo.providers.contract`)."""

from __future__ import annotations

import contextlib
import datetime as dt
from collections.abc import Iterator

from dialogo.core.clock import FrozenClock
from dialogo.providers.base import Credentials, Draft, Provider
from dialogo.providers.contract import (
    Check,
    ContractFixture,
    Operation,
    Responder,
    httpx_client,
)
from dialogo.providers.rss.provider import RssProvider

FEED_URL = "https://blog.example.it/feed.xml"
_LISTENING_ONLY = (
    "a feed is a listening-only source: validate() reports every draft as unpublishable and "
    "publish() raises InvalidPayload (tests/providers/rss)"
)


def contract_fixture() -> ContractFixture:
    @contextlib.contextmanager
    def connect(responder: Responder) -> Iterator[Provider]:
        provider = RssProvider(
            Credentials(),
            http=httpx_client(responder),
            config={"url": FEED_URL},
            clock=FrozenClock(dt.datetime(2026, 3, 2, 9, tzinfo=dt.UTC)),
        )
        try:
            yield provider
        finally:
            provider.close()

    return ContractFixture(
        provider_class=RssProvider,
        connect=connect,
        valid_drafts=[],
        invalid_drafts={"any post": Draft(text="Ciao a tutti!")},
        operations=(Operation.verify, Operation.fetch_messages),
        not_applicable={Check.validation: _LISTENING_ONLY},
    )
