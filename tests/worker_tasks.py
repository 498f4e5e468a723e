"""Tasks for the worker tests, loaded by ``dialogo worker --tasks-module tests.worker_tasks``.

Their tables live on their own ``MetaData`` (created by the tests on a fresh database), not in
the product's models. ``job_runs`` is written in the job's unit of work, so it holds one row per
*completed* job; ``job_starts`` is committed on its own connection when a handler starts, and a
log file (``payload["log_dir"]``) is appended to outside any transaction, so both show every
execution, even one whose unit of work was rolled back.

With ``DIALOGO_TEST_BARRIER_DIR`` and ``DIALOGO_TEST_BARRIER_N`` set, importing this module waits
until that many processes have imported it, so competing workers start claiming together.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

from sqlalchemy import Column, Integer, MetaData, String, Table, insert

from dialogo.core.clock import utcnow
from dialogo.core.db import UTCDateTime
from dialogo.jobs.registry import JobContext, task
from tests.patience import Deadline

metadata = MetaData()

job_runs = Table(
    "test_job_runs",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("job_id", Integer, nullable=False),
    Column("attempt", Integer, nullable=False),
    Column("pid", Integer, nullable=False),
    Column("at", UTCDateTime, nullable=False),
)

job_starts = Table(
    "test_job_starts",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("job_id", Integer, nullable=False),
    Column("attempt", Integer, nullable=False),
    Column("pid", Integer, nullable=False),
    Column("at", UTCDateTime, nullable=False),
    Column("note", String(100)),
)

# In an idle machine's seconds: the waits stretch with the load (tests.patience).
WAIT_LIMIT_SECONDS = 60.0


def _barrier() -> None:
    directory = os.environ.get("DIALOGO_TEST_BARRIER_DIR")
    if not directory:
        return
    expected = int(os.environ["DIALOGO_TEST_BARRIER_N"])
    path = Path(directory)
    (path / str(os.getpid())).touch()
    deadline = Deadline(WAIT_LIMIT_SECONDS)
    while len(list(path.iterdir())) < expected:
        if deadline.expired():
            raise RuntimeError("the other workers never arrived at the barrier")
        time.sleep(0.01)


_barrier()


def record_start(ctx: JobContext, note: str | None = None) -> None:
    """Commit a row saying this attempt started, outside the job's unit of work."""
    engine = ctx.session.get_bind()
    with engine.begin() as connection:
        connection.execute(
            insert(job_starts).values(
                job_id=ctx.job_id, attempt=ctx.attempt, pid=os.getpid(), at=utcnow(), note=note
            )
        )


def record_run(ctx: JobContext) -> None:
    """Write a row in the job's unit of work: it exists only if the job completed."""
    ctx.session.execute(
        insert(job_runs).values(
            job_id=ctx.job_id, attempt=ctx.attempt, pid=os.getpid(), at=utcnow()
        )
    )


def _log(payload: dict[str, Any], ctx: JobContext) -> None:
    log_dir = payload.get("log_dir")
    if log_dir:
        with open(Path(log_dir) / f"{os.getpid()}.log", "a", encoding="utf-8") as f:
            f.write(f"{ctx.job_id} {ctx.attempt}\n")


@task("test.record")
def record(ctx: JobContext, payload: dict[str, Any]) -> dict[str, Any]:
    """A quick job: log the execution, write one row in the unit of work."""
    _log(payload, ctx)
    record_run(ctx)
    return {"pid": os.getpid()}


@task("test.block")
def block(ctx: JobContext, payload: dict[str, Any]) -> dict[str, Any]:
    """Record the start, wait until ``payload["release"]`` exists, then write one row."""
    record_start(ctx)
    release = Path(payload["release"])
    deadline = Deadline(WAIT_LIMIT_SECONDS)
    while not release.exists():
        if deadline.expired():
            raise TimeoutError(f"{release} never appeared")
        time.sleep(0.05)
    record_run(ctx)
    return {"pid": os.getpid()}


@task("test.sleep")
def sleep(ctx: JobContext, payload: dict[str, Any]) -> dict[str, Any]:
    """Record the start, sleep ``payload["seconds"]`` without holding a lock, write one row."""
    record_start(ctx)
    time.sleep(float(payload["seconds"]))
    record_run(ctx)
    return {"pid": os.getpid()}
