"""Listening fixtures: a brand with a sandbox channel on a small simulated world."""

from __future__ import annotations

import pytest

from dialogo.core.clock import FrozenClock
from dialogo.listening import parallel
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


@pytest.fixture(autouse=True)
def _in_process_enrichment(monkeypatch: pytest.MonkeyPatch) -> None:
    """Ingest enriches in process here: starting the worker pool (listening.parallel) takes
    seconds; tests/listening/test_parallel.py asks for it."""
    monkeypatch.setattr(parallel, "POOL_MIN_POSTS", 10**9)


@pytest.fixture
def sim_clock() -> FrozenClock:
    return FrozenClock(LIVE)
