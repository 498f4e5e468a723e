"""Threads replies and mentions into the inbox, the moment Threads pushes them
(:mod:`dialogo.providers.threads.webhook` parses; this stores).

Threads notifications come to the Meta intake, ``/webhooks/meta/<channel id>`` (one intake
for every Meta network; the channel says which parser reads the body). Readable replies and
mentions go through the same ingest as polling (one row per remote message, same ids and
threads as :meth:`ThreadsProvider.fetch_messages`, so what comes both ways is stored once);
the ingest cursor is not touched. A notification naming a reply only by its id is answered at
once and the reply fetched by a job (:data:`FETCH_TASK`, one per channel and post, so a
notification Meta sends twice fetches once); what cannot be fetched or read is quarantined
with the reason, never dropped. The fetch job is the shared one of
:func:`dialogo.inbox.pushed.fetch_pushed` (Meta's app rate limit recorded and waited for).

A ``delete`` notification marks the stored message deleted (kept, labelled in the inbox).
Threads sends no edit notification: a reply or mention pushed again with other text replaces
the stored text; one named only by id changes nothing (there is no text to apply).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy.orm import Session

from dialogo.channels.models import Channel
from dialogo.inbox import ingest
from dialogo.inbox.pushed import (
    FetchOutcome,
    FetchRun,
    apply_edits,
    fetch_pushed,
    mark_deleted,
    store_pushed,
)
from dialogo.jobs import service as jobs
from dialogo.providers.base import Credentials, InboundMessage, MessageKind, Provider
from dialogo.providers.errors import ProviderError
from dialogo.providers.meta.webhook import WebhookProblem
from dialogo.providers.threads import webhook
from dialogo.providers.threads.provider import ThreadsProvider

NETWORK = "threads"
FETCH_TASK = "inbox.threads_fetch"
FETCH_MAX_ATTEMPTS = 5
SOURCE = "Threads webhook"


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
    """The batch's replies and mentions for this channel's account into the inbox (an edited
    one's new text applied), a fetch job for each one named only by id, its deleted posts
    marked; the rest (another account's, unreadable parts) into the quarantine with the
    reason. Flushes; the caller commits."""
    account = account_of(channel, credentials)

    def accepts(to: str) -> bool:
        return not to or not account or to == account

    # Threads sends no edit notification: a reply or mention already stored that comes again
    # with other text is its edited version (one named only by id stays as stored).
    apply_edits(session, channel, [m for to, m in batch.messages if accepts(to)], now=now)
    # Deletions are matched on this channel's stored messages only (another account's
    # deleted post is not in them): marked, kept for the record.
    mark_deleted(session, channel, batch.deleted, now=now)
    report = store_pushed(
        session,
        channel,
        batch.messages,
        batch.problems,
        accepts=accepts,
        foreign=_foreign(account),
        source=SOURCE,
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


def fetch_and_store(session: Session, payload: dict[str, Any], run: FetchRun) -> dict[str, Any]:
    """The fetch job: read the post the notification named, store it like a pushed one
    (:func:`dialogo.inbox.pushed.fetch_pushed`).

    A transient failure is retried (:class:`jobs.RetryLater`, after Meta's wait for a rate
    limit — the app's window is recorded, so the poller and the dispatcher wait too) until the
    last attempt; a permanent one (the post is gone, the token refused — the channel is then
    flagged), or the last attempt failing, quarantines the notification with the reason."""
    channel = session.get(Channel, int(payload["channel_id"]))
    if channel is None:
        return FetchOutcome("skipped", "the channel was removed").as_dict()
    media_id = str(payload["media_id"])
    kind = MessageKind(str(payload.get("kind") or MessageKind.reply.value))

    def fetch(provider: Provider) -> InboundMessage | None:
        if not isinstance(provider, ThreadsProvider):
            raise ProviderError(f"{channel.network} channels cannot fetch Threads posts")
        return provider.fetch_post(media_id, kind)

    def quarantine(why: str) -> tuple[Any, str]:
        problem = WebhookProblem(
            str(payload.get("where") or "values"),
            f"the notification named only post {media_id}, and fetching it failed: {why}",
            payload.get("raw"),
            media_id,
        )
        return problem, f"{SOURCE}, {problem.where}: {problem.reason}"

    outcome = fetch_pushed(
        session,
        channel,
        run,
        fetch,
        quarantine,
        max_attempts=FETCH_MAX_ATTEMPTS,
        label="threads fetch",
    )
    return outcome.as_dict()
