"""Listening: saved queries, mentions (stored once per channel and remote id), which queries
each mention matched, the alert targets and the alerts raised."""

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


class QueryKind(enum.StrEnum):
    brand = "brand"
    competitor = "competitor"
    topic = "topic"


class MentionSource(enum.StrEnum):
    search = "search"  # a channel's network search
    feed = "feed"  # an RSS/Atom channel
    file = "file"  # a CSV/JSON/JSONL import
    webhook = "webhook"  # pushed to the intake endpoint


class AlertKind(enum.StrEnum):
    volume = "volume"
    negative_share = "negative_share"


class ListeningQuery(Audited, Base):
    __tablename__ = "listening_queries"
    __table_args__ = (UniqueConstraint("workspace_id", "name"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    workspace_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("workspaces.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(String(200))
    query: Mapped[str] = mapped_column(Text)
    kind: Mapped[str] = mapped_column(String(20), default=QueryKind.brand.value)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class ListeningCursor(Base):
    """How far ingestion read one channel: a search term's cursor, or a feed's."""

    __tablename__ = "listening_cursors"
    __table_args__ = (UniqueConstraint("channel_id", "key"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    channel_id: Mapped[int] = mapped_column(BigId, ForeignKey("channels.id", ondelete="CASCADE"))
    key: Mapped[str] = mapped_column(String(300))  # "feed" or "search:<term>"
    cursor: Mapped[str | None] = mapped_column(Text, default=None)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class Mention(Base):
    __tablename__ = "mentions"
    __table_args__ = (
        UniqueConstraint("workspace_id", "channel", "remote_id"),
        Index("ix_mentions_workspace_id_posted_at", "workspace_id", "posted_at"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    workspace_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("workspaces.id", ondelete="CASCADE")
    )
    # Where it came from: "sandbox", "bluesky", "rss", "import", "webhook" … (the network).
    channel: Mapped[str] = mapped_column(String(64))
    channel_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("channels.id", ondelete="SET NULL"), default=None
    )
    remote_id: Mapped[str] = mapped_column(String(512))
    source: Mapped[str] = mapped_column(String(20))
    author_handle: Mapped[str] = mapped_column(String(255), default="")
    author_name: Mapped[str] = mapped_column(String(255), default="")
    reach: Mapped[int] = mapped_column(Integer, default=0)  # the author's followers, if known
    text: Mapped[str] = mapped_column(Text)
    url: Mapped[str | None] = mapped_column(String(2048), default=None)
    posted_at: Mapped[dt.datetime] = mapped_column()
    ingested_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    language: Mapped[str] = mapped_column(String(8))
    sentiment: Mapped[float] = mapped_column(Float)
    label: Mapped[str] = mapped_column(String(10))
    is_question: Mapped[bool] = mapped_column(Boolean, default=False)
    is_complaint: Mapped[bool] = mapped_column(Boolean, default=False)
    topics: Mapped[list[str]] = mapped_column(JSON, default=list)
    # The emotions an emotion model (``dialogo nlp train --format multiemotions``) found, by
    # Plutchik name ("joy", "anger"…; empty: none); None where no model judged the mention.
    emotions: Mapped[list[str] | None] = mapped_column(JSON(none_as_null=True), default=None)
    # A person's correction of ``label``: shown instead of it and exported as training data.
    corrected_label: Mapped[str | None] = mapped_column(String(10), default=None)
    corrected_by: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("users.id", ondelete="SET NULL"), default=None
    )
    corrected_at: Mapped[dt.datetime | None] = mapped_column(default=None)

    @property
    def final_label(self) -> str:
        return self.corrected_label or self.label


class MentionMatch(Base):
    __tablename__ = "mention_matches"
    __table_args__ = (Index("ix_mention_matches_query_id", "query_id"),)

    mention_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("mentions.id", ondelete="CASCADE"), primary_key=True
    )
    query_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("listening_queries.id", ondelete="CASCADE"), primary_key=True
    )


class AlertTarget(Audited, Base):
    """Where a workspace's listening alerts go besides the in-app notification."""

    __tablename__ = "listening_alert_targets"
    __audit_exclude__ = frozenset({"secret"})

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    workspace_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("workspaces.id", ondelete="CASCADE"), index=True
    )
    kind: Mapped[str] = mapped_column(String(10))  # "webhook" | "email"
    target: Mapped[str] = mapped_column(String(2048))  # URL or e-mail address
    secret: Mapped[str] = mapped_column(String(128), default="")  # HMAC key for webhooks


class ListeningAlert(Base):
    __tablename__ = "listening_alerts"
    __table_args__ = (UniqueConstraint("workspace_id", "query_id", "kind", "window_start"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    workspace_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("workspaces.id", ondelete="CASCADE"), index=True
    )
    query_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("listening_queries.id", ondelete="CASCADE")
    )
    kind: Mapped[str] = mapped_column(String(20))
    window_start: Mapped[dt.datetime] = mapped_column()
    observed: Mapped[float] = mapped_column(Float)
    expected: Mapped[float] = mapped_column(Float)
    threshold: Mapped[float] = mapped_column(Float)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    delivery: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
