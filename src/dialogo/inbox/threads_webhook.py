"""Threads replies and mentions into the inbox, the moment Threads pushes them
(:mod:`dialogo.providers.threads.webhook` parses; this stores).

Threads notifications come to the Meta intake, ``/webhooks/meta/<channel id>`` (one intake
for every Meta network; the channel says which parser reads the body). Readable replies and
mentions go through the same ingest as polling (one row per remote message, same ids and
threads as :meth:`ThreadsProvider.fetch_messages`, so what comes both ways is stored once);
the ingest cursor is not touched. A notification naming a reply only by its id is answered at
once and the reply fetched by a job (:data:`FETCH_TASK`, one per channel and post, so a
notification Meta sends twice fetches once); what cannot be fetched or read is quarantined
with the reason, never dropped.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import httpx
from sqlalchemy.orm import Session

from dialogo.channels.crypto import CredentialCipher
from dialogo.channels.models import Channel
from dialogo.channels.service import open_provider
from dialogo.inbox import ingest
from dialogo.inbox.pushed import store_pushed
from dialogo.jobs import service as jobs
from dialogo.providers.base import Credentials, MessageKind
from dialogo.providers.errors import ProviderError
from dialogo.providers.meta.webhook import WebhookProblem
from dialogo.providers.registry import ProviderRegistry
from dialogo.providers.threads import webhook
from dialogo.providers.threads.provider import ThreadsProvider

NETWORK = "threads"
FETCH_TASK = "inbox.threads_fetch"
FETCH_MAX_ATTEMPTS = 5


def account_of(channel: Channel, credentials: Credentials) -> str:
    """The Threads user id the channel's notifications are for."""
    return channel.account_remote_id or credentials.account_id or ""


def _foreign(account: str) -> Any:
    return lambda to: f"a Threads notification for user {to}, not this channel's ({account})"


def store_batch(
    session: Session,
    channel: Channel,
    credentials: Credentials,
    batch: webhook.ThreadsBatch,
    *,
    now: dt.datetime,
) -> ingest.IngestReport:
    """The batch's replies and mentions for this channel's account into the inbox, a fetch
    job for each one named only by id; the rest (another account's, unreadable parts) into
    the quarantine with the reason. Flushes; the caller commits."""
    account = account_of(channel, credentials)

    def accepts(to: str) -> bool:
        return not to or not account or to == account

    report = store_pushed(
        session,
        channel,
        batch.messages,
        batch.problems,
        accepts=accepts,
        foreign=_foreign(account),
        source="Threads webhook",
        now=now,
    )
    for to, item in batch.fetch:
        if not accepts(to):
            ingest.quarantine(session, channel, item, _foreign(account)(to), now=now)
            report.quarantined += 1
            continue
        jobs.enqueue(
            session,
            FETCH_TASK,
            {
                "channel_id": channel.id,
                "media_id": item.media_id,
                "kind": item.kind.value,
                "where": item.where,
                "raw": item.raw,
            },
            run_at=now,
            workspace_id=channel.workspace_id,
            unique_key=f"{FETCH_TASK}:{channel.id}:{item.media_id}",
            max_attempts=FETCH_MAX_ATTEMPTS,
        )
    session.flush()
    return report


def fetch_and_store(
    session: Session,
    payload: dict[str, Any],
    *,
    now: dt.datetime,
    last_attempt: bool,
    registry: ProviderRegistry,
    cipher: CredentialCipher,
    http: httpx.Client | None = None,
) -> dict[str, Any]:
    """The fetch job: read the post the notification named, store it like a pushed one.

    A transient failure is retried (:class:`jobs.RetryLater`) until the last attempt; a
    permanent one (the post is gone, the token refused — the channel is then flagged), or the
    last attempt failing, quarantines the notification with the reason."""
    channel = session.get(Channel, int(payload["channel_id"]))
    if channel is None:
        return {"status": "skipped", "detail": "the channel was removed"}
    media_id = str(payload["media_id"])
    kind = MessageKind(str(payload.get("kind") or MessageKind.reply.value))
    try:
        with open_provider(session, channel, registry=registry, cipher=cipher, http=http) as p:
            if not isinstance(p, ThreadsProvider):
                raise ProviderError(f"{channel.network} channels cannot fetch Threads posts")
            message = p.fetch_post(media_id, kind)
    except ProviderError as exc:
        if exc.transient and not last_attempt:
            raise jobs.RetryLater(f"threads: {exc.message}") from exc
        problem = WebhookProblem(
            str(payload.get("where") or "values"),
            f"the notification named only post {media_id}, and fetching it failed: {exc.message}",
            payload.get("raw"),
            media_id,
        )
        report = store_pushed(
            session,
            channel,
            [],
            [problem],
            accepts=lambda _to: True,
            foreign=lambda _to: "",
            source="Threads webhook",
            now=now,
        )
        return {"status": "quarantined", **report.as_dict()}
    if message is None:
        return {"status": "ignored", "detail": "a reply of the account itself"}
    report = store_pushed(
        session,
        channel,
        [("", message)],
        [],
        accepts=lambda _to: True,
        foreign=lambda _to: "",
        source="Threads webhook",
        now=now,
    )
    return {"status": "ok", **report.as_dict()}
