"""Messenger and Instagram notifications (direct messages, comments) into the inbox, the
moment Meta pushes them (:mod:`dialogo.providers.meta.webhook` parses; this stores).

The messages go through the same ingest as polling (:func:`dialogo.inbox.ingest.store_messages`:
one row per remote message), with the same remote ids and thread keys the providers build
from the Graph API, so a message that arrives both by webhook and by the next poll is stored
once. The ingest cursor is not touched: polling keeps its own position and simply finds those
messages already stored.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy.orm import Session

from dialogo.channels.models import Channel
from dialogo.inbox import ingest, instagram_mentions
from dialogo.inbox.pushed import store_pushed
from dialogo.providers.base import Credentials
from dialogo.providers.meta import webhook

#: The networks whose channels take Messenger/Instagram notifications.
NETWORKS = frozenset(webhook.OBJECTS)


def app_secret(credentials: Credentials) -> str:
    """The secret that signs the channel's notifications: an explicit ``app_secret``, else
    the app secret the channel was connected with (``client_secret``)."""
    return credentials.extra.get("app_secret") or credentials.extra.get("client_secret") or ""


def account_of(channel: Channel, credentials: Credentials) -> str:
    """The Page id or Instagram account id the channel's notifications are for."""
    return channel.account_remote_id or credentials.account_id or ""


def store_batch(
    session: Session,
    channel: Channel,
    credentials: Credentials,
    batch: webhook.PageBatch,
    *,
    now: dt.datetime,
) -> ingest.IngestReport:
    """The batch's messages for this channel's account into the inbox; the rest (another
    account's entries, unreadable parts) into the quarantine with the reason; one job per
    Instagram @mention, which reads its content (:mod:`dialogo.inbox.instagram_mentions`).
    Flushes; the caller commits."""
    account = account_of(channel, credentials)
    name = channel.network.capitalize()
    ours = [ref for to, ref in batch.mentions if not account or to == account]
    for to, ref in batch.mentions:
        if account and to != account:
            reason = f"a {name} mention for account {to}, not this channel's ({account})"
            ingest.quarantine(session, channel, ref, reason, now=now)
    # Only ids: each mention's content is read by a job, not in Meta's request.
    instagram_mentions.enqueue(session, channel, ours, now=now)
    report = store_pushed(
        session,
        channel,
        batch.messages,
        batch.problems,
        accepts=lambda to: not account or to == account,
        foreign=lambda to: (
            f"a {name} notification for account {to}, not this channel's ({account})"
        ),
        source=f"{name} webhook",
        now=now,
    )
    report.quarantined += len(batch.mentions) - len(ours)
    return report
