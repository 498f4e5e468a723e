"""System API: worker heartbeats and queue health, for every signed-in member of the team."""

from __future__ import annotations

import datetime as dt

from fastapi import APIRouter
from pydantic import BaseModel

from dialogo.api.deps import Ctx, CurrentPrincipal, Db
from dialogo.jobs import service as jobs


class WorkerOut(BaseModel):
    worker_id: str
    hostname: str
    pid: int
    started_at: dt.datetime
    last_seen_at: dt.datetime
    alive: bool
    current_job_id: int | None
    jobs_done: int
    jobs_failed: int


class QueueHealthOut(BaseModel):
    counts: dict[str, int]
    due: int
    lag_seconds: float
    alive_workers: int
    workers: list[WorkerOut]


router = APIRouter(prefix="/api/v1/system", tags=["system"])


def stale_after(ctx: Ctx) -> dt.timedelta:
    return dt.timedelta(seconds=max(3 * ctx.settings.worker_heartbeat_seconds, 30))


@router.get("/queue", operation_id="get_queue_health", response_model=QueueHealthOut)
def get_queue_health(ctx: Ctx, principal: CurrentPrincipal, session: Db) -> QueueHealthOut:
    """Worker heartbeats, jobs by status, and how late the oldest due job is."""
    health = jobs.queue_health(session, stale_after=stale_after(ctx), now=ctx.clock.now())
    return QueueHealthOut(
        counts=health.counts,
        due=health.due,
        lag_seconds=health.lag_seconds,
        alive_workers=health.alive_workers,
        workers=[WorkerOut.model_validate(w, from_attributes=True) for w in health.workers],
    )
