"""An idle worker sleeps until the next queued job falls due (at most the poll interval), so
a job queued for a known moment (a publishing lane for the next due post) starts on time."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from dialogo.core.clock import FrozenClock
from dialogo.jobs import service as jobs
from dialogo.jobs.registry import JobContext, TaskRegistry
from dialogo.worker.runner import Worker
from tests.worker.support import LiveDb

T0 = dt.datetime(2026, 3, 1, 12, 0, tzinfo=dt.UTC)


def test_an_idle_worker_sleeps_until_the_next_queued_job_not_a_whole_poll(
    live_db: LiveDb,
) -> None:
    registry = TaskRegistry()

    @registry.task("test.noop")
    def noop(ctx: JobContext, _payload: dict[str, Any]) -> None:
        return None

    clock = FrozenClock(T0)
    settings = live_db.settings.model_copy(update={"worker_poll_seconds": 5.0})
    worker = Worker(settings, live_db.factory, registry, clock=clock, worker_id="h:1:idle")
    assert worker._idle_pause() == 5.0  # nothing queued: the poll interval
    with live_db.write() as session:
        jobs.enqueue(session, "test.noop", run_at=T0 + dt.timedelta(minutes=10))
        jobs.enqueue(session, "test.other", run_at=T0)  # not this worker's task
    assert worker._idle_pause() == 5.0  # the next job of its own is further than a poll
    with live_db.write() as session:
        jobs.enqueue(session, "test.noop", run_at=T0 + dt.timedelta(seconds=0.3))
    assert worker._idle_pause() == pytest.approx(0.3)  # wakes when that one falls due
    clock.advance(seconds=1)
    assert 0 < worker._idle_pause() < 0.1  # due already: claimed at once, no pause
    assert worker.run_once() == 1
