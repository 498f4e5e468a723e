"""Leases of long jobs: renewed by the heartbeat thread, also while a worker stops on SIGTERM,
so a job longer than its lease is never taken over by a second worker that is polling."""

from __future__ import annotations

import datetime as dt
import signal

import pytest
from sqlalchemy import select

from dialogo.jobs import service as jobs
from dialogo.jobs.models import WorkerHeartbeat
from tests.worker.support import (
    WORKER_TEST_TIMEOUT,
    LiveDb,
    WorkerProcess,
    WorkerSpawner,
    wait_for,
)
from tests.worker_tasks import job_runs, job_starts

# The waits stretch with the load (tests.patience); so does the per-test timeout's margin.
pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.timeout(WORKER_TEST_TIMEOUT)]

LEASE_SECONDS = 2
JOB_SECONDS = 5.0
SETTINGS = {"worker_lease_seconds": LEASE_SECONDS, "worker_heartbeat_seconds": 0.3}


def heartbeat_of(db: LiveDb, worker: WorkerProcess) -> WorkerHeartbeat | None:
    with db.factory() as session:
        return session.scalar(select(WorkerHeartbeat).where(WorkerHeartbeat.pid == worker.pid))


def wait_until_polling(db: LiveDb, worker: WorkerProcess) -> None:
    wait_for(
        lambda: heartbeat_of(db, worker),
        timeout=30,
        message="the worker never started",
        watch=worker,
    )


def start_long_job(db: LiveDb, workers: WorkerSpawner) -> tuple[int, WorkerProcess, WorkerProcess]:
    """Two idle workers polling every 50 ms; then a job longer than the lease. Returns the
    job, the worker that took it, and the other one, which would take it if its lease
    expired."""
    pair = [workers.start(db.url, **SETTINGS) for _ in range(2)]
    for worker in pair:
        wait_until_polling(db, worker)
    with db.write() as session:
        job_id = jobs.enqueue(session, "test.sleep", {"seconds": JOB_SECONDS}, priority=10).id
    [start] = wait_for(
        lambda: db.rows(job_starts, job_id), timeout=30, message="the job never started"
    )
    runner = next(w for w in pair if w.pid == start.pid)
    competitor = next(w for w in pair if w is not runner)
    return job_id, runner, competitor


def assert_ran_once_by(db: LiveDb, job_id: int, runner: WorkerProcess) -> None:
    """Exactly one execution (no start, let alone a completion, by the other worker)."""
    job = db.job(job_id)
    assert (job.status, job.attempts) == ("done", 1), job.last_error
    assert job.locked_by is not None and f":{runner.pid}:" in job.locked_by
    assert [(s.attempt, s.pid) for s in db.rows(job_starts, job_id)] == [(1, runner.pid)]
    assert [(r.attempt, r.pid) for r in db.rows(job_runs, job_id)] == [(1, runner.pid)]
    # The job outlived its first lease: without renewals it would have been claimable.
    assert job.started_at is not None and job.finished_at is not None
    assert job.finished_at - job.started_at > dt.timedelta(seconds=LEASE_SECONDS + 1)


def stop(db: LiveDb, worker: WorkerProcess) -> WorkerHeartbeat:
    """SIGTERM: the worker exits cleanly, and its last heartbeat says it stopped."""
    worker.signal(signal.SIGTERM)
    assert worker.wait(timeout=JOB_SECONDS + 10) == 0, worker.output()
    beat = heartbeat_of(db, worker)
    assert beat is not None and beat.stopped_at is not None
    assert beat.current_job_id is None
    assert beat.jobs_done == db.done_by(worker)
    return beat


def test_a_job_longer_than_its_lease_is_not_taken_over(
    live_db: LiveDb, workers: WorkerSpawner
) -> None:
    job_id, runner, competitor = start_long_job(live_db, workers)
    wait_for(
        lambda: live_db.job(job_id).status == "done",
        timeout=JOB_SECONDS + 30,
        message="the job never finished",
        watch=runner,
    )
    assert competitor.process.poll() is None, competitor.output()  # it was polling throughout
    for worker in (runner, competitor):
        stop(live_db, worker)
    assert_ran_once_by(live_db, job_id, runner)


def test_sigterm_lets_the_running_job_finish_with_its_lease(
    live_db: LiveDb, workers: WorkerSpawner
) -> None:
    job_id, runner, competitor = start_long_job(live_db, workers)
    assert live_db.job(job_id).status == "running"
    # Stopping while the job runs: it finishes the job (keeping the lease), then exits.
    beat = stop(live_db, runner)
    assert live_db.job(job_id).status == "done"
    assert beat.jobs_done >= 1
    assert competitor.process.poll() is None, competitor.output()
    stop(live_db, competitor)
    assert_ran_once_by(live_db, job_id, runner)
