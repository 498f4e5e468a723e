"""Measurement jobs: the periodic metrics collection (and, through it, the rollups), and the
scheduled e-mail reports (a periodic tick that enqueues the due ones, and the send job; see
:mod:`dialogo.analytics.schedules`).

``register`` puts them on a task registry; the module registers them on the default one with
the installed providers. Tests register them on a registry of their own.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

from dialogo.analytics import links, rendering, schedules
from dialogo.analytics.metrics import collect_metrics
from dialogo.channels.crypto import CredentialCipher
from dialogo.core.config import Settings
from dialogo.jobs.models import Job
from dialogo.jobs.registry import JobContext, TaskRegistry
from dialogo.jobs.registry import registry as default_registry
from dialogo.notifications.mail import SmtpConfig
from dialogo.providers.registry import ProviderRegistry
from dialogo.publishing.tasks import installed_providers

COLLECT_TASK = "analytics.collect_metrics"
ROTATE_TASK = "analytics.rotate_salts"
REPORTS_TICK_TASK = "analytics.report_tick"
SEND_REPORT_TASK = schedules.SEND_TASK
#: How often due report schedules are looked for (a report is at most this late).
REPORTS_TICK_EVERY = dt.timedelta(minutes=5)
#: How often published posts' counts are read from the networks.
COLLECT_EVERY = dt.timedelta(minutes=30)

ProvidersFor = Callable[[Settings], ProviderRegistry]


def register(
    tasks: TaskRegistry,
    *,
    providers: ProvidersFor = installed_providers,
    every: dt.timedelta = COLLECT_EVERY,
) -> None:
    @tasks.task(COLLECT_TASK, every=every, max_attempts=3)
    def collect(ctx: JobContext, payload: dict[str, Any]) -> dict[str, Any]:
        workspace = payload.get("workspace_id")
        report = collect_metrics(
            ctx.session,
            registry=providers(ctx.settings),
            cipher=CredentialCipher.from_settings(ctx.settings),
            now=ctx.clock.now(),
            workspace_id=int(workspace) if workspace is not None else None,
        )
        return report.as_dict()

    @tasks.task(ROTATE_TASK, every=dt.timedelta(hours=1), max_attempts=3)
    def rotate(ctx: JobContext, payload: dict[str, Any]) -> dict[str, Any]:
        return {"deleted": links.forget_old_salts(ctx.session, now=ctx.clock.now())}

    register_reports(tasks)


def register_reports(tasks: TaskRegistry) -> None:
    """The scheduled e-mail reports' tick and send job."""

    @tasks.task(REPORTS_TICK_TASK, every=REPORTS_TICK_EVERY, max_attempts=3)
    def reports_tick(ctx: JobContext, payload: dict[str, Any]) -> dict[str, Any]:
        return {"enqueued": schedules.enqueue_due(ctx.session, now=ctx.clock.now())}

    @tasks.task(SEND_REPORT_TASK, max_attempts=schedules.SEND_MAX_ATTEMPTS)
    def send_report(ctx: JobContext, payload: dict[str, Any]) -> dict[str, Any]:
        job = ctx.session.get(Job, ctx.job_id)
        return schedules.deliver(
            ctx.session,
            schedule_id=int(payload["schedule_id"]),
            period=str(payload["period"]),
            smtp=SmtpConfig.from_settings(ctx.settings),
            renderer=rendering.registered_renderer(),
            attempt=ctx.attempt,
            max_attempts=job.max_attempts if job is not None else schedules.SEND_MAX_ATTEMPTS,
            now=ctx.clock.now(),
        )


register(default_registry)
