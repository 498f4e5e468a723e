"""The worker loop's idle round is one transaction: the housekeeping (exhausted jobs failed,
periodic tasks queued), the claim and the next queued job's time read together; and a
worker freezes the heap it starts with, once per process."""

from __future__ import annotations

import datetime as dt
import gc
from typing import Any

import pytest
from sqlalchemy import event

from dialogo.core.clock import FrozenClock
from dialogo.jobs import service as jobs
from dialogo.jobs.registry import JobContext, TaskRegistry
from dialogo.worker import runner
from dialogo.worker.runner import Worker
from tests.worker.support import LiveDb

T0 = dt.datetime(2026, 3, 1, 12, 0, 1, tzinfo=dt.UTC)


def _registry() -> TaskRegistry:
    registry = TaskRegistry()

    @registry.task("test.idle.tick", every=dt.timedelta(seconds=5))
    def tick(ctx: JobContext, _payload: dict[str, Any]) -> None:
        return None

    @registry.task("test.idle.noop")
    def noop(ctx: JobContext, _payload: dict[str, Any]) -> None:
        return None

    return registry


def test_an_idle_round_is_one_transaction_and_keeps_its_work(live_db: LiveDb) -> None:
    clock = FrozenClock(T0)
    settings = live_db.settings.model_copy(update={"worker_poll_seconds": 5.0})
    worker = Worker(settings, live_db.factory, _registry(), clock=clock, worker_id="h:1:idle")
    with live_db.write() as session:
        jobs.enqueue(session, "test.idle.noop", run_at=T0 + dt.timedelta(seconds=3))
        # On its last attempt with its lease run out: the housekeeping fails it.
        stuck = jobs.enqueue(session, "test.idle.noop", run_at=T0, max_attempts=1)
    with live_db.write() as session:
        [claim] = jobs.claim(session, "gone", lease=dt.timedelta(seconds=1), now=T0)
        assert claim.job_id == stuck.id
    clock.advance(seconds=2)
    commits: list[object] = []
    counted = commits.append
    event.listen(live_db.engine, "commit", counted)
    try:
        # The periodic tick is queued and claimed in the same round.
        assert worker._claim_and_run(housekeeping=True) == 1
        commits.clear()
        # Idle: the housekeeping is not due again, nothing to claim, the next job's time read.
        assert worker._claim_and_run(housekeeping=True) == 0
        assert len(commits) == 1
        # The pause uses that time (no transaction of its own): the job due in 1 s.
        assert worker._idle_pause() == pytest.approx(1.0)
        assert len(commits) == 1
        # Asked again, with nothing remembered, it reads the time itself.
        assert worker._idle_pause() == pytest.approx(1.0)
        assert len(commits) == 2
    finally:
        event.remove(live_db.engine, "commit", counted)
    assert live_db.job(stuck.id).status == "failed"
    assert live_db.count_jobs(task="test.idle.tick", status="done") == 1
    # ``run_once`` (tests, bursts) claims only: no housekeeping, nothing remembered.
    clock.advance(seconds=10)
    assert worker.run_once() == 1
    assert live_db.count_jobs(task="test.idle.tick") == 1
    assert worker.run_once() == 0
    assert worker._upcoming is None


def test_a_worker_freezes_the_heap_it_starts_with_once(
    live_db: LiveDb, monkeypatch: pytest.MonkeyPatch
) -> None:
    frozen: list[int] = []
    monkeypatch.setattr(runner, "_heap_frozen", False)
    monkeypatch.setattr(gc, "freeze", lambda: frozen.append(1))
    worker = Worker(live_db.settings, live_db.factory, TaskRegistry(), worker_id="h:2:freeze")
    worker.run(idle_exit=True)
    assert frozen == [1]
    worker.run(idle_exit=True)
    assert frozen == [1]  # once per process
    assert runner.freeze_heap() is False
