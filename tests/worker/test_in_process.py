"""``dialogo serve`` runs one worker in-process: the app's lifespan starts and stops it."""

from __future__ import annotations

import threading

from fastapi.testclient import TestClient
from sqlalchemy import select

from dialogo.core.clock import SystemClock
from dialogo.core.context import AppContext
from dialogo.jobs import service as jobs
from dialogo.jobs.models import WorkerHeartbeat
from dialogo.server import create_app
from tests.worker.support import LiveDb, wait_for
from tests.worker_tasks import job_runs


def test_the_app_runs_an_in_process_worker(live_db: LiveDb) -> None:
    """The worker uses its own sessions, so the job and its result are committed data."""
    ctx = AppContext(live_db.settings, live_db.engine, live_db.factory, SystemClock())
    with live_db.write() as session:
        job_id = jobs.enqueue(session, "test.record", {}).id
    before = set(threading.enumerate())
    with TestClient(create_app(ctx, run_worker=True)) as client:
        wait_for(
            lambda: live_db.job(job_id).status == "done",
            timeout=20,
            message="the in-process worker never ran the job",
        )
        assert client.get("/health").json()["status"] == "ok"
        with live_db.factory() as session:
            [beat] = session.scalars(select(WorkerHeartbeat)).all()
        assert beat.stopped_at is None
        started = [t for t in set(threading.enumerate()) - before if t.name == "dialogo-worker"]
        assert len(started) == 1
    # Leaving the lifespan stops the worker: its thread ends and its heartbeat says so.
    started[0].join(timeout=10)
    assert not started[0].is_alive()
    with live_db.factory() as session:
        [beat] = session.scalars(select(WorkerHeartbeat)).all()
    assert beat.stopped_at is not None
    assert beat.jobs_done >= 1
    assert [r.job_id for r in live_db.rows(job_runs)] == [job_id]


def test_the_app_runs_no_worker_unless_asked(live_db: LiveDb) -> None:
    ctx = AppContext(live_db.settings, live_db.engine, live_db.factory, SystemClock())
    with live_db.write() as session:
        job_id = jobs.enqueue(session, "test.record", {}).id
    with TestClient(create_app(ctx)) as client:
        assert client.get("/health").status_code == 200
    assert live_db.job(job_id).status == "queued"
    with live_db.factory() as session:
        assert session.scalars(select(WorkerHeartbeat)).all() == []
