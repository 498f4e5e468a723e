from __future__ import annotations

import datetime as dt

import pytest

from dialogo.core.clock import FrozenClock, SystemClock, ensure_aware, validate_timezone
from dialogo.core.errors import Conflict, DomainError, NotFound, TooManyAttempts


def test_system_clock_is_aware_utc() -> None:
    now = SystemClock().now()
    assert now.utcoffset() == dt.timedelta(0)


def test_frozen_clock() -> None:
    clock = FrozenClock(dt.datetime(2026, 3, 29, 0, 30, tzinfo=dt.UTC))
    assert clock.now() == clock.now()
    assert clock.advance(hours=2) == dt.datetime(2026, 3, 29, 2, 30, tzinfo=dt.UTC)
    with pytest.raises(ValueError, match="timezone-aware"):
        FrozenClock(dt.datetime(2026, 1, 1))


def test_ensure_aware() -> None:
    naive = dt.datetime(2026, 1, 1, 12)
    assert ensure_aware(naive) == dt.datetime(2026, 1, 1, 12, tzinfo=dt.UTC)
    aware = dt.datetime(2026, 1, 1, 12, tzinfo=dt.timezone(dt.timedelta(hours=1)))
    assert ensure_aware(aware) is aware


@pytest.mark.parametrize("name", ["Europe/Rome", "UTC", "America/Argentina/Buenos_Aires"])
def test_known_time_zones(name: str) -> None:
    assert validate_timezone(name) == name


@pytest.mark.parametrize("name", ["Europe/Atlantis", "", "../../etc/passwd", "CET+1"])
def test_unknown_time_zones(name: str) -> None:
    with pytest.raises(ValueError, match="unknown IANA time zone"):
        validate_timezone(name)


def test_domain_errors_carry_code_status_and_message() -> None:
    error = Conflict("the address is taken", code="slug_taken", slug="x")
    assert (str(error), error.code, error.status, error.details) == (
        "the address is taken",
        "slug_taken",
        409,
        {"slug": "x"},
    )
    assert NotFound("gone").code == "not_found"
    assert DomainError("plain").status == 400
    throttled = TooManyAttempts("slow down", retry_after=30)
    assert (throttled.status, throttled.retry_after, throttled.details) == (
        429,
        30,
        {"retry_after": 30},
    )
