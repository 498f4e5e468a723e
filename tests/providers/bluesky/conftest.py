"""The ``bluesky_network`` fixture: a real Bluesky network on 127.0.0.1 (see network.py),
started for this package's tests and stopped after them, or a skip with the reason when
``scripts/setup-bluesky`` has not been run (an error instead when
``DIALOGO_BLUESKY_REQUIRED=1``, as CI sets it)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.providers.bluesky import network


@pytest.fixture(scope="package")
def bluesky_network() -> Iterator[network.BlueskyNetwork]:
    reason = network.unavailable()
    if reason:
        pytest.skip(reason)
    with network.start() as net:
        yield net
