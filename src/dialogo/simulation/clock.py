"""Simulated time: a clock that runs faster than real time, and DST-correct local hours.

Internally the simulation counts whole seconds since the Unix epoch (UTC). Rhythms are defined
on the *local* hour of the week (Monday 00:00-00:59 local = 0 … Sunday 23:00 = 167) in the
world's IANA time zone; :class:`HourMapper` maps UTC hours to local hours of the week with
``zoneinfo``, so the daylight-saving jumps of the zone are honoured (a person whose evening peak
is at 21:00 in Rome is online at 20:00 UTC in January and at 19:00 UTC in July).
"""

from __future__ import annotations

import datetime as dt
from functools import lru_cache
from zoneinfo import ZoneInfo

import numpy as np
from numpy.typing import NDArray

from dialogo.core.clock import Clock, SystemClock

UTC = dt.UTC
HOURS_PER_WEEK = 168
_EPOCH_WEEKDAY = 3  # 1970-01-01 was a Thursday (Monday = 0)


def to_seconds(when: dt.datetime) -> int:
    """Whole seconds since the epoch of an aware datetime (sub-seconds are dropped)."""
    if when.tzinfo is None:
        raise ValueError("simulation times must be timezone-aware")
    return int(when.timestamp() // 1)


_EPOCH = dt.datetime(1970, 1, 1, tzinfo=UTC)


def ceil_seconds(when: dt.datetime) -> int:
    """Seconds since the epoch rounded up (exact, no float rounding)."""
    if when.tzinfo is None:
        raise ValueError("simulation times must be timezone-aware")
    delta = when - _EPOCH
    micro = (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds
    return -(-micro // 1_000_000)


def from_seconds(seconds: int | np.integer) -> dt.datetime:
    return dt.datetime.fromtimestamp(int(seconds), UTC)


@lru_cache(maxsize=64)
def _zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


@lru_cache(maxsize=4096)
def _week_offsets(tz: str, block: int) -> NDArray[np.int64]:
    """UTC offsets in minutes of the 168 UTC hours of block ``block`` (epoch hour // 168)."""
    zone = _zone(tz)
    first = block * HOURS_PER_WEEK
    offsets = np.empty(HOURS_PER_WEEK, dtype=np.int64)
    for i in range(HOURS_PER_WEEK):
        offset = dt.datetime.fromtimestamp((first + i) * 3600, zone).utcoffset()
        offsets[i] = 0 if offset is None else int(offset.total_seconds() // 60)
    offsets.setflags(write=False)
    return offsets


class HourMapper:
    """Maps UTC epoch hours to local hours of the week in one time zone (DST-correct)."""

    def __init__(self, timezone: str) -> None:
        _zone(timezone)
        self.timezone = timezone

    def offset_minutes(self, epoch_hours: NDArray[np.int64]) -> NDArray[np.int64]:
        hours = np.asarray(epoch_hours, dtype=np.int64)
        blocks = hours // HOURS_PER_WEEK
        out = np.empty(hours.shape, dtype=np.int64)
        for block in np.unique(blocks):
            mask = blocks == block
            out[mask] = _week_offsets(self.timezone, int(block))[hours[mask] - block * 168]
        return out

    def hour_of_week(self, epoch_hours: NDArray[np.int64]) -> NDArray[np.int64]:
        hours = np.asarray(epoch_hours, dtype=np.int64)
        local_hours = (hours * 60 + self.offset_minutes(hours)) // 60
        weekday = (local_hours // 24 + _EPOCH_WEEKDAY) % 7
        result: NDArray[np.int64] = weekday * 24 + local_hours % 24
        return result

    def local_hour_of_week(self, when: dt.datetime) -> int:
        """The local hour of the week of one instant."""
        hour = np.array([to_seconds(when) // 3600], dtype=np.int64)
        return int(self.hour_of_week(hour)[0])

    def to_utc(self, day: dt.date, hour: int, minute: int = 0, second: int = 0) -> dt.datetime:
        """The instant of a local wall-clock time (in a spring-forward gap, the later side)."""
        zone = _zone(self.timezone)
        return dt.datetime(
            day.year, day.month, day.day, hour, minute, second, tzinfo=zone
        ).astimezone(UTC)

    def local_date(self, when: dt.datetime) -> dt.date:
        return when.astimezone(_zone(self.timezone)).date()


class SimClock:
    """Simulated time that runs ``speed`` times faster than real time.

    At real instant ``real_start`` the simulated clock reads ``sim_start``; afterwards one real
    second is ``speed`` simulated seconds. ``now()`` makes it a :class:`dialogo.core.clock.Clock`,
    so services can run on simulated time unchanged.
    """

    def __init__(
        self,
        sim_start: dt.datetime,
        speed: float = 60.0,
        *,
        real_start: dt.datetime | None = None,
        real_clock: Clock | None = None,
    ) -> None:
        if sim_start.tzinfo is None:
            raise ValueError("sim_start must be timezone-aware")
        if speed <= 0:
            raise ValueError("speed must be positive")
        self.real_clock: Clock = real_clock or SystemClock()
        self.sim_start = sim_start
        self.speed = float(speed)
        self.real_start = real_start if real_start is not None else self.real_clock.now()
        if self.real_start.tzinfo is None:
            raise ValueError("real_start must be timezone-aware")

    def to_sim(self, real: dt.datetime) -> dt.datetime:
        return self.sim_start + (real - self.real_start) * self.speed

    def to_real(self, sim: dt.datetime) -> dt.datetime:
        return self.real_start + (sim - self.sim_start) / self.speed

    def now(self) -> dt.datetime:
        return self.to_sim(self.real_clock.now())

    def __repr__(self) -> str:
        return f"SimClock(sim_start={self.sim_start.isoformat()}, speed={self.speed:g})"
