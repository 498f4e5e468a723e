"""Publishing jobs: the periodic dispatcher tick and the publishing lanes.

``register`` puts both on a task registry; the module registers them on the default one with
the installed providers. Tests and benchmarks register them on a registry of their own with
a fake network (``providers=`` returns the registry to use).

A lane is its own unit-of-work boundary: it commits once per claimed batch (the claim), sends
with no transaction open, and commits once per batch again (the outcomes). Its variants are
protected by their own leases, so a lane that dies or loses its job's lease loses nothing.
"""

from __future__ import annotations

import datetime as dt
import functools
import time
from collections.abc import Callable, Mapping
from typing import Any

import httpx

from dialogo.channels.crypto import CredentialCipher
from dialogo.core.config import Settings
from dialogo.jobs.registry import JobContext, TaskRegistry
from dialogo.jobs.registry import registry as default_registry
from dialogo.providers.netpolicy import OutboundPolicy
from dialogo.providers.registry import ProviderRegistry
from dialogo.publishing import dispatcher
from dialogo.publishing.media import MediaSource

#: How often the tick runs; with a lane queued for anything due before the next tick, the
#: lateness of a post is the worker's poll interval, not this period.
DISPATCH_EVERY = dt.timedelta(seconds=5)

ProvidersFor = Callable[[Settings], ProviderRegistry]


@functools.lru_cache(maxsize=8)
def _installed(
    allow: tuple[str, ...], deny: tuple[str, ...], outbound: OutboundPolicy
) -> ProviderRegistry:
    return ProviderRegistry.from_entry_points(allow=allow or None, deny=deny, outbound=outbound)


def installed_providers(settings: Settings) -> ProviderRegistry:
    return _installed(
        tuple(settings.providers_allow), tuple(settings.providers_deny), settings.outbound_policy
    )


def register(
    tasks: TaskRegistry,
    *,
    providers: ProvidersFor = installed_providers,
    every: dt.timedelta = DISPATCH_EVERY,
    caps: Mapping[str, int] | None = None,
    http: httpx.Client | None = None,
    lanes: int = dispatcher.LANES,
    batch: int | None = None,
) -> None:
    """``http``: one client for every provider the lanes open (tests with fake networks).
    Without it each channel gets its own client, kept for the lane's life (sharing one between
    real accounts would share its cookies, so it is not done by default).
    ``batch``: variants per claim (default :data:`dispatcher.PUBLISH_BATCH`)."""
    # Per-channel HTTP clients outlive the lanes: one set per provider registry for the life
    # of this registration (a process's worker). Built again by every lane, the 1,000
    # channels' clients were 15 % of a lane's time in a profile (httpx reads the proxy
    # variables of the environment for each new client). A worker runs one lane at a time.
    shared_clients: dict[int, dispatcher.HttpClients] = {}
    # Decrypted credentials too (by encrypted value, so a renewed token is a new entry):
    # decrypting each channel's again in every lane was 7 % of a worker's time in a profile.
    shared_credentials: dict[tuple[str, ...], dispatcher.CredentialCache] = {}

    @tasks.task(dispatcher.DISPATCH_TASK, every=every)
    def dispatch(ctx: JobContext, payload: dict[str, Any]) -> dict[str, Any]:
        now = ctx.clock.now()
        report = dispatcher.dispatch_due(ctx.session, now=now)
        if report.next_due is not None and report.next_due <= now + every:
            for _ in range(dispatcher.lanes_to_start(ctx.session, lanes)):
                dispatcher.enqueue_lane(ctx.session, max(now, report.next_due))
                report.lanes += 1
        return report.as_dict()

    @tasks.task(dispatcher.PUBLISH_TASK, max_attempts=dispatcher.JOB_MAX_ATTEMPTS)
    def publish(ctx: JobContext, payload: dict[str, Any]) -> dict[str, Any]:
        session = ctx.session
        cipher = CredentialCipher.from_settings(ctx.settings)
        secrets = (*ctx.settings.credentials_keys, ctx.settings.secret_key.get_secret_value())
        credentials = shared_credentials.get(secrets)
        if credentials is None:
            shared_credentials.clear()
            credentials = shared_credentials[secrets] = dispatcher.CredentialCache(cipher)
        registry = providers(ctx.settings)
        media = MediaSource(
            ctx.settings.data_dir,
            secret_key=ctx.settings.secret_key.get_secret_value(),
            public_base=ctx.settings.public_url,
        )
        lease = dt.timedelta(seconds=ctx.settings.worker_lease_seconds)
        size = batch or dispatcher.PUBLISH_BATCH
        worker_id = f"lane:{ctx.job_id}:{ctx.attempt}"
        started = time.monotonic()
        budget = dispatcher.LANE_BUDGET.total_seconds()
        windows: dict[int, dt.datetime] = {}
        totals: dict[str, int] = {}
        more = False
        clients = None
        if http is None:
            clients = shared_clients.get(id(registry))
            if clients is None:
                clients = shared_clients[id(registry)] = dispatcher.HttpClients(registry)
        try:
            while True:
                if time.monotonic() - started > budget:
                    more = True
                    break
                now = ctx.clock.now()
                # The leases run from ``now``: so does the sending deadline. Measured after
                # the claim committed instead, a claim that waited (for the claim lock, on a
                # loaded machine) pushed the deadline past the leases' end, so a variant
                # could be sent while another worker, seeing its lease expired, checked and
                # sent it again (a likely cause of the one double a 10,000-post chaos run
                # made at load average 17; not proven).
                claimed_at = time.monotonic()
                windows = {k: w for k, w in windows.items() if w > now}
                claimed = dispatcher.claim_batch(
                    session,
                    worker_id,
                    now=now,
                    # Held a fence longer than the lane works (the deadlines below): no
                    # takeover asks the network before a late request of ours has landed.
                    lease=dispatcher.claim_lease(lease),
                    limit=size,
                    caps=caps,
                    skip_channels=sorted(windows),
                    job_id=ctx.job_id,
                    commit=True,  # the claim: leases taken, nothing held while sending
                )
                infos = dispatcher.channel_infos(session, claimed)
                dispatcher.attach_media(session, claimed)
                session.commit()  # reads only (the channels on SQLite, the media)
                if not claimed.variants:
                    break
                windows.update(
                    dispatcher.send(
                        claimed,
                        infos,
                        registry=registry,
                        credentials=credentials,
                        now=now,
                        # Never start a send past a third of the lease (the rest is
                        # released), and let no request outlive two thirds of it: the last
                        # third is the margin to record the outcomes while the leases hold.
                        # Before this bound a request slower than the lease (a network
                        # holding it, a loaded machine) let another worker take the variant
                        # over, find nothing yet and publish it again (chaos run, load 17).
                        deadline=claimed_at + lease.total_seconds() / 3,
                        request_deadline=claimed_at + lease.total_seconds() * 2 / 3,
                        backoff_base=ctx.settings.worker_backoff_base_seconds,
                        backoff_cap=ctx.settings.worker_backoff_max_seconds,
                        http=http,
                        media=media,
                        clients=clients,
                    )
                )
                counts = dispatcher.record(session, claimed, now=ctx.clock.now(), cipher=cipher)
                session.commit()
                for key, n in counts.items():
                    totals[key] = totals.get(key, 0) + n
        except BaseException:
            if clients is not None:  # a failed lane's connections are not reused
                shared_clients.pop(id(registry), None)
                clients.close()
            raise
        now = ctx.clock.now()
        if more:
            dispatcher.enqueue_lane(session, now)
        else:
            upcoming = dispatcher.next_due(session, now=now)
            if upcoming is not None and upcoming <= now + dispatcher.LOOKAHEAD:
                # Due now yet not claimed: held back by a cap or a rate-limit window, so pause;
                # due in a moment: start right then (the worker sleeps until a queued job's
                # ``run_at``), not a pause later (which added up to 250 ms to a steady stream).
                held_back = upcoming <= now
                dispatcher.enqueue_lane(
                    session, now + dispatcher.IDLE_PAUSE if held_back else upcoming
                )
                more = True
        return {"outcomes": totals, "successor": more}


register(default_registry)
