"""Audience tables about a contact (``contacts.id``, owned by the inbox): the profile
(demographics, CRM identifiers, engagement), interests, and saved segments."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import (
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


class ContactProfile(Audited, Base):
    """What is known of one contact for targeting: declared, imported from a CRM or observed."""

    __tablename__ = "audience_profiles"
    __table_args__ = (
        Index("ix_audience_profiles_workspace_email", "workspace_id", "email"),
        Index("ix_audience_profiles_workspace_external", "workspace_id", "external_id"),
    )
    __audit_exclude__ = frozenset({"updated_at", "last_engaged_at", "engagement_count"})

    contact_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("contacts.id", ondelete="CASCADE"), primary_key=True
    )
    workspace_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("workspaces.id", ondelete="CASCADE"), index=True
    )
    external_id: Mapped[str | None] = mapped_column(String(200), default=None)  # CRM id
    email: Mapped[str | None] = mapped_column(String(320), default=None)
    phone: Mapped[str | None] = mapped_column(String(40), default=None)
    first_name: Mapped[str | None] = mapped_column(String(120), default=None)
    last_name: Mapped[str | None] = mapped_column(String(120), default=None)
    age_band: Mapped[str | None] = mapped_column(String(16), default=None)
    age_min: Mapped[int | None] = mapped_column(Integer, default=None)
    age_max: Mapped[int | None] = mapped_column(Integer, default=None)
    sex: Mapped[str | None] = mapped_column(String(16), default=None)
    place: Mapped[str | None] = mapped_column(String(120), default=None)
    region: Mapped[str | None] = mapped_column(String(120), default=None)
    country: Mapped[str | None] = mapped_column(String(2), default=None)
    postal_code: Mapped[str | None] = mapped_column(String(20), default=None)
    source: Mapped[str] = mapped_column(String(20), default="declared")
    engagement_count: Mapped[int] = mapped_column(Integer, default=0)
    last_engaged_at: Mapped[dt.datetime | None] = mapped_column(default=None)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class ContactInterest(Base):
    """An interest of a contact (a topic key such as ``running``) with a strength 0…1.

    ``source="inferred"`` rows come from what the contact wrote and engaged with
    (:mod:`dialogo.audience.interests`): ``score`` is then the share of their topical
    messages about it, ``confidence`` how sure the inference is (0…1, grows with the
    evidence) and ``evidence`` how many messages or interactions back it."""

    __tablename__ = "audience_interests"
    __table_args__ = (
        Index("ix_audience_interests_workspace_interest", "workspace_id", "interest"),
    )

    contact_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("contacts.id", ondelete="CASCADE"), primary_key=True
    )
    interest: Mapped[str] = mapped_column(String(80), primary_key=True)
    workspace_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("workspaces.id", ondelete="CASCADE")
    )
    score: Mapped[float] = mapped_column(Float, default=1.0)
    source: Mapped[str] = mapped_column(String(20), default="declared")
    confidence: Mapped[float | None] = mapped_column(Float, default=None)
    evidence: Mapped[int] = mapped_column(Integer, default=0)


class Segment(Audited, Base):
    """A saved targeting expression (see :mod:`dialogo.audience.segments`)."""

    __tablename__ = "audience_segments"
    __table_args__ = (UniqueConstraint("workspace_id", "name"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    workspace_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("workspaces.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(String(120))
    expression: Mapped[str] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class Experiment(Audited, Base):
    """A past campaign with a random control group: who was exposed, who responded
    (:mod:`dialogo.audience.receptiveness` learns uplift models from it)."""

    __tablename__ = "audience_experiments"
    __table_args__ = (UniqueConstraint("workspace_id", "name"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    workspace_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("workspaces.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(String(120))
    topic: Mapped[str | None] = mapped_column(String(80), default=None)
    source: Mapped[str] = mapped_column(String(20), default="import")  # import | sandbox
    treated: Mapped[int] = mapped_column(Integer, default=0)
    control: Mapped[int] = mapped_column(Integer, default=0)
    responded_treated: Mapped[int] = mapped_column(Integer, default=0)
    responded_control: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class ExperimentUnit(Base):
    """One contact of an experiment: treated (exposed) or control, and whether they
    responded."""

    __tablename__ = "audience_experiment_units"

    experiment_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("audience_experiments.id", ondelete="CASCADE"), primary_key=True
    )
    contact_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("contacts.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    treated: Mapped[bool] = mapped_column(Boolean)
    responded: Mapped[bool] = mapped_column(Boolean)
