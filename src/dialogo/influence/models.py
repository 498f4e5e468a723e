"""Word-of-mouth tables: the interaction graph between contacts, each contact's ranking, and
the rights requests for user-generated content (UGC).

The graph and the ranking are derived data, rebuilt as a whole by
:func:`dialogo.influence.service.build_graph` (no history is kept: the latest build is what
the pages and the API show).
"""

from __future__ import annotations

import datetime as dt
import enum
from typing import Any

from sqlalchemy import JSON, Float, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from dialogo.accounts.models import Audited
from dialogo.core.clock import utcnow
from dialogo.core.db import Base, BigId


class InfluenceEdge(Base):
    """``source → target``: what ``source`` does can make ``target`` act (``target`` replied to,
    mentioned, reposted or follows ``source``), with the estimated probability."""

    __tablename__ = "influence_edges"
    __table_args__ = (Index("ix_influence_edges_workspace_source", "workspace_id", "source_id"),)

    workspace_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("workspaces.id", ondelete="CASCADE"), primary_key=True
    )
    source_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("contacts.id", ondelete="CASCADE"), primary_key=True
    )
    target_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("contacts.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    replies: Mapped[int] = mapped_column(Integer, default=0)
    mentions: Mapped[int] = mapped_column(Integer, default=0)
    reposts: Mapped[int] = mapped_column(Integer, default=0)
    follows: Mapped[int] = mapped_column(Integer, default=0)  # 1: target follows source
    trials: Mapped[int] = mapped_column(Integer, default=0)
    successes: Mapped[int] = mapped_column(Integer, default=0)
    probability: Mapped[float] = mapped_column(Float, default=0.0)
    # "observed" (trials > 0) or "weighted_cascade" (the fallback)
    estimate: Mapped[str] = mapped_column(String(20), default="weighted_cascade")


class InfluenceScore(Base):
    """One contact's place in the influencer ranking of its workspace."""

    __tablename__ = "influence_scores"
    __table_args__ = (Index("ix_influence_scores_workspace_rank", "workspace_id", "rank"),)

    contact_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("contacts.id", ondelete="CASCADE"), primary_key=True
    )
    workspace_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("workspaces.id", ondelete="CASCADE")
    )
    rank: Mapped[int] = mapped_column(Integer)  # 1 = first
    score: Mapped[float] = mapped_column(Float)
    followers: Mapped[int] = mapped_column(Integer, default=0)
    engagement: Mapped[int] = mapped_column(Integer, default=0)
    pagerank: Mapped[float] = mapped_column(Float, default=0.0)
    core: Mapped[int] = mapped_column(Integer, default=0)
    topic_relevance: Mapped[float] = mapped_column(Float, default=0.0)
    out_degree: Mapped[int] = mapped_column(Integer, default=0)
    in_degree: Mapped[int] = mapped_column(Integer, default=0)
    topics: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    computed_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class RightsStatus(enum.StrEnum):
    requested = "requested"
    granted = "granted"
    refused = "refused"


class UgcRightsRequest(Audited, Base):
    """A person of the team asked the author of a customer's post (an inbox message or a
    listening mention) for the right to reuse it; its status and the rights granted."""

    __tablename__ = "influence_ugc_rights"
    __table_args__ = (
        UniqueConstraint("workspace_id", "item_key"),
        Index("ix_influence_ugc_rights_workspace_status", "workspace_id", "status"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    workspace_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("workspaces.id", ondelete="CASCADE")
    )
    # "message:<inbox message id>" or "mention:<mention id>": unique per workspace
    item_key: Mapped[str] = mapped_column(String(40))
    message_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("inbox_messages.id", ondelete="SET NULL"), default=None, index=True
    )
    mention_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("mentions.id", ondelete="SET NULL"), default=None, index=True
    )
    contact_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("contacts.id", ondelete="CASCADE"), default=None, index=True
    )
    author_handle: Mapped[str] = mapped_column(String(255), default="")
    url: Mapped[str | None] = mapped_column(String(2048), default=None)
    text: Mapped[str] = mapped_column(Text, default="")  # the post, as it was when asked
    request_text: Mapped[str] = mapped_column(Text)  # what the team asked the author
    status: Mapped[str] = mapped_column(String(16), default=RightsStatus.requested.value)
    rights: Mapped[str] = mapped_column(Text, default="")  # what was granted (uses, period)
    requested_by: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("users.id", ondelete="SET NULL"), default=None
    )
    requested_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    decided_at: Mapped[dt.datetime | None] = mapped_column(default=None)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
