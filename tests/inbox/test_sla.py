"""Business hours and response-time targets, in the workspace's time zone, across DST."""

from __future__ import annotations

import datetime as dt

import pytest

from dialogo.inbox import sla

ROME = "Europe/Rome"
EVERY_DAY_9_18 = {day: [["09:00", "18:00"]] for day in sla.DAYS}
UTC = dt.UTC


def utc(*args: int) -> dt.datetime:
    return dt.datetime(*args, tzinfo=UTC)


def test_due_time_skips_the_night_and_honours_spring_forward() -> None:
    # Saturday 28 March 2026, 17:30 in Rome (UTC+1); the clocks go forward that night.
    asked = utc(2026, 3, 28, 16, 30)
    due = sla.due_at(asked, 60, EVERY_DAY_9_18, ROME)
    # 30 minutes on Saturday, 30 on Sunday from 09:00 Rome, which is now UTC+2 (07:00 UTC).
    assert due == utc(2026, 3, 29, 7, 30)
    assert sla.business_seconds(asked, due, EVERY_DAY_9_18, ROME) == 3600
    # Without the time zone change (naive +1 h offset) the answer would be 08:30 UTC.
    assert due.astimezone(dt.timezone(dt.timedelta(hours=2))).hour == 9


def test_fall_back_day_is_25_hours_long() -> None:
    always = {day: [["00:00", "24:00"]] for day in sla.DAYS}
    # Sunday 25 October 2026 in Rome: 00:00 CEST → 24:00 CET.
    start = dt.datetime(2026, 10, 25, tzinfo=dt.timezone(dt.timedelta(hours=2)))
    end = dt.datetime(2026, 10, 26, tzinfo=dt.timezone(dt.timedelta(hours=1)))
    assert sla.business_seconds(start, end, always, ROME) == 25 * 3600
    # A day with the hour 02:00–03:00 twice: business hours 01:00–04:00 last four real hours.
    night = {"sun": [["01:00", "04:00"]]}
    assert sla.business_seconds(utc(2026, 10, 24), utc(2026, 10, 26), night, ROME) == 4 * 3600


def test_an_opening_time_in_the_skipped_hour_starts_when_the_clocks_resume() -> None:
    hours = {"sun": [["02:30", "05:00"]]}  # 02:30 does not exist on 29 March 2026 in Rome
    seconds = sla.business_seconds(utc(2026, 3, 28), utc(2026, 3, 30), hours, ROME)
    assert seconds == 2 * 3600  # 03:00 → 05:00 local


def test_weekends_closed_and_no_hours_means_always_open() -> None:
    weekdays = {day: [["09:00", "13:00"], ["14:00", "18:00"]] for day in sla.DAYS[:5]}
    friday_evening = utc(2026, 6, 5, 15, 0)  # 17:00 Rome (UTC+2)
    assert sla.due_at(friday_evening, 120, weekdays, ROME) == utc(2026, 6, 8, 8, 0)  # Mon 10:00
    assert sla.due_at(friday_evening, 120, {}, ROME) == friday_evening + dt.timedelta(hours=2)
    with pytest.raises(ValueError):
        sla.due_at(friday_evening, 60, {"mon": []}, ROME)


def test_targets_and_statistics() -> None:
    asked = utc(2026, 6, 1, 8, 0)  # Monday 10:00 Rome
    target = sla.first_response_target(
        asked,
        asked + dt.timedelta(minutes=50),
        minutes=60,
        hours=EVERY_DAY_9_18,
        timezone=ROME,
        now=asked,
    )
    assert target.met is True and not target.late
    pending = sla.first_response_target(
        asked,
        None,
        minutes=60,
        hours=EVERY_DAY_9_18,
        timezone=ROME,
        now=asked + dt.timedelta(hours=2),
    )
    assert pending.met is None and pending.late
    s = sla.stats([60, 120, 180, 240, 3600], target_seconds=300)
    assert (s.count, s.median_seconds, s.p90_seconds, s.within_target) == (5, 180, 3600, 0.8)
    assert sla.stats([]).count == 0
