"""Several ``dialogo worker --burst`` processes drain one queue: every job runs exactly once."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest
from sqlalchemy import select

from dialogo.jobs import service as jobs
from dialogo.jobs.models import Job, WorkerHeartbeat
from tests.worker.support import WORKER_TEST_TIMEOUT, LiveDb, WorkerSpawner, wait_for
from tests.worker_tasks import job_runs

# The waits stretch with the load (tests.patience); so does the per-test timeout's margin.
pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.timeout(WORKER_TEST_TIMEOUT)]

WORKERS = 3
JOBS = 300


def drain_with_competing_workers(db: LiveDb, workers: WorkerSpawner, tmp_path: Path) -> None:
    log_dir = tmp_path / "executions"
    barrier = tmp_path / "barrier"
    log_dir.mkdir()
    barrier.mkdir()
    with db.write() as session:
        ids = {
            jobs.enqueue(session, "test.record", {"log_dir": str(log_dir), "i": i}).id
            for i in range(JOBS)
        }
    # Every worker waits at the barrier (in tests.worker_tasks) until all have started, so that
    # they claim from the same queue at the same time.
    env = {"DIALOGO_TEST_BARRIER_DIR": str(barrier), "DIALOGO_TEST_BARRIER_N": str(WORKERS)}
    procs = [workers.start(db.url, "--burst", env=env) for _ in range(WORKERS)]
    # Started: each worker has written its file at the barrier (its tasks module imported).
    # Waits in an idle machine's seconds: they stretch with the load (tests.patience).
    for proc in procs:
        arrived = barrier / str(proc.pid)
        wait_for(
            arrived.exists,
            timeout=60,
            message=f"worker {proc.pid} never reached the barrier",
            watch=proc,
        )
    for proc in procs:
        assert proc.wait(timeout=60) == 0, proc.output()
    pids = {p.pid for p in procs}

    # Executions, as logged by the handlers outside any transaction: none twice, none missing.
    executions = Counter(
        int(line.split()[0]) for path in log_dir.iterdir() for line in path.read_text().splitlines()
    )
    twice = {job_id: n for job_id, n in executions.items() if n > 1}
    assert not twice, f"jobs executed more than once: {twice}"
    assert set(executions) == ids

    # The rows written in each job's unit of work: exactly one per job.
    runs = db.rows(job_runs)
    assert sorted(r.job_id for r in runs) == sorted(ids)
    assert {r.attempt for r in runs} == {1}
    assert {r.pid for r in runs} <= pids

    with db.factory() as session:
        rows = session.execute(
            select(Job.status, Job.attempts).where(Job.task == "test.record")
        ).all()
        # The built-in periodic tasks (enqueued by the workers' housekeeping) run once too.
        periodic = session.execute(
            select(Job.task, Job.status, Job.attempts).where(Job.task != "test.record")
        ).all()
        beats = list(session.scalars(select(WorkerHeartbeat)))
    assert Counter(rows) == Counter({("done", 1): JOBS})
    assert all((status, attempts) == ("done", 1) for _, status, attempts in periodic)
    # Each worker took part, and their heartbeats add up to the whole queue.
    per_worker = Counter(r.pid for r in runs)
    assert set(per_worker) == pids, f"not every worker ran jobs: {per_worker}"
    assert sorted(b.pid for b in beats) == sorted(pids)
    assert all(b.stopped_at is not None for b in beats)
    assert sum(b.jobs_done for b in beats) == JOBS + len(periodic)
    assert all(b.jobs_done >= per_worker[b.pid] for b in beats)
    assert sum(b.jobs_failed for b in beats) == 0


@pytest.mark.postgres
def test_postgres_workers_never_run_a_job_twice(
    live_db: LiveDb, workers: WorkerSpawner, tmp_path: Path
) -> None:
    assert live_db.engine.dialect.name == "postgresql"
    drain_with_competing_workers(live_db, workers, tmp_path)


def test_sqlite_workers_never_run_a_job_twice(
    sqlite_live_db: LiveDb, workers: WorkerSpawner, tmp_path: Path
) -> None:
    drain_with_competing_workers(sqlite_live_db, workers, tmp_path)
