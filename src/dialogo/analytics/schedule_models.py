"""Scheduled e-mail reports: a schedule (when, in which language and format, to whom) and one
delivery row per schedule and period (the record that makes sending happen at most once).

A delivery moves ``queued`` → ``sending`` (committed *before* the SMTP conversation starts) →
``sent``; an SMTP error puts it back to ``queued`` for a retry, and after the last attempt to
``failed``. A delivery found in ``sending`` by a later attempt means a worker stopped in the
middle of the conversation: it becomes ``uncertain`` and the workspace is told, instead of
sending a second copy (see :mod:`dialogo.analytics.schedules`).
"""

from __future__ import annotations

import datetime as dt
import enum
from typing import Any

from sqlalchemy import JSON, Boolean, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from dialogo.accounts.models import Audited
from dialogo.core.clock import utcnow
from dialogo.core.db import Base, BigId


class ReportFrequency(enum.StrEnum):
    weekly = "weekly"
    monthly = "monthly"


class DeliveryStatus(enum.StrEnum):
    queued = "queued"
    sending = "sending"
    sent = "sent"
    failed = "failed"
    uncertain = "uncertain"  # a worker stopped mid-conversation: not re-sent, the team is told


class ReportSchedule(Audited, Base):
    __tablename__ = "report_schedules"
    __audit_exclude__ = frozenset(
        {"updated_at", "next_run_at", "last_sent_at", "last_error", "last_error_at"}
    )
    __table_args__ = (Index("ix_report_schedules_active_next_run", "active", "next_run_at"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    workspace_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("workspaces.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(String(200))
    frequency: Mapped[str] = mapped_column(String(16))  # ReportFrequency
    weekday: Mapped[int | None] = mapped_column(Integer, default=None)  # weekly: 0 = Monday
    month_day: Mapped[int | None] = mapped_column(Integer, default=None)  # monthly: 1–31
    local_time: Mapped[str] = mapped_column(String(5), default="08:00")  # HH:MM, workspace zone
    language: Mapped[str] = mapped_column(String(8), default="en")
    formats: Mapped[list[Any]] = mapped_column(JSON, default=list)  # "pdf", "html"
    campaign_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("campaigns.id", ondelete="SET NULL"), default=None
    )
    recipients: Mapped[list[Any]] = mapped_column(JSON, default=list)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    next_run_at: Mapped[dt.datetime | None] = mapped_column(default=None)
    last_sent_at: Mapped[dt.datetime | None] = mapped_column(default=None)
    last_error: Mapped[str | None] = mapped_column(Text, default=None)
    last_error_at: Mapped[dt.datetime | None] = mapped_column(default=None)
    created_by: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("users.id", ondelete="SET NULL"), default=None
    )
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class ReportDelivery(Base):
    __tablename__ = "report_deliveries"
    __table_args__ = (UniqueConstraint("schedule_id", "period"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    workspace_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("workspaces.id", ondelete="CASCADE"), index=True
    )
    schedule_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("report_schedules.id", ondelete="CASCADE")
    )
    # The period's key: the local date and time of the occurrence ("2026-12-07T08:00"), or
    # "manual:<token>" for a "send now".
    period: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16), default=DeliveryStatus.queued.value)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    recipients: Mapped[list[Any]] = mapped_column(JSON, default=list)
    message_id: Mapped[str | None] = mapped_column(String(255), default=None)
    error: Mapped[str | None] = mapped_column(Text, default=None)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    started_at: Mapped[dt.datetime | None] = mapped_column(default=None)
    finished_at: Mapped[dt.datetime | None] = mapped_column(default=None)
