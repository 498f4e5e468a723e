"""Publishing jobs: the periodic dispatcher tick and one publish job per variant and round.

``register`` puts both on a task registry; the module registers them on the default one with
the installed providers. Tests and benchmarks register them on a registry of their own with
a fake network (``providers=`` returns the registry to use).
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Callable
from typing import Any

import httpx

from dialogo.channels.crypto import CredentialCipher
from dialogo.core.config import Settings
from dialogo.jobs import service as jobs
from dialogo.jobs.registry import JobContext, TaskRegistry
from dialogo.jobs.registry import registry as default_registry
from dialogo.providers.registry import ProviderRegistry
from dialogo.publishing import dispatcher

#: The longest a due post waits for the dispatcher (its lateness bound, plus the worker's poll).
DISPATCH_EVERY = dt.timedelta(seconds=5)

ProvidersFor = Callable[[Settings], ProviderRegistry]


@functools.lru_cache(maxsize=8)
def _installed(allow: tuple[str, ...], deny: tuple[str, ...]) -> ProviderRegistry:
    return ProviderRegistry.from_entry_points(allow=allow or None, deny=deny)


def installed_providers(settings: Settings) -> ProviderRegistry:
    return _installed(tuple(settings.providers_allow), tuple(settings.providers_deny))


def register(
    tasks: TaskRegistry,
    *,
    providers: ProvidersFor = installed_providers,
    every: dt.timedelta = DISPATCH_EVERY,
    caps: dict[str, int] | None = None,
    http: httpx.Client | None = None,
) -> None:
    """``http``: one client for every provider the jobs open (tests and benchmarks with fake
    networks). Without it each job's provider makes its own, which costs an SSL context
    (tens of milliseconds) per publish; sharing one between real accounts would share its
    cookies, so it is not done by default."""

    @tasks.task(dispatcher.DISPATCH_TASK, every=every)
    def dispatch(ctx: JobContext, payload: dict[str, Any]) -> dict[str, Any]:
        now = ctx.clock.now()
        report = dispatcher.dispatch_due(ctx.session, now=now, caps=caps)
        if report.more:  # a backlog: the next tick now, not at the next period
            jobs.enqueue(
                ctx.session,
                dispatcher.DISPATCH_TASK,
                {"after": ctx.job_id},
                run_at=now,
                unique_key=f"{dispatcher.DISPATCH_TASK}:after:{ctx.job_id}",
                max_attempts=3,
            )
        return report.as_dict()

    @tasks.task(dispatcher.PUBLISH_TASK, max_attempts=dispatcher.JOB_MAX_ATTEMPTS)
    def publish(ctx: JobContext, payload: dict[str, Any]) -> dict[str, Any]:
        outcome = dispatcher.publish_variant(
            ctx.session,
            int(payload["variant_id"]),
            int(payload["round"]),
            attempt=ctx.attempt,
            registry=providers(ctx.settings),
            cipher=CredentialCipher.from_settings(ctx.settings),
            now=ctx.clock.now(),
            backoff_base=ctx.settings.worker_backoff_base_seconds,
            backoff_cap=ctx.settings.worker_backoff_max_seconds,
            http=http,
        )
        return outcome.as_dict()


register(default_registry)
