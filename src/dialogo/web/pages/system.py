"""System health: workers and their heartbeats, jobs by status, how late the queue is."""

from __future__ import annotations

from fastapi import APIRouter, Response

from dialogo.api.routers.system import stale_after
from dialogo.jobs import service as jobs
from dialogo.web.shell import CurrentViewer

router = APIRouter()


@router.get("/system")
def system_page(viewer: CurrentViewer) -> Response:
    now = viewer.ctx.clock.now()
    health = jobs.queue_health(viewer.session, stale_after=stale_after(viewer.ctx), now=now)
    return viewer.render(
        "system.html",
        active="system",
        health=health,
        now=now,
        stale_seconds=int(stale_after(viewer.ctx).total_seconds()),
    )
