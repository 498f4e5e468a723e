"""Inbox jobs: a periodic tick enqueues one ingest job per working channel and period; an
ingest job polls its channel; a send job sends one reply; an Instagram mention job reads the
content of a mention the Meta webhook announced (a Threads fetch job, a reply Threads named by
id); a periodic check stores what Telegram says of each channel's webhook.

``register`` puts them on a task registry; the module registers them on the default one with
the installed providers. Tests register them on their own registry with a fake network.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable
from typing import Any

import httpx
from sqlalchemy import select
from sqlalchemy.orm import Session

from dialogo.channels.crypto import CredentialCipher
from dialogo.channels.models import Channel
from dialogo.core.config import Settings
from dialogo.inbox import instagram_mentions, poll, replies, telegram_webhook, threads_webhook
from dialogo.inbox.pushed import FetchRun
from dialogo.jobs import service as jobs
from dialogo.jobs.models import Job, JobStatus
from dialogo.jobs.registry import JobContext, TaskRegistry
from dialogo.jobs.registry import registry as default_registry
from dialogo.providers.registry import ProviderRegistry
from dialogo.publishing.tasks import installed_providers

TICK_TASK = "inbox.ingest_tick"
INGEST_TASK = "inbox.ingest"
#: How often every working channel is polled.
INGEST_EVERY = dt.timedelta(minutes=1)
INGEST_MAX_ATTEMPTS = 4

ProvidersFor = Callable[[Settings], ProviderRegistry]


def ingest_key(channel_id: int, now: dt.datetime, every: dt.timedelta = INGEST_EVERY) -> str:
    epoch = dt.datetime(2000, 1, 1, tzinfo=dt.UTC)
    return f"{INGEST_TASK}:{channel_id}:{int((now - epoch) / every)}"


def enqueue_ingest(
    session: Session, channel: Channel, *, now: dt.datetime, every: dt.timedelta = INGEST_EVERY
) -> int:
    job = jobs.enqueue(
        session,
        INGEST_TASK,
        {"channel_id": channel.id},
        run_at=now,
        workspace_id=channel.workspace_id,
        unique_key=ingest_key(channel.id, now, every),
        max_attempts=INGEST_MAX_ATTEMPTS,
    )
    return job.id


def enqueue_wakeup(
    session: Session, channel_id: int, workspace_id: int, *, now: dt.datetime
) -> int | None:
    """Poll the channel now (a stream said something arrived): enqueue its ingest job unless
    one is already queued and due, which will fetch the news anyway. A job already running
    may have fetched before the news came, so it does not count. Returns the new job's id."""
    waiting = session.scalar(
        select(Job.id)
        .where(
            Job.status == JobStatus.queued.value,
            Job.task == INGEST_TASK,
            Job.run_at <= now,
            Job.unique_key.like(f"{INGEST_TASK}:{channel_id}:%"),
        )
        .limit(1)
    )
    if waiting is not None:
        return None
    job = jobs.enqueue(
        session,
        INGEST_TASK,
        {"channel_id": channel_id},
        run_at=now,
        workspace_id=workspace_id,
        unique_key=f"{INGEST_TASK}:{channel_id}:stream:{uuid.uuid4().hex}",
        max_attempts=INGEST_MAX_ATTEMPTS,
    )
    return job.id


def register(
    tasks: TaskRegistry,
    *,
    providers: ProvidersFor = installed_providers,
    every: dt.timedelta = INGEST_EVERY,
    http: httpx.Client | None = None,
) -> None:
    @tasks.task(TICK_TASK, every=every)
    def tick(ctx: JobContext, payload: dict[str, Any]) -> dict[str, Any]:
        now = ctx.clock.now()
        channels = poll.channels_to_poll(ctx.session, now=now)
        for channel in channels:
            enqueue_ingest(ctx.session, channel, now=now, every=every)
        return {"channels": len(channels)}

    @tasks.task(INGEST_TASK, max_attempts=INGEST_MAX_ATTEMPTS)
    def ingest(ctx: JobContext, payload: dict[str, Any]) -> dict[str, Any]:
        channel = ctx.session.get(Channel, int(payload["channel_id"]))
        if channel is None:
            return {"status": "skipped", "detail": "the channel was removed"}
        try:
            outcome = poll.poll_channel(
                ctx.session,
                channel,
                registry=providers(ctx.settings),
                cipher=CredentialCipher.from_settings(ctx.settings),
                now=ctx.clock.now(),
                http=http,
            )
        except poll.FetchDeferred as exc:  # transient: nothing was stored, the cursor stayed
            raise jobs.RetryLater(
                f"{channel.network}: {exc.error.message}",
                delay=jobs.backoff_delay(
                    ctx.attempt,
                    base=ctx.settings.worker_backoff_base_seconds,
                    cap=ctx.settings.worker_backoff_max_seconds,
                ),
                keep=exc.keep,  # the app's rate-limit figures outlast the rollback
            ) from exc
        return outcome.as_dict()

    def fetch_run(ctx: JobContext) -> FetchRun:
        return FetchRun(
            registry=providers(ctx.settings),
            cipher=CredentialCipher.from_settings(ctx.settings),
            now=ctx.clock.now(),
            attempt=ctx.attempt,
            backoff_base=ctx.settings.worker_backoff_base_seconds,
            backoff_cap=ctx.settings.worker_backoff_max_seconds,
            http=http,
        )

    @tasks.task(instagram_mentions.TASK, max_attempts=instagram_mentions.MAX_ATTEMPTS)
    def instagram_mention(ctx: JobContext, payload: dict[str, Any]) -> dict[str, Any]:
        # an Instagram @mention named by id: read it, store it or quarantine it
        return instagram_mentions.fetch_and_store(ctx.session, payload, fetch_run(ctx)).as_dict()

    @tasks.task(threads_webhook.FETCH_TASK, max_attempts=threads_webhook.FETCH_MAX_ATTEMPTS)
    def threads_fetch(ctx: JobContext, payload: dict[str, Any]) -> dict[str, Any]:
        # a Threads webhook named a reply only by id: fetch it, store it or quarantine it
        return threads_webhook.fetch_and_store(ctx.session, payload, fetch_run(ctx))

    @tasks.task(telegram_webhook.CHECK_TASK, every=telegram_webhook.CHECK_EVERY)
    def telegram_webhook_check(ctx: JobContext, payload: dict[str, Any]) -> dict[str, Any]:
        # what Telegram says of each webhook, stored for the health page (never asked live)
        report = telegram_webhook.check_webhooks(
            ctx.session,
            registry=providers(ctx.settings),
            cipher=CredentialCipher.from_settings(ctx.settings),
            now=ctx.clock.now(),
            http=http,
        )
        return report.as_dict()

    @tasks.task(replies.SEND_TASK, max_attempts=replies.SEND_MAX_ATTEMPTS + 1)
    def send(ctx: JobContext, payload: dict[str, Any]) -> dict[str, Any]:
        outcome = replies.send_reply(
            ctx.session,
            int(payload["reply_id"]),
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
