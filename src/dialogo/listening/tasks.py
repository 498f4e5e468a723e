"""Listening jobs: a periodic tick enqueues one ingest job per workspace that listens; the
ingest job reads the workspace's channels, stores and matches the mentions, then checks the
alerts for the hour that just ended."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import select

from dialogo.channels.crypto import CredentialCipher
from dialogo.jobs import service as jobs
from dialogo.jobs.registry import JobContext, task
from dialogo.listening import service
from dialogo.listening.mail import SmtpConfig
from dialogo.listening.models import ListeningQuery
from dialogo.providers.netpolicy import guarded_client
from dialogo.publishing.tasks import installed_providers

TICK_TASK = "listening.tick"
INGEST_TASK = "listening.ingest"
INGEST_EVERY = dt.timedelta(minutes=15)


def ingest_key(workspace_id: int, now: dt.datetime) -> str:
    epoch = dt.datetime(2000, 1, 1, tzinfo=dt.UTC)
    return f"{INGEST_TASK}:{workspace_id}:{int((now - epoch) / INGEST_EVERY)}"


@task(TICK_TASK, every=INGEST_EVERY)
def tick(ctx: JobContext, _payload: dict[str, Any]) -> dict[str, Any]:
    now = ctx.clock.now()
    workspaces = ctx.session.scalars(
        select(ListeningQuery.workspace_id).where(ListeningQuery.active.is_(True)).distinct()
    ).all()
    for workspace_id in workspaces:
        jobs.enqueue(
            ctx.session,
            INGEST_TASK,
            {"workspace_id": workspace_id},
            run_at=now,
            workspace_id=workspace_id,
            unique_key=ingest_key(workspace_id, now),
            max_attempts=3,
        )
    return {"enqueued": len(workspaces)}


@task(INGEST_TASK, max_attempts=3)
def ingest(ctx: JobContext, payload: dict[str, Any]) -> dict[str, Any]:
    workspace_id = int(payload["workspace_id"])
    result = service.ingest_channels(
        ctx.session,
        workspace_id,
        registry=installed_providers(ctx.settings),
        cipher=CredentialCipher.from_settings(ctx.settings),
        emotion_model=service.emotion_model_for(ctx.settings),
    )
    with guarded_client(ctx.settings.outbound_policy) as http:
        alerts = service.check_alerts(
            ctx.session,
            workspace_id,
            now=ctx.clock.now(),
            smtp=SmtpConfig.from_settings(ctx.settings),
            base_url=ctx.settings.base_url,
            http=http,
        )
    return {**result.model_dump(), "alerts": len(alerts)}
