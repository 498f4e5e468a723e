"""Listening fixtures: a brand with a sandbox channel on a small simulated world."""

from __future__ import annotations

import pytest

from dialogo.core.clock import FrozenClock
from tests.sandbox_brand import (  # noqa: F401 - fixtures used by this package's tests
    CONFIG,
    LIVE,
    Brand,
    _fresh_ledgers,
    brand,
    cipher,
    clocked_sandbox,
    providers,
)


@pytest.fixture
def sim_clock() -> FrozenClock:
    return FrozenClock(LIVE)
