"""Measurement jobs: the periodic metrics collection (and, through it, the rollups).

``register`` puts them on a task registry; the module registers them on the default one with
the installed providers. Tests register them on a registry of their own.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

from dialogo.analytics import links
from dialogo.analytics.metrics import collect_metrics
from dialogo.channels.crypto import CredentialCipher
from dialogo.core.config import Settings
from dialogo.jobs.registry import JobContext, TaskRegistry
from dialogo.jobs.registry import registry as default_registry
from dialogo.providers.registry import ProviderRegistry
from dialogo.publishing.tasks import installed_providers

COLLECT_TASK = "analytics.collect_metrics"
ROTATE_TASK = "analytics.rotate_salts"
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


register(default_registry)
