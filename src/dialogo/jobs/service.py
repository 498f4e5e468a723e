"""The job queue: enqueue, claim with a lease, complete or retry, heartbeats, health.

Claiming is one ``UPDATE … WHERE id IN (SELECT … LIMIT n) RETURNING`` statement. On
PostgreSQL the inner select takes ``FOR UPDATE SKIP LOCKED`` so concurrent workers never wait
for each other nor take the same job; on SQLite the single statement is its own write
transaction, which serialises claimers. A claim is identified by (job id, attempt number):
completion and retries are guarded by it, so a worker whose lease expired and was taken over
cannot complete or fail the job any more, and its unit of work is rolled back.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import functools
import os
import random
import socket
import traceback
from collections.abc import Callable
from typing import Any, cast

from sqlalchemy import Executable, Table, and_, any_, bindparam, case, func, or_, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from dialogo.core.clock import ensure_aware, utcnow
from dialogo.jobs.models import Job, JobStatus, WorkerHeartbeat
from dialogo.jobs.registry import TaskRegistry
from dialogo.jobs.registry import registry as default_registry

DEFAULT_MAX_ATTEMPTS = 5
RUNNING = JobStatus.running.value
QUEUED = JobStatus.queued.value


class RetryLater(Exception):  # a signal rather than an error
    """Raised by a handler to be run again after ``delay`` (a transient condition).

    The attempt's unit of work is rolled back; ``keep`` writes what must outlast it (what the
    network said about a rate limit, for every worker to see), in the transaction that
    re-queues the job (:func:`fail`)."""

    def __init__(
        self,
        message: str,
        *,
        delay: float | None = None,
        keep: Callable[[Session], None] | None = None,
    ) -> None:
        super().__init__(message)
        self.delay = delay
        self.keep = keep


class PermanentFailure(Exception):
    """Raised by a handler when retrying cannot help (bad payload, missing row)."""


@dataclasses.dataclass(frozen=True)
class Claim:
    job_id: int
    task: str
    payload: dict[str, Any]
    attempt: int
    max_attempts: int
    workspace_id: int | None
    worker_id: str


def enqueue(
    session: Session,
    task: str,
    payload: dict[str, Any] | None = None,
    *,
    run_at: dt.datetime | None = None,
    workspace_id: int | None = None,
    unique_key: str | None = None,
    priority: int = 0,
    max_attempts: int | None = None,
) -> Job:
    """Add a job to the session's unit of work (it becomes visible to workers on commit).

    With ``unique_key``, enqueueing the same key again returns the first job, whatever its
    status, even when another transaction inserts the same key at the same moment.
    ``max_attempts`` defaults to the task's ``@task(max_attempts=…)`` when the task is
    registered in this process, else to ``DEFAULT_MAX_ATTEMPTS``.
    """
    if max_attempts is None:
        spec = default_registry.get(task)
        max_attempts = (spec.max_attempts if spec else None) or DEFAULT_MAX_ATTEMPTS
    values: dict[str, Any] = {
        "task": task,
        "payload": payload or {},
        "run_at": run_at or utcnow(),
        "workspace_id": workspace_id,
        "unique_key": unique_key,
        "priority": priority,
        "max_attempts": max_attempts,
    }
    if unique_key is None:
        job = Job(**values)
        session.add(job)
        session.flush()
        return job
    existing = _by_unique_key(session, unique_key)
    if existing is not None:
        return existing
    # Another transaction may insert the same key between that look-up and this insert:
    # ``ON CONFLICT DO NOTHING`` waits for it (PostgreSQL) or for the write lock (SQLite),
    # then inserts nothing, and the look-up below finds its row. No error is raised, so the
    # caller's transaction needs no savepoint and stays usable.
    dialect = session.get_bind().dialect.name
    row = {**values, "status": QUEUED, "attempts": 0, "created_at": utcnow()}
    stmt: Executable
    if dialect == "postgresql":
        stmt = (
            pg_insert(Job)
            .values(**row)
            .on_conflict_do_nothing(index_elements=[Job.unique_key])
            .returning(Job.id)
        )
    elif dialect == "sqlite":
        stmt = (
            sqlite_insert(Job)
            .values(**row)
            .on_conflict_do_nothing(index_elements=[Job.unique_key])
            .returning(Job.id)
        )
    else:  # pragma: no cover - the two supported backends are above
        raise NotImplementedError(f"enqueue with unique_key on {dialect!r}")
    new_id = session.execute(stmt).scalar_one_or_none()
    found = session.get(Job, new_id) if new_id is not None else _by_unique_key(session, unique_key)
    if found is None:  # pragma: no cover - the constraint says the row exists
        raise RuntimeError(f"job with unique key {unique_key!r} vanished")
    return found


def _by_unique_key(session: Session, unique_key: str) -> Job | None:
    return session.scalar(
        select(Job).where(Job.unique_key == unique_key).execution_options(populate_existing=True)
    )


def claim(
    session: Session,
    worker_id: str,
    *,
    lease: dt.timedelta,
    limit: int = 1,
    tasks: list[str] | None = None,
    now: dt.datetime | None = None,
) -> list[Claim]:
    """Claim up to ``limit`` due jobs (queued, or running with an expired lease)."""
    now = now or utcnow()
    session.flush()  # as the ORM's autoflush would (the statement is Core's)
    stmt = _claim_statement(
        session.get_bind().dialect.name, None if tasks is None else tuple(tasks), limit
    )
    rows = (
        session.connection()
        .execute(stmt, {"now": now, "until": now + lease, "worker": worker_id})
        .all()
    )
    return [
        Claim(
            job_id=row.id,
            task=row.task,
            payload=row.payload or {},
            attempt=row.attempts,
            max_attempts=row.max_attempts,
            workspace_id=row.workspace_id,
            worker_id=worker_id,
        )
        for row in sorted(rows, key=lambda r: r.id)
    ]


# The worker loop's statements are built once (per dialect, task list and limit) and run as
# Core statements on the session's connection: built again for every call and run through
# the ORM's bulk update, they cost an idle worker ~4 ms of CPU per loop (claim, reap, the
# periodic tasks, the next job's time: 82 ms/s at the benchmark's 50-ms poll, most of it
# SQLAlchemy constructing the statements and their cache keys; ``benchmarks/publishing.py``).
_jobs = cast(Table, Job.__table__)


@functools.lru_cache(maxsize=64)
def _claim_statement(dialect: str, tasks: tuple[str, ...] | None, limit: int) -> Executable:
    j = _jobs.c
    now = bindparam("now", type_=j.run_at.type)
    due = or_(
        and_(j.status == QUEUED, j.run_at <= now),
        and_(j.status == RUNNING, j.lease_until < now, j.attempts < j.max_attempts),
    )
    inner = select(j.id).where(due)
    if tasks is not None:
        inner = inner.where(j.task.in_(tasks))
    inner = inner.order_by(j.priority.desc(), j.run_at, j.id).limit(limit)
    picked: Any = j.id.in_(inner.scalar_subquery())
    if dialect == "postgresql":
        inner = inner.with_for_update(skip_locked=True)
        # ``= ANY(ARRAY(subquery))``, not ``IN (subquery)``: the planner may run an IN
        # subquery again for each outer row, and with SKIP LOCKED every run can return other
        # rows, so one claim took more than ``limit`` jobs (seen: 4 lanes claimed at once by
        # one worker, their leases running out while it ran the first). ARRAY() runs once.
        picked = j.id == any_(func.array(inner.scalar_subquery()))
    return (
        update(_jobs)
        .where(picked)
        .values(
            status=RUNNING,
            locked_by=bindparam("worker", type_=j.locked_by.type),
            lease_until=bindparam("until", type_=j.lease_until.type),
            attempts=j.attempts + 1,
            started_at=now,
        )
        .returning(j.id, j.task, j.payload, j.attempts, j.max_attempts, j.workspace_id)
    )


def next_run_at(session: Session, *, tasks: list[str] | None = None) -> dt.datetime | None:
    """When the earliest queued job falls due (an index look-up): an idle worker sleeps until
    then rather than a whole poll interval, so a job queued for a known moment (a publishing
    lane for the next due post) starts on time."""
    session.flush()
    stmt = _next_run_statement(None if tasks is None else tuple(tasks))
    found = session.connection().execute(stmt).scalar()
    return ensure_aware(found) if found is not None else None


@functools.lru_cache(maxsize=64)
def _next_run_statement(tasks: tuple[str, ...] | None) -> Executable:
    query = select(func.min(_jobs.c.run_at)).where(_jobs.c.status == QUEUED)
    if tasks is not None:
        query = query.where(_jobs.c.task.in_(tasks))
    return query


def _owned(claim: Claim) -> Any:
    return and_(
        Job.id == claim.job_id,
        Job.status == RUNNING,
        Job.locked_by == claim.worker_id,
        Job.attempts == claim.attempt,
    )


def complete(
    session: Session,
    claim: Claim,
    result: dict[str, Any] | None = None,
    *,
    now: dt.datetime | None = None,
) -> bool:
    """Mark the job done if this claim still owns it; ``False`` means the lease was lost."""
    stmt = (
        update(Job)
        .where(_owned(claim))
        .values(
            status=JobStatus.done.value,
            result=result,
            finished_at=now or utcnow(),
            lease_until=None,
            last_error=None,
        )
        .execution_options(synchronize_session=False)
    )
    return session.execute(stmt).rowcount == 1  # type: ignore[attr-defined, no-any-return]


def backoff_delay(
    attempt: int, *, base: float, cap: float, rng: random.Random | None = None
) -> float:
    """Exponential backoff with ±20 % jitter: base, 2·base, 4·base …, never more than ``cap``."""
    delay = min(cap, base * (2 ** min(max(0, attempt - 1), 62)))
    jittered: float = delay * (0.8 + 0.4 * (rng or random).random())  # jitter, not crypto
    return min(cap, jittered)


def fail(
    session: Session,
    claim: Claim,
    error: BaseException,
    *,
    backoff_base: float,
    backoff_cap: float,
    now: dt.datetime | None = None,
) -> str | None:
    """Record a failure: re-queue with backoff, or fail for good. Returns the new status,
    or ``None`` if this claim no longer owns the job."""
    now = now or utcnow()
    if isinstance(error, RetryLater) and error.keep is not None:
        error.keep(session)
    permanent = isinstance(error, PermanentFailure)
    text = "".join(traceback.format_exception_only(type(error), error)).strip()[:4000]
    if permanent or claim.attempt >= claim.max_attempts:
        values: dict[str, Any] = {
            "status": JobStatus.failed.value,
            "finished_at": now,
            "lease_until": None,
            "last_error": text,
        }
    else:
        delay = (
            error.delay
            if isinstance(error, RetryLater) and error.delay is not None
            else backoff_delay(claim.attempt, base=backoff_base, cap=backoff_cap)
        )
        values = {
            "status": QUEUED,
            "run_at": now + dt.timedelta(seconds=delay),
            "lease_until": None,
            "locked_by": None,
            "last_error": text,
        }
    stmt = update(Job).where(_owned(claim)).values(**values)
    rowcount = session.execute(stmt.execution_options(synchronize_session=False)).rowcount  # type: ignore[attr-defined]
    return str(values["status"]) if rowcount == 1 else None


def renew_lease(
    session: Session, claim: Claim, *, lease: dt.timedelta, now: dt.datetime | None = None
) -> bool:
    stmt = (
        update(Job)
        .where(_owned(claim))
        .values(lease_until=(now or utcnow()) + lease)
        .execution_options(synchronize_session=False)
    )
    return session.execute(stmt).rowcount == 1  # type: ignore[attr-defined, no-any-return]


def owned_by_other(session: Session, claim: Claim) -> bool:
    """Whether another claim (another worker, or a later attempt) runs the job now: what a
    failed lease renewal means, unless this claim has just completed or failed the job."""
    row = session.execute(
        select(Job.status, Job.locked_by, Job.attempts).where(Job.id == claim.job_id)
    ).one_or_none()
    if row is None:
        return False
    # Completed, failed or re-queued by this very claim: same attempt number. A takeover
    # after an expired lease claims the job again, which counts a new attempt.
    return bool(
        row.attempts != claim.attempt
        or (row.status == RUNNING and row.locked_by != claim.worker_id)
    )


def reap_exhausted(session: Session, *, now: dt.datetime | None = None) -> int:
    """Fail jobs whose lease expired on their last allowed attempt (a poison job that kills
    its workers must not be retried forever)."""
    now = now or utcnow()
    session.flush()
    result = session.connection().execute(_REAP, {"now": now})
    return int(result.rowcount)


_now = bindparam("now", type_=_jobs.c.lease_until.type)
_REAP = (
    update(_jobs)
    .where(
        _jobs.c.status == RUNNING,
        _jobs.c.lease_until < _now,
        _jobs.c.attempts >= _jobs.c.max_attempts,
    )
    .values(
        status=JobStatus.failed.value,
        finished_at=_now,
        lease_until=None,
        last_error="the worker stopped (lease expired) on the last allowed attempt",
    )
)


def ensure_periodic(
    session: Session, registry: TaskRegistry, *, now: dt.datetime | None = None
) -> None:
    """Keep one occurrence of every periodic task queued for the current period; the unique
    key makes this safe to call from every worker on every loop (one look-up for all the
    tasks' keys; only a missing one is enqueued)."""
    now = now or utcnow()
    epoch = dt.datetime(2000, 1, 1, tzinfo=dt.UTC)
    wanted = {}
    for spec in registry.periodic():
        assert spec.every is not None
        period = int((now - epoch) / spec.every)
        wanted[f"periodic:{spec.name}:{period}"] = (spec, epoch + spec.every * period)
    if not wanted:
        return
    session.flush()
    present = set(session.connection().execute(_KEYS_PRESENT, {"keys": list(wanted)}).scalars())
    for key, (spec, run_at) in wanted.items():
        if key not in present:
            enqueue(
                session,
                spec.name,
                unique_key=key,
                run_at=run_at,
                max_attempts=spec.max_attempts or DEFAULT_MAX_ATTEMPTS,
            )


_KEYS_PRESENT = select(_jobs.c.unique_key).where(
    _jobs.c.unique_key.in_(bindparam("keys", expanding=True))
)


# --- workers ---------------------------------------------------------------------------------


def new_worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{random.getrandbits(32):08x}"


def heartbeat(
    session: Session,
    worker_id: str,
    *,
    current_job_id: int | None = None,
    done: int = 0,
    failed: int = 0,
    stopped: bool = False,
    now: dt.datetime | None = None,
) -> None:
    now = now or utcnow()
    row = session.get(WorkerHeartbeat, worker_id)
    if row is None:
        parts = worker_id.rsplit(":", 2)  # hostname:pid:random, as new_worker_id makes it
        host, pid = (parts[0], parts[1]) if len(parts) == 3 else ("", "")
        row = WorkerHeartbeat(
            worker_id=worker_id,
            hostname=host or socket.gethostname(),
            pid=int(pid) if pid.isdigit() else os.getpid(),
            started_at=now,
        )
        session.add(row)
    row.last_seen_at = now
    row.current_job_id = current_job_id
    row.jobs_done = (row.jobs_done or 0) + done
    row.jobs_failed = (row.jobs_failed or 0) + failed
    if stopped:
        row.stopped_at = now
    session.flush()


@dataclasses.dataclass(frozen=True)
class WorkerState:
    worker_id: str
    hostname: str
    pid: int
    started_at: dt.datetime
    last_seen_at: dt.datetime
    alive: bool
    current_job_id: int | None
    jobs_done: int
    jobs_failed: int


@dataclasses.dataclass(frozen=True)
class QueueHealth:
    counts: dict[str, int]
    due: int
    lag_seconds: float
    workers: list[WorkerState]

    @property
    def alive_workers(self) -> int:
        return sum(1 for w in self.workers if w.alive)


def queue_health(
    session: Session,
    *,
    stale_after: dt.timedelta,
    now: dt.datetime | None = None,
    recent_workers: dt.timedelta = dt.timedelta(days=1),
) -> QueueHealth:
    now = now or utcnow()
    counts = {status.value: 0 for status in JobStatus}
    for status, n in session.execute(select(Job.status, func.count()).group_by(Job.status)):
        counts[status] = int(n)
    due_filter = and_(Job.status == QUEUED, Job.run_at <= now)
    due, oldest = session.execute(
        select(func.count(), func.min(Job.run_at)).where(due_filter)
    ).one()
    lag = (now - ensure_aware(oldest)).total_seconds() if oldest is not None else 0.0
    workers = []
    rows = session.scalars(
        select(WorkerHeartbeat)
        .where(WorkerHeartbeat.last_seen_at > now - recent_workers)
        .order_by(
            case((WorkerHeartbeat.stopped_at.is_(None), 0), else_=1),
            WorkerHeartbeat.last_seen_at.desc(),
        )
    )
    for w in rows:
        last = ensure_aware(w.last_seen_at)
        workers.append(
            WorkerState(
                worker_id=w.worker_id,
                hostname=w.hostname,
                pid=w.pid,
                started_at=ensure_aware(w.started_at),
                last_seen_at=last,
                alive=w.stopped_at is None and now - last <= stale_after,
                current_job_id=w.current_job_id,
                jobs_done=w.jobs_done,
                jobs_failed=w.jobs_failed,
            )
        )
    return QueueHealth(counts=counts, due=int(due), lag_seconds=max(0.0, lag), workers=workers)


def list_jobs(session: Session, *, status: str | None = None, limit: int = 50) -> list[Job]:
    query = select(Job)
    if status is not None:
        query = query.where(Job.status == status)
    return list(session.scalars(query.order_by(Job.id.desc()).limit(min(limit, 500))))


def utc_epoch_seconds(value: dt.datetime) -> float:
    return ensure_aware(value).timestamp()
