"""The customer view: one contact's history across channels — every conversation and message,
the tags and internal notes on those conversations, and the sentiment of what they wrote over
time (as points for a small chart, computed by a pure function)."""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from dialogo.accounts.permissions import Permission
from dialogo.accounts.service import Principal, authorize
from dialogo.core.clock import ensure_aware
from dialogo.core.errors import NotFound
from dialogo.inbox.models import (
    Contact,
    ContactIdentity,
    Conversation,
    ConversationNote,
    ConversationTag,
    Direction,
    Message,
)

#: The most messages a history shows (the most recent ones).
MAX_MESSAGES = 2000


@dataclasses.dataclass(frozen=True)
class SentimentPoint:
    at: dt.datetime
    sentiment: float  # -1..1
    message_id: int


@dataclasses.dataclass(frozen=True)
class CustomerHistory:
    contact: Contact
    identities: list[ContactIdentity]
    conversations: list[Conversation]  # most recent first
    messages: dict[int, list[Message]]  # by conversation id, oldest first
    notes: list[ConversationNote]  # on any of their conversations, oldest first
    tags: dict[int, list[str]]  # by conversation id
    sentiment: list[SentimentPoint]  # their inbound messages with a sentiment, oldest first

    @property
    def all_tags(self) -> list[str]:
        return sorted({t for ts in self.tags.values() for t in ts})

    @property
    def average_sentiment(self) -> float | None:
        if not self.sentiment:
            return None
        return sum(p.sentiment for p in self.sentiment) / len(self.sentiment)


def customer_history(
    session: Session, principal: Principal, workspace_id: int, contact_id: int
) -> CustomerHistory:
    authorize(session, principal, workspace_id, Permission.inbox_read)
    contact = session.get(Contact, contact_id)
    if contact is None or contact.workspace_id != workspace_id:
        raise NotFound("contact not found")
    identities = list(
        session.scalars(
            select(ContactIdentity)
            .where(ContactIdentity.contact_id == contact.id)
            .order_by(ContactIdentity.network, ContactIdentity.id)
        )
    )
    # Conversations started by them, and any conversation where they wrote a message.
    written_in = select(Message.conversation_id).where(
        Message.contact_id == contact.id, Message.workspace_id == workspace_id
    )
    conversations = list(
        session.scalars(
            select(Conversation)
            .where(
                Conversation.workspace_id == workspace_id,
                (Conversation.contact_id == contact.id) | Conversation.id.in_(written_in),
            )
            .order_by(Conversation.last_message_at.desc(), Conversation.id.desc())
        )
    )
    ids = [c.id for c in conversations]
    messages: dict[int, list[Message]] = {cid: [] for cid in ids}
    notes: list[ConversationNote] = []
    tags: dict[int, list[str]] = {cid: [] for cid in ids}
    if ids:
        rows = list(
            session.scalars(
                select(Message)
                .where(Message.conversation_id.in_(ids))
                .order_by(Message.created_at.desc(), Message.id.desc())
                .limit(MAX_MESSAGES)
            )
        )
        for m in reversed(rows):
            if m.conversation_id is not None:
                messages[m.conversation_id].append(m)
        notes = list(
            session.scalars(
                select(ConversationNote)
                .where(ConversationNote.conversation_id.in_(ids))
                .order_by(ConversationNote.created_at, ConversationNote.id)
            )
        )
        for cid, tag in session.execute(
            select(ConversationTag.conversation_id, ConversationTag.tag)
            .where(ConversationTag.conversation_id.in_(ids))
            .order_by(ConversationTag.tag)
        ):
            tags[cid].append(tag)
    sentiment = sorted(
        (
            SentimentPoint(ensure_aware(m.created_at), float(m.sentiment), m.id)
            for ms in messages.values()
            for m in ms
            if m.direction == Direction.inbound.value
            and m.contact_id == contact.id
            and m.sentiment is not None
        ),
        key=lambda p: (p.at, p.message_id),
    )
    return CustomerHistory(contact, identities, conversations, messages, notes, tags, sentiment)


@dataclasses.dataclass(frozen=True)
class Chart:
    """Coordinates of a sentiment-over-time line in a ``width`` × ``height`` box (y grows
    downwards as in SVG; sentiment 1 at the top, -1 at the bottom, 0 at ``zero_y``)."""

    width: int
    height: int
    points: list[tuple[float, float]]
    zero_y: float

    @property
    def polyline(self) -> str:
        return " ".join(f"{x:.1f},{y:.1f}" for x, y in self.points)


def sentiment_chart(
    points: Sequence[SentimentPoint], *, width: int = 320, height: int = 80, pad: int = 4
) -> Chart:
    """Pure: place each point by time (x) and sentiment (y). One point is centred; points at
    the same instant share an x."""
    inner_w, inner_h = width - 2 * pad, height - 2 * pad

    def y_of(s: float) -> float:
        s = max(-1.0, min(1.0, s))
        return pad + (1.0 - (s + 1.0) / 2.0) * inner_h

    if not points:
        return Chart(width, height, [], y_of(0.0))
    start = points[0].at.timestamp()
    span = points[-1].at.timestamp() - start
    coords = [
        (
            pad + ((p.at.timestamp() - start) / span * inner_w if span > 0 else inner_w / 2),
            y_of(p.sentiment),
        )
        for p in points
    ]
    return Chart(width, height, coords, y_of(0.0))
