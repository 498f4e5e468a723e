"""Notifications to a workspace's team (a channel needs attention, a post failed, …)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from dialogo.core.clock import utcnow
from dialogo.core.db import Base, BigId


class Notification(Base):
    __tablename__ = "notifications"
    __table_args__ = (Index("ix_notifications_workspace_created", "workspace_id", "created_at"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    workspace_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("workspaces.id", ondelete="CASCADE")
    )
    # A person the notification is for (a teammate mentioned in a note); None: the whole team.
    recipient_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("users.id", ondelete="CASCADE"), default=None, index=True
    )
    kind: Mapped[str] = mapped_column(String(64))
    # What the kind's message (``dialogo.notifications.kinds.MESSAGES``) is worded with, in
    # the reader's language; NULL: a notification stored before (its title is shown as is).
    params: Mapped[dict[str, Any] | None] = mapped_column(JSON(none_as_null=True), default=None)
    severity: Mapped[str] = mapped_column(String(16), default="warning")
    title: Mapped[str] = mapped_column(String(300))  # in English (``params``: reworded)
    body: Mapped[str] = mapped_column(Text, default="")
    link: Mapped[str | None] = mapped_column(String(500), default=None)
    # While an unresolved notification with the same key exists, a new one is not added.
    dedupe_key: Mapped[str | None] = mapped_column(String(200), default=None, index=True)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    resolved_at: Mapped[dt.datetime | None] = mapped_column(default=None)
