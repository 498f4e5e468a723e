"""The unified inbox: contacts (one per person across networks), conversations, messages, the
per-channel ingest cursor, the quarantine of malformed inbound items, replies, notes, tags,
presence ("someone else is replying"), saved replies and the workspace's inbox settings.

``contacts`` and ``contact_identities`` are shared: other domains (listening, audience,
influence) reference ``contacts.id`` and keep their own tables about a contact.
"""

from __future__ import annotations

import datetime as dt
import enum
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from dialogo.accounts.models import Audited
from dialogo.core.clock import utcnow
from dialogo.core.db import Base, BigId


class ConversationStatus(enum.StrEnum):
    open = "open"
    pending = "pending"  # waiting for the customer
    snoozed = "snoozed"  # hidden until ``snoozed_until``
    closed = "closed"


class Direction(enum.StrEnum):
    inbound = "inbound"
    outbound = "outbound"


class ReplyStatus(enum.StrEnum):
    queued = "queued"
    sent = "sent"
    unconfirmed = "unconfirmed"  # the network's answer was lost: checked before any resend
    failed = "failed"


# --- contacts (shared) ----------------------------------------------------------------------


class Contact(Base):
    """One person who writes to or about the brand, whatever the networks they use."""

    __tablename__ = "contacts"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    workspace_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("workspaces.id", ondelete="CASCADE"), index=True
    )
    display_name: Mapped[str] = mapped_column(String(255), default="")
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class ContactIdentity(Base):
    """A contact's account on one network (its handle there and what the network says of it)."""

    __tablename__ = "contact_identities"
    __table_args__ = (UniqueConstraint("workspace_id", "network", "remote_id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    contact_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("contacts.id", ondelete="CASCADE"), index=True
    )
    workspace_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("workspaces.id", ondelete="CASCADE")
    )
    network: Mapped[str] = mapped_column(String(40))
    remote_id: Mapped[str] = mapped_column(String(500))
    handle: Mapped[str] = mapped_column(String(255), default="")
    display_name: Mapped[str] = mapped_column(String(255), default="")
    followers: Mapped[int | None] = mapped_column(Integer, default=None)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


# --- conversations and messages -------------------------------------------------------------


class Conversation(Audited, Base):
    __tablename__ = "conversations"
    __table_args__ = (
        UniqueConstraint("channel_id", "thread_key"),
        Index("ix_conversations_workspace_status", "workspace_id", "status", "last_message_at"),
    )
    __audit_exclude__ = frozenset(
        {
            "updated_at",
            "last_message_at",
            "last_inbound_at",
            "waiting_since",
            "priority",
            "priority_reasons",
            "message_count",
            "preview",
            "first_message_at",
            "first_response_at",
        }
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    workspace_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("workspaces.id", ondelete="CASCADE")
    )
    channel_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("channels.id", ondelete="CASCADE"), index=True
    )
    network: Mapped[str] = mapped_column(String(40))
    # The network's thread (root post, room+thread, DM chat); unique per channel.
    thread_key: Mapped[str] = mapped_column(String(500))
    kind: Mapped[str] = mapped_column(String(16))  # MessageKind of the first message
    contact_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("contacts.id", ondelete="SET NULL"), default=None, index=True
    )
    status: Mapped[str] = mapped_column(String(16), default=ConversationStatus.open.value)
    snoozed_until: Mapped[dt.datetime | None] = mapped_column(default=None)
    assignee_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("users.id", ondelete="SET NULL"), default=None, index=True
    )
    priority: Mapped[int] = mapped_column(Integer, default=0)
    priority_reasons: Mapped[list[Any]] = mapped_column(JSON, default=list)
    preview: Mapped[str] = mapped_column(String(300), default="")
    message_count: Mapped[int] = mapped_column(Integer, default=0)
    first_message_at: Mapped[dt.datetime | None] = mapped_column(default=None)
    last_message_at: Mapped[dt.datetime | None] = mapped_column(default=None)
    last_inbound_at: Mapped[dt.datetime | None] = mapped_column(default=None)
    # The oldest inbound message not answered yet (None: nothing waits for the brand).
    waiting_since: Mapped[dt.datetime | None] = mapped_column(default=None)
    first_response_at: Mapped[dt.datetime | None] = mapped_column(default=None)
    resolved_at: Mapped[dt.datetime | None] = mapped_column(default=None)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class Message(Base):
    """One message of a conversation: inbound from the network, or a reply the brand sent."""

    __tablename__ = "inbox_messages"
    __table_args__ = (
        UniqueConstraint("channel_id", "remote_id"),
        Index("ix_inbox_messages_conversation_created", "conversation_id", "created_at"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    workspace_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("workspaces.id", ondelete="CASCADE"), index=True
    )
    channel_id: Mapped[int] = mapped_column(BigId, ForeignKey("channels.id", ondelete="CASCADE"))
    conversation_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("conversations.id", ondelete="CASCADE"), default=None
    )
    remote_id: Mapped[str] = mapped_column(String(500))
    direction: Mapped[str] = mapped_column(String(10), default=Direction.inbound.value)
    kind: Mapped[str] = mapped_column(String(16))
    remote_conversation_id: Mapped[str | None] = mapped_column(String(500), default=None)
    in_reply_to: Mapped[str | None] = mapped_column(String(500), default=None)
    contact_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("contacts.id", ondelete="SET NULL"), default=None, index=True
    )
    author_remote_id: Mapped[str] = mapped_column(String(500), default="")
    author_handle: Mapped[str] = mapped_column(String(255), default="")
    author_name: Mapped[str] = mapped_column(String(255), default="")
    author_followers: Mapped[int | None] = mapped_column(Integer, default=None)
    text: Mapped[str] = mapped_column(Text, default="")
    url: Mapped[str | None] = mapped_column(String(1000), default=None)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    ingested_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    # Enrichment (dialogo.nlp.analyse), once, at ingest.
    language: Mapped[str | None] = mapped_column(String(8), default=None)
    sentiment: Mapped[float | None] = mapped_column(Float, default=None)
    sentiment_label: Mapped[str | None] = mapped_column(String(16), default=None)
    is_question: Mapped[bool] = mapped_column(Boolean, default=False)
    is_complaint: Mapped[bool] = mapped_column(Boolean, default=False)
    # Outbound: the person who wrote it.
    sent_by: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("users.id", ondelete="SET NULL"), default=None
    )
    # What the provider needs to answer it (CIDs, room id …): string values of the raw item.
    ref: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    # Outbound: an automated acknowledgement (no person wrote it), labelled as such.
    automated: Mapped[bool] = mapped_column(Boolean, default=False)
    # The author deleted it on the network (a Threads ``delete`` notification): kept, with its
    # text, for the record; the conversation labels it and no reply can be sent to it.
    deleted_at: Mapped[dt.datetime | None] = mapped_column(default=None)


class IngestCursor(Base):
    """Where the next poll of a channel starts; advanced only after its rows are committed."""

    __tablename__ = "inbox_ingest_cursors"

    channel_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("channels.id", ondelete="CASCADE"), primary_key=True
    )
    cursor: Mapped[str | None] = mapped_column(Text, default=None)
    last_run_at: Mapped[dt.datetime | None] = mapped_column(default=None)
    # A rate limit: not polled before this.
    paused_until: Mapped[dt.datetime | None] = mapped_column(default=None)
    last_error: Mapped[str | None] = mapped_column(Text, default=None)
    messages_total: Mapped[int] = mapped_column(Integer, default=0)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class TelegramWebhookState(Base):
    """What Telegram last said of a channel's webhook (``getWebhookInfo``), stored by the
    periodic check :data:`dialogo.inbox.telegram_webhook.CHECK_TASK`; the health page and API
    read this row and never ask Telegram while they render."""

    __tablename__ = "telegram_webhook_states"

    channel_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("channels.id", ondelete="CASCADE"), primary_key=True
    )
    # The address Telegram holds for the bot ("" when it has none: getUpdates works).
    url: Mapped[str] = mapped_column(String(1000), default="")
    pending_update_count: Mapped[int | None] = mapped_column(Integer, default=None)
    last_error_date: Mapped[dt.datetime | None] = mapped_column(default=None)
    last_error_message: Mapped[str | None] = mapped_column(Text, default=None)
    # Since when each check saw deliveries failing (a recent error and updates waiting).
    failing_since: Mapped[dt.datetime | None] = mapped_column(default=None)
    # Why a person is needed (None: all is well), in English; the channel is flagged for it.
    problem: Mapped[str | None] = mapped_column(Text, default=None)
    # Its kind (``dialogo.inbox.telegram_webhook.PROBLEMS``) and parameters, so pages say it in
    # the reader's language; NULL on rows stored before (their ``problem`` is shown as is).
    problem_code: Mapped[str | None] = mapped_column(String(40), default=None)
    problem_params: Mapped[dict[str, Any] | None] = mapped_column(JSON, default=None)
    checked_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class QuarantinedItem(Base):
    """An inbound item that could not be stored as a message, kept with the reason."""

    __tablename__ = "inbox_quarantine"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    workspace_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("workspaces.id", ondelete="CASCADE"), index=True
    )
    channel_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("channels.id", ondelete="SET NULL"), default=None
    )
    remote_id: Mapped[str | None] = mapped_column(String(500), default=None)
    reason: Mapped[str] = mapped_column(Text)
    payload: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


# --- work -----------------------------------------------------------------------------------


class ConversationTag(Base):
    __tablename__ = "conversation_tags"

    conversation_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("conversations.id", ondelete="CASCADE"), primary_key=True
    )
    tag: Mapped[str] = mapped_column(String(60), primary_key=True)


class ConversationNote(Audited, Base):
    """An internal note: seen by the team, never sent."""

    __tablename__ = "conversation_notes"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    conversation_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("conversations.id", ondelete="CASCADE"), index=True
    )
    workspace_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("workspaces.id", ondelete="CASCADE")
    )
    author_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("users.id", ondelete="SET NULL"), default=None
    )
    body: Mapped[str] = mapped_column(Text)
    # Teammates mentioned in the body: [{"user_id": 7, "text": "alice"}] (``@alice``), members
    # of the workspace when the note was written (see :mod:`dialogo.inbox.mentions`).
    mentions: Mapped[list[Any]] = mapped_column(JSON, default=list)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class ConversationPresence(Base):
    """Who is writing a reply to a conversation right now (refreshed by the reply form)."""

    __tablename__ = "conversation_presence"

    conversation_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("conversations.id", ondelete="CASCADE"), primary_key=True
    )
    user_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    seen_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class Reply(Audited, Base):
    """A reply a person wrote; a job sends it through the provider exactly once."""

    __tablename__ = "inbox_replies"
    __audit_exclude__ = frozenset({"attempts", "job_id"})

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    workspace_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("workspaces.id", ondelete="CASCADE"), index=True
    )
    conversation_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("conversations.id", ondelete="CASCADE"), index=True
    )
    # The message answered (the conversation's latest inbound one when the reply was written).
    in_reply_to_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("inbox_messages.id", ondelete="SET NULL"), default=None
    )
    agent_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("users.id", ondelete="SET NULL"), default=None, index=True
    )
    text: Mapped[str] = mapped_column(Text)
    idempotency_key: Mapped[str] = mapped_column(String(100), unique=True)
    status: Mapped[str] = mapped_column(String(16), default=ReplyStatus.queued.value)
    needs_check: Mapped[bool] = mapped_column(Boolean, default=False)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    job_id: Mapped[int | None] = mapped_column(BigId, default=None)
    saved_reply_id: Mapped[int | None] = mapped_column(BigId, default=None)
    # Authenticity: the share of recent replies this one nearly copies (0..1), at send time.
    copy_score: Mapped[float] = mapped_column(Float, default=0.0)
    remote_id: Mapped[str | None] = mapped_column(String(500), default=None)
    url: Mapped[str | None] = mapped_column(String(1000), default=None)
    last_error: Mapped[str | None] = mapped_column(Text, default=None)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    sent_at: Mapped[dt.datetime | None] = mapped_column(default=None)
    # Sent by an acknowledgement rule, not by a person (``agent_id`` is None): labelled as
    # automated, never the first human response, not in the per-agent personal share.
    automated: Mapped[bool] = mapped_column(Boolean, default=False)


class SavedReply(Audited, Base):
    """A reusable reply with ``{variables}`` (``{name}``, ``{handle}``, ``{agent}``)."""

    __tablename__ = "saved_replies"
    __table_args__ = (UniqueConstraint("workspace_id", "name"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    workspace_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("workspaces.id", ondelete="CASCADE")
    )
    name: Mapped[str] = mapped_column(String(120))
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class InboxSettings(Audited, Base):
    """Response-time targets and business hours (in the workspace's time zone)."""

    __tablename__ = "inbox_settings"

    workspace_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("workspaces.id", ondelete="CASCADE"), primary_key=True
    )
    first_response_minutes: Mapped[int] = mapped_column(Integer, default=60)
    resolution_minutes: Mapped[int] = mapped_column(Integer, default=24 * 60)
    # {"mon": [["09:00", "18:00"]], …}; a missing day is closed. Empty: always open.
    business_hours: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    # Round-robin: the member who got the last conversation.
    last_assignee_id: Mapped[int | None] = mapped_column(BigId, default=None)
    # Automated acknowledgements: off unless an admin turns them on; the disclosure added to
    # each one (None: the default, in the workspace's language).
    auto_ack_enabled: Mapped[bool] = mapped_column(Boolean, default=False)
    ack_disclosure: Mapped[str | None] = mapped_column(String(300), default=None)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class InboxRule(Audited, Base):
    """Conditions → actions, applied at ingest to conversations that got new messages, in
    ``position`` order (then id); a rule with ``stop`` ends the evaluation when it matches."""

    __tablename__ = "inbox_rules"
    __table_args__ = (Index("ix_inbox_rules_workspace_position", "workspace_id", "position"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    workspace_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("workspaces.id", ondelete="CASCADE")
    )
    name: Mapped[str] = mapped_column(String(120))
    position: Mapped[int] = mapped_column(Integer, default=0)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    stop: Mapped[bool] = mapped_column(Boolean, default=False)
    # {"channel_id": 3, "words": ["refund"], "language": "it", "sentiment_below": -0.3,
    #  "followers_at_least": 10000, "kind": "direct", "question": true, "complaint": true}
    conditions: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    # {"tag": "refund", "assign_to": 7, "priority": 30, "close": true, "acknowledge": 4}
    actions: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
