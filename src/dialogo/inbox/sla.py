"""Business hours and response-time targets: pure functions, no session.

Business hours are wall-clock intervals per weekday in the workspace's IANA time zone
(``{"mon": [["09:00", "18:00"]], …}``; a missing day is closed; no days at all means always
open). Every interval is turned into real UTC instants day by day with ``zoneinfo``, so a day
on which the clocks change is as long as it really is (23 or 25 hours for a 00:00–24:00 day),
and a wall-clock time that does not exist (the skipped hour) starts when the clocks resume.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import statistics
from collections.abc import Iterator, Mapping, Sequence
from typing import Any
from zoneinfo import ZoneInfo

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
#: How far ahead a due time is looked for (a workspace open one hour a week still fits).
HORIZON_DAYS = 400

Hours = Mapping[str, Sequence[Sequence[str]]]


def _local(day: dt.date, hhmm: str, zone: ZoneInfo) -> dt.datetime:
    """The UTC instant of a wall-clock time on a day (24:00 is the next midnight)."""
    hours, minutes = (int(part) for part in hhmm.split(":"))
    if hours == 24:
        naive = dt.datetime.combine(day + dt.timedelta(days=1), dt.time(0, minutes))
    else:
        naive = dt.datetime.combine(day, dt.time(hours, minutes))
    aware = naive.replace(tzinfo=zone)
    # A time in the gap of a spring-forward does not exist: round trip through UTC moves it
    # to when the clocks resume (02:30 that never happened → 03:00 local).
    utc = aware.astimezone(dt.UTC)
    back = utc.astimezone(zone).replace(tzinfo=None)
    if back != naive:
        gap_end = naive.replace(minute=0) + dt.timedelta(hours=1)
        utc = gap_end.replace(tzinfo=zone).astimezone(dt.UTC)
    return utc


def open_intervals(
    start: dt.datetime, end: dt.datetime, hours: Hours, timezone: str
) -> Iterator[tuple[dt.datetime, dt.datetime]]:
    """The business-hour intervals (UTC) that overlap ``[start, end)``, in order."""
    if not hours:
        if end > start:
            yield start, end
        return
    zone = ZoneInfo(timezone)
    day = start.astimezone(zone).date() - dt.timedelta(days=1)  # an interval may reach past 24:00
    last = end.astimezone(zone).date()
    while day <= last:
        intervals = sorted((str(i[0]), str(i[1])) for i in hours.get(DAYS[day.weekday()], ()))
        for opening, closing in intervals:
            lo, hi = _local(day, opening, zone), _local(day, closing, zone)
            lo, hi = max(lo, start), min(hi, end)
            if hi > lo:
                yield lo, hi
        day += dt.timedelta(days=1)


def business_seconds(start: dt.datetime, end: dt.datetime, hours: Hours, timezone: str) -> float:
    """Seconds of business hours between two instants (0 if ``end`` is not after ``start``)."""
    return sum((hi - lo).total_seconds() for lo, hi in open_intervals(start, end, hours, timezone))


def due_at(start: dt.datetime, minutes: float, hours: Hours, timezone: str) -> dt.datetime:
    """The instant at which ``minutes`` of business hours have passed since ``start``."""
    left = dt.timedelta(minutes=minutes)
    if not hours:
        return start + left
    cursor = start
    for _ in range(HORIZON_DAYS // 7 + 1):
        window_end = cursor + dt.timedelta(days=7)
        for lo, hi in open_intervals(cursor, window_end, hours, timezone):
            if hi - lo >= left:
                return lo + left
            left -= hi - lo
        cursor = window_end
    raise ValueError("no business hours within the horizon: check the workspace's hours")


@dataclasses.dataclass(frozen=True)
class Target:
    due: dt.datetime
    met: bool | None  # None: not answered yet and not late yet
    late: bool


def first_response_target(
    first_inbound: dt.datetime,
    first_response: dt.datetime | None,
    *,
    minutes: int,
    hours: Hours,
    timezone: str,
    now: dt.datetime,
) -> Target:
    due = due_at(first_inbound, minutes, hours, timezone)
    if first_response is not None:
        return Target(due, first_response <= due, first_response > due)
    return Target(due, None, now > due)


@dataclasses.dataclass(frozen=True)
class Stats:
    count: int
    median_seconds: float | None
    p90_seconds: float | None
    mean_seconds: float | None
    within_target: float | None  # share answered within the target

    def as_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def stats(durations: Sequence[float], *, target_seconds: float | None = None) -> Stats:
    """Summary of response times in seconds (business time when computed with hours)."""
    if not durations:
        return Stats(0, None, None, None, None)
    ordered = sorted(durations)
    p90 = ordered[min(len(ordered) - 1, round(0.9 * (len(ordered) - 1)))]
    within = (
        sum(1 for d in ordered if d <= target_seconds) / len(ordered)
        if target_seconds is not None
        else None
    )
    return Stats(
        count=len(ordered),
        median_seconds=float(statistics.median(ordered)),
        p90_seconds=float(p90),
        mean_seconds=float(statistics.fmean(ordered)),
        within_target=within,
    )
