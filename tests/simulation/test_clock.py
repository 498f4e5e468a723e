"""Local hours of the week honour daylight saving; the simulated clock runs faster."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import numpy as np
import pytest

from dialogo.core.clock import FrozenClock
from dialogo.simulation import HourMapper, SimClock, World
from dialogo.simulation.clock import to_seconds

ROME = ZoneInfo("Europe/Rome")


@pytest.mark.parametrize("tz", ["Europe/Rome", "America/New_York", "Asia/Kolkata", "UTC"])
def test_hour_of_week_matches_zoneinfo_for_a_whole_year(tz: str) -> None:
    mapper = HourMapper(tz)
    zone = ZoneInfo(tz)
    first = to_seconds(dt.datetime(2026, 1, 1, tzinfo=dt.UTC)) // 3600
    hours = np.arange(first, first + 366 * 24, dtype=np.int64)
    got = mapper.hour_of_week(hours)
    expected = []
    for h in hours[::7]:  # every 7th hour covers every hour of the week and both DST changes
        local = dt.datetime.fromtimestamp(int(h) * 3600, zone)
        expected.append(local.weekday() * 24 + local.hour)
    assert got[::7].tolist() == expected


def test_dst_moves_local_peaks_in_utc() -> None:
    mapper = HourMapper("Europe/Rome")
    winter = dt.datetime(2026, 1, 14, 20, tzinfo=dt.UTC)  # a Wednesday, 21:00 in Rome
    summer = dt.datetime(2026, 7, 15, 19, tzinfo=dt.UTC)  # a Wednesday, 21:00 in Rome
    assert mapper.local_hour_of_week(winter) == 2 * 24 + 21
    assert mapper.local_hour_of_week(summer) == 2 * 24 + 21
    # Around the spring change (29 March 2026, 01:00 UTC) local time jumps 02:00 → 03:00.
    before = dt.datetime(2026, 3, 29, 0, 30, tzinfo=dt.UTC)
    after = dt.datetime(2026, 3, 29, 1, 30, tzinfo=dt.UTC)
    assert mapper.local_hour_of_week(before) == 6 * 24 + 1
    assert mapper.local_hour_of_week(after) == 6 * 24 + 3
    # And back in autumn (25 October 2026, 01:00 UTC): 02:00 local happens twice.
    first = dt.datetime(2026, 10, 25, 0, 30, tzinfo=dt.UTC)
    second = dt.datetime(2026, 10, 25, 1, 30, tzinfo=dt.UTC)
    assert mapper.local_hour_of_week(first) == mapper.local_hour_of_week(second) == 6 * 24 + 2


def test_to_utc_and_online_probability_follow_local_time(world: World) -> None:
    mapper = world.mapper
    assert mapper.to_utc(dt.date(2026, 1, 14), 21) == dt.datetime(2026, 1, 14, 20, tzinfo=dt.UTC)
    assert mapper.to_utc(dt.date(2026, 7, 15), 21) == dt.datetime(2026, 7, 15, 19, tzinfo=dt.UTC)
    families = world.segment_index("families")  # peak at 21:00 local on weekdays
    winter = [
        world.online_probability(families, dt.datetime(2026, 1, 14, h, tzinfo=dt.UTC))
        for h in range(24)
    ]
    summer = [
        world.online_probability(families, dt.datetime(2026, 7, 15, h, tzinfo=dt.UTC))
        for h in range(24)
    ]
    assert int(np.argmax(winter)) == 20
    assert int(np.argmax(summer)) == 19


def test_sim_clock_runs_faster_than_real_time() -> None:
    real = FrozenClock(dt.datetime(2026, 5, 1, 12, tzinfo=dt.UTC))
    sim_start = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    clock = SimClock(sim_start, speed=60, real_clock=real)
    assert clock.now() == sim_start
    real.advance(minutes=2)
    assert clock.now() == sim_start + dt.timedelta(hours=2)
    assert clock.to_real(clock.now()) == real.now()
    with pytest.raises(ValueError):
        SimClock(dt.datetime(2026, 1, 1), speed=10)
    with pytest.raises(ValueError):
        SimClock(sim_start, speed=0)
