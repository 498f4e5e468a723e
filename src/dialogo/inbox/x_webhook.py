"""X Account Activity deliveries (mentions, replies, direct messages) into the inbox, the
moment X pushes them (:mod:`dialogo.providers.x.webhook` parses; this stores).

The messages go through the same ingest as polling (:func:`dialogo.inbox.ingest.store_messages`:
one row per remote message), with the same remote ids and thread keys the X provider builds
from the v2 API, so a message that arrives both by webhook and by the next poll is stored once.
The ingest cursor is not touched: polling keeps its own position and finds those messages
already stored.

Threading an answer: v1.1 posts do not carry X's ``conversation_id`` (the root post). An
answer is threaded with the post it answers when that is stored (the ingest does it); when it
is not and it answers one of the account's own posts, that post is taken as the root (the
usual case: people answering what the brand published), which is what polling would say when
the brand's post started the conversation. Partial: an answer to a brand post that was itself
an answer in someone else's conversation starts a thread of its own here, where polling would
have put it under the other conversation's root.
"""

from __future__ import annotations

import dataclasses
import datetime as dt

from sqlalchemy import select
from sqlalchemy.orm import Session

from dialogo.channels.models import Channel
from dialogo.inbox import ingest
from dialogo.inbox.models import Message
from dialogo.inbox.pushed import store_pushed
from dialogo.providers.base import Credentials, InboundMessage
from dialogo.providers.x import webhook

NETWORK = "x"


def consumer_secret(credentials: Credentials) -> str:
    """The secret X signs the channel's deliveries with: the app's consumer secret."""
    return credentials.extra.get("consumer_secret", "")


def account_of(channel: Channel, credentials: Credentials) -> str:
    """The X user id the channel's deliveries are for (``for_user_id``)."""
    return channel.account_remote_id or credentials.account_id or ""


def _thread_answers(
    session: Session, channel: Channel, messages: list[InboundMessage], account: str
) -> list[InboundMessage]:
    """Answers to one of the account's posts whose parent is not stored: the parent is the
    conversation's root (see the module docstring)."""
    parents = {
        m.in_reply_to
        for m in messages
        if m.conversation_id is None
        and m.in_reply_to
        and m.raw.get("in_reply_to_user_id") == account
    }
    if not parents:
        return messages
    stored = set(
        session.scalars(
            select(Message.remote_id).where(
                Message.channel_id == channel.id, Message.remote_id.in_(parents)
            )
        )
    )
    out = []
    for m in messages:
        if m.in_reply_to in parents and m.in_reply_to not in stored:
            m = dataclasses.replace(m, conversation_id=m.in_reply_to)
        out.append(m)
    return out


def store_batch(
    session: Session,
    channel: Channel,
    credentials: Credentials,
    batch: webhook.ActivityBatch,
    *,
    now: dt.datetime,
) -> ingest.IngestReport:
    """The batch's messages for this channel's account into the inbox; the rest (another
    account's deliveries, unreadable parts) into the quarantine with the reason. Flushes; the
    caller commits."""
    account = account_of(channel, credentials)
    return store_pushed(
        session,
        channel,
        batch.messages,
        batch.problems,
        accepts=lambda to: bool(account) and to == account,
        foreign=lambda to: (
            f"an X delivery for user {to}, not this channel's ({account or 'unknown'})"
        ),
        source="X webhook",
        now=now,
        prepare=lambda ours: _thread_answers(session, channel, ours, account),
    )
