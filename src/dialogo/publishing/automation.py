"""Jobs of the publishing engine beyond the dispatcher: materialising recurring posts ahead of
time, and delivering signed webhooks (one job per attempt)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from dialogo.channels.crypto import CredentialCipher
from dialogo.jobs.registry import JobContext, TaskRegistry
from dialogo.jobs.registry import registry as default_registry
from dialogo.providers.netpolicy import guarded_client
from dialogo.publishing import recurrence, webhooks
from dialogo.publishing.tasks import ProvidersFor, installed_providers

MATERIALISE_TASK = "publishing.recurrence.materialise"
#: Often enough that a new week enters the horizon on time; the horizon is days long.
MATERIALISE_EVERY = dt.timedelta(minutes=15)


def register(
    tasks: TaskRegistry,
    *,
    providers: ProvidersFor = installed_providers,
    every: dt.timedelta = MATERIALISE_EVERY,
) -> None:
    @tasks.task(MATERIALISE_TASK, every=every)
    def materialise(ctx: JobContext, payload: dict[str, Any]) -> dict[str, Any]:
        made = recurrence.materialise_all(
            ctx.session,
            registry=providers(ctx.settings),
            cipher=CredentialCipher.from_settings(ctx.settings),
            now=ctx.clock.now(),
        )
        return {"occurrences": made}

    @tasks.task(webhooks.DELIVER_TASK, max_attempts=3)
    def deliver(ctx: JobContext, payload: dict[str, Any]) -> dict[str, Any]:
        with guarded_client(ctx.settings.outbound_policy) as http:
            delivery = webhooks.deliver(
                ctx.session,
                str(payload["message_id"]),
                cipher=CredentialCipher.from_settings(ctx.settings),
                now=ctx.clock.now(),
                http=http,
            )
        if delivery is None:
            return {"status": "gone"}
        return {"status": delivery.status, "attempts": delivery.attempts}


register(default_registry)
