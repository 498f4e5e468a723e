"""A worker process killed (SIGKILL) while holding a job: another completes it, exactly once,
after the lease has expired."""

from __future__ import annotations

import datetime as dt
import signal
from pathlib import Path

import pytest
from sqlalchemy import select

from dialogo.core.clock import utcnow
from dialogo.jobs import service as jobs
from dialogo.jobs.models import WorkerHeartbeat
from tests.worker.support import LiveDb, WorkerSpawner, wait_for
from tests.worker_tasks import job_runs, job_starts

pytestmark = [pytest.mark.integration, pytest.mark.slow]

LEASE_SECONDS = 3
SETTINGS = {"worker_lease_seconds": LEASE_SECONDS, "worker_heartbeat_seconds": 0.3}


def test_a_killed_workers_job_is_completed_by_another_after_the_lease(
    live_db: LiveDb, workers: WorkerSpawner, tmp_path: Path
) -> None:
    release = tmp_path / "release"
    with live_db.write() as session:
        # Before the built-in periodic jobs the workers enqueue.
        job_id = jobs.enqueue(session, "test.block", {"release": str(release)}, priority=10).id

    first = workers.start(live_db.url, **SETTINGS)
    wait_for(
        lambda: live_db.rows(job_starts, job_id),
        timeout=30,
        message="the first worker never started the job",
        watch=first,
    )
    running = live_db.job(job_id)
    assert (running.status, running.attempts) == ("running", 1)
    assert running.locked_by is not None and f":{first.pid}:" in running.locked_by

    # The first worker's heartbeat shows the job it is running (what the UI displays).
    def beat_shows_job() -> bool:
        with live_db.factory() as session:
            beat = session.scalar(select(WorkerHeartbeat).where(WorkerHeartbeat.pid == first.pid))
            return beat is not None and beat.current_job_id == job_id

    wait_for(beat_shows_job, timeout=10, message="no heartbeat with the running job", watch=first)

    first.signal(signal.SIGKILL)
    assert first.wait(timeout=10) == -signal.SIGKILL
    killed_at = utcnow()
    # Nobody renews the lease any more: this is when it expires.
    lease_until = live_db.job(job_id).lease_until
    assert lease_until is not None
    assert lease_until <= killed_at + dt.timedelta(seconds=LEASE_SECONDS)

    release.touch()  # the next attempt will not block
    second = workers.start(live_db.url, **SETTINGS)
    wait_for(
        lambda: live_db.job(job_id).status == "done",
        timeout=LEASE_SECONDS + 30,
        message="the second worker never completed the job",
        watch=second,
    )
    second.signal(signal.SIGTERM)
    assert second.wait(timeout=10) == 0, second.output()

    job = live_db.job(job_id)
    assert (job.status, job.attempts) == ("done", 2)
    assert job.locked_by is not None and f":{second.pid}:" in job.locked_by
    assert job.result == {"pid": second.pid}

    starts = live_db.rows(job_starts, job_id)
    assert [(s.attempt, s.pid) for s in starts] == [(1, first.pid), (2, second.pid)]
    # The second attempt began only after the killed worker's lease had run out.
    assert starts[1].at >= lease_until
    assert job.started_at is not None and job.started_at >= lease_until

    runs = live_db.rows(job_runs, job_id)
    assert [(r.attempt, r.pid) for r in runs] == [(2, second.pid)]

    # Heartbeats tell the story: the killed worker never said it stopped, the second did.
    with live_db.factory() as session:
        beats = {b.pid: b for b in session.scalars(select(WorkerHeartbeat))}
    assert beats[first.pid].stopped_at is None
    assert beats[first.pid].current_job_id == job_id
    assert beats[second.pid].stopped_at is not None
    assert beats[second.pid].current_job_id is None
    assert beats[second.pid].jobs_done == live_db.done_by(second) >= 1
