"""The worker loop, in-process, on a fresh committed-to database."""

from __future__ import annotations

import datetime as dt
import threading
import time
from typing import Any

import pytest
from sqlalchemy import insert

from dialogo.core.clock import FrozenClock
from dialogo.jobs import service as jobs
from dialogo.jobs.models import WorkerHeartbeat
from dialogo.jobs.registry import JobContext, TaskRegistry
from dialogo.worker.runner import Worker, run_in_thread
from tests.worker.support import LiveDb, wait_for
from tests.worker_tasks import job_runs, job_starts, record_run, record_start

T0 = dt.datetime(2026, 3, 1, 12, 0, tzinfo=dt.UTC)


def make_worker(db: LiveDb, registry: TaskRegistry, **kwargs: Any) -> Worker:
    return Worker(db.settings, db.factory, registry, **kwargs)


def enqueue(db: LiveDb, task: str, payload: dict[str, Any] | None = None, **kw: Any) -> int:
    with db.write() as session:
        return jobs.enqueue(session, task, payload, **kw).id


def heartbeat_row(db: LiveDb, worker_id: str) -> WorkerHeartbeat:
    with db.factory() as session:
        row = session.get(WorkerHeartbeat, worker_id)
        assert row is not None
        return row


def test_a_job_whose_lease_was_lost_is_rolled_back(live_db: LiveDb) -> None:
    """The handler's work is discarded when its completion finds another worker owns the job."""
    clock = FrozenClock(T0)
    registry = TaskRegistry()
    lease = dt.timedelta(seconds=live_db.settings.worker_lease_seconds)

    @registry.task("t.lost")
    def lost(ctx: JobContext, _payload: dict[str, Any]) -> dict[str, Any]:
        # Meanwhile our lease ran out and another worker took the job over.
        with live_db.write() as other:
            [stolen] = jobs.claim(other, "thief", lease=lease, now=clock.now() + lease * 2)
            assert stolen.job_id == ctx.job_id
        record_run(ctx)
        return {"by": "victim"}

    job_id = enqueue(live_db, "t.lost", run_at=T0)
    worker = make_worker(live_db, registry, clock=clock, worker_id="victim")
    assert worker.run_once() == 1
    job = live_db.job(job_id)
    assert (job.status, job.locked_by, job.attempts) == ("running", "thief", 2)
    assert job.result is None and job.last_error is None
    assert live_db.rows(job_runs, job_id) == []
    worker._beat()
    beat = heartbeat_row(live_db, "victim")
    assert (beat.jobs_done, beat.jobs_failed) == (0, 0)


def test_outcomes_done_retry_and_permanent_failure(live_db: LiveDb) -> None:
    clock = FrozenClock(T0)
    registry = TaskRegistry()

    @registry.task("t.ok")
    def ok(ctx: JobContext, payload: dict[str, Any]) -> dict[str, Any]:
        record_run(ctx)
        return {"echo": payload["n"], "attempt": ctx.attempt}

    @registry.task("t.flaky")
    def flaky(ctx: JobContext, _payload: dict[str, Any]) -> None:
        record_run(ctx)  # written, then rolled back with the failure
        raise RuntimeError("network hiccup")

    @registry.task("t.bad")
    def bad(ctx: JobContext, _payload: dict[str, Any]) -> None:
        record_run(ctx)
        raise jobs.PermanentFailure("no such post")

    ok_id = enqueue(live_db, "t.ok", {"n": 7}, run_at=T0)
    flaky_id = enqueue(live_db, "t.flaky", run_at=T0, max_attempts=2)
    bad_id = enqueue(live_db, "t.bad", run_at=T0)
    worker = make_worker(live_db, registry, clock=clock, worker_id="w-outcomes")
    assert worker.run(idle_exit=True) == 3

    ok_job = live_db.job(ok_id)
    assert (ok_job.status, ok_job.result) == ("done", {"echo": 7, "attempt": 1})
    assert ok_job.finished_at == T0 and ok_job.lease_until is None
    assert len(live_db.rows(job_runs, ok_id)) == 1

    flaky_job = live_db.job(flaky_id)
    base = live_db.settings.worker_backoff_base_seconds
    assert flaky_job.status == "queued"
    assert "network hiccup" in (flaky_job.last_error or "")
    assert T0 + dt.timedelta(seconds=0.8 * base) <= flaky_job.run_at
    assert flaky_job.run_at <= T0 + dt.timedelta(seconds=1.2 * base)
    assert live_db.rows(job_runs, flaky_id) == []

    bad_job = live_db.job(bad_id)
    assert (bad_job.status, bad_job.attempts) == ("failed", 1)
    assert live_db.rows(job_runs, bad_id) == []

    beat = heartbeat_row(live_db, "w-outcomes")
    assert (beat.jobs_done, beat.jobs_failed) == (1, 2)
    assert beat.stopped_at == T0 and beat.current_job_id is None

    # After the backoff the flaky job runs again, fails for good on its last attempt.
    clock.advance(seconds=base * 1.2 + 1)
    assert worker.run(idle_exit=True) == 1
    flaky_job = live_db.job(flaky_id)
    assert (flaky_job.status, flaky_job.attempts) == ("failed", 2)


def test_max_jobs_and_burst(live_db: LiveDb) -> None:
    registry = TaskRegistry()
    registry.task("t.ok")(lambda ctx, p: record_run(ctx))
    ids = [enqueue(live_db, "t.ok") for _ in range(5)]
    worker = make_worker(live_db, registry)
    assert worker.run(max_jobs=2) == 2
    assert worker.run(idle_exit=True) == 3
    assert worker.run(idle_exit=True) == 0
    assert {r.job_id for r in live_db.rows(job_runs)} == set(ids)


def test_the_loop_survives_a_database_error_except_in_burst_mode(
    live_db: LiveDb, monkeypatch: pytest.MonkeyPatch
) -> None:
    registry = TaskRegistry()
    registry.task("t.ok")(lambda ctx, p: record_run(ctx))
    real_claim = jobs.claim
    failures = []

    def flaky_claim(*args: Any, **kwargs: Any) -> list[jobs.Claim]:
        if not failures:
            failures.append(1)
            raise ConnectionError("database went away")
        return real_claim(*args, **kwargs)

    monkeypatch.setattr(jobs, "claim", flaky_claim)
    with pytest.raises(ConnectionError):
        make_worker(live_db, registry).run(idle_exit=True)

    failures.clear()
    job_id = enqueue(live_db, "t.ok")
    worker = make_worker(live_db, registry)
    thread = run_in_thread(worker)
    try:
        wait_for(lambda: live_db.job(job_id).status == "done", timeout=20, message="job not run")
        assert failures == [1]
    finally:
        worker.stop()
        thread.join(10)
    assert not thread.is_alive()


def test_stop_lets_the_current_job_finish_and_keep_its_lease(live_db: LiveDb) -> None:
    """A stopping worker keeps renewing the lease of the job it finishes, so a job longer than
    the lease is not taken by another worker after ``stop()``."""
    settings = live_db.settings.model_copy(
        update={"worker_lease_seconds": 2, "worker_heartbeat_seconds": 0.2}
    )
    registry = TaskRegistry()

    @registry.task("t.long")
    def long(ctx: JobContext, _payload: dict[str, Any]) -> None:
        record_start(ctx)
        time.sleep(3.5)
        record_run(ctx)

    job_id = enqueue(live_db, "t.long")
    worker = Worker(settings, live_db.factory, registry, worker_id="long-runner")
    thread = run_in_thread(worker)
    stolen: list[jobs.Claim] = []
    try:
        wait_for(lambda: live_db.rows(job_starts, job_id), timeout=20, message="start")
        worker.stop()
        # Another worker keeps trying to claim it until the job is done.
        deadline = time.monotonic() + 20
        while live_db.job(job_id).status == "running" and not stolen:
            assert time.monotonic() < deadline, "the job never finished"
            with live_db.write() as session:
                stolen += jobs.claim(session, "thief", lease=dt.timedelta(seconds=60))
            time.sleep(0.05)
        assert stolen == [], "the job was taken over while its worker was stopping"
        thread.join(10)
        assert not thread.is_alive(), "the worker did not stop after its job"
    finally:
        worker.stop()
        thread.join(10)
    assert stolen == []
    job = live_db.job(job_id)
    assert (job.status, job.attempts, job.locked_by) == ("done", 1, "long-runner")
    assert len(live_db.rows(job_runs, job_id)) == 1
    assert heartbeat_row(live_db, "long-runner").stopped_at is not None


def test_heartbeat_thread_renews_the_lease_and_records_the_current_job(live_db: LiveDb) -> None:
    settings = live_db.settings.model_copy(
        update={"worker_lease_seconds": 1, "worker_heartbeat_seconds": 0.1}
    )
    registry = TaskRegistry()
    release = threading.Event()

    @registry.task("t.wait")
    def wait(ctx: JobContext, _payload: dict[str, Any]) -> None:
        assert release.wait(20)

    job_id = enqueue(live_db, "t.wait")
    worker = Worker(settings, live_db.factory, registry, worker_id="beater")
    thread = run_in_thread(worker)
    try:
        first = wait_for(lambda: live_db.job(job_id).lease_until, timeout=20, message="claim")

        def renewed() -> bool:
            lease = live_db.job(job_id).lease_until
            return lease is not None and lease > first + dt.timedelta(seconds=0.5)

        wait_for(renewed, timeout=20, message="lease never renewed")
        assert heartbeat_row(live_db, "beater").current_job_id == job_id
        release.set()
        wait_for(lambda: live_db.job(job_id).status == "done", timeout=20, message="done")
        wait_for(
            lambda: heartbeat_row(live_db, "beater").jobs_done == 1,
            timeout=20,
            message="jobs_done never recorded",
        )
    finally:
        release.set()
        worker.stop()
        thread.join(10)


def test_a_job_can_write_anything_in_its_unit_of_work(live_db: LiveDb) -> None:
    """The unit of work is an ordinary session: it sees its own writes before completion."""
    registry = TaskRegistry()

    @registry.task("t.write")
    def write(ctx: JobContext, _payload: dict[str, Any]) -> dict[str, Any]:
        for i in range(3):
            ctx.session.execute(insert(job_runs).values(job_id=ctx.job_id, attempt=i, pid=0, at=T0))
        n = len(ctx.session.execute(job_runs.select().where(job_runs.c.job_id == ctx.job_id)).all())
        return {"seen": n}

    job_id = enqueue(live_db, "t.write")
    assert make_worker(live_db, registry).run(idle_exit=True) == 1
    assert live_db.job(job_id).result == {"seen": 3}
    assert len(live_db.rows(job_runs, job_id)) == 3
