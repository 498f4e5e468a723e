"""Measurement tables: metric snapshots and their rollups, short links and their clicks,
conversions, spend, and the daily salts that let us count unique visitors without keeping
anything personal.

Metric definitions (documented once, used everywhere):

* ``impressions``: times the post was shown (a person may count several times);
* ``reach``: distinct people who saw it;
* ``engagements`` = likes + replies + reposts + quotes + clicks (what a person *did*);
* **engagement rate by reach** = engagements / reach (how convincing the post was to those who
  saw it);
* **engagement rate by followers** = engagements / the channel's followers when the snapshot
  was taken (how much of the audience the brand owns it moved; comparable across posts with
  and without paid reach).

Snapshots hold the *cumulative* counts a network reported at ``observed_at`` (our clock, UTC).
Rollups hold, per variant and UTC hour or day, the *increase* during that bucket (the last
snapshot of the bucket minus the last snapshot before it), so sums over buckets are totals.
"""

from __future__ import annotations

import datetime as dt
import decimal
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Date,
    Float,
    ForeignKey,
    Index,
    Integer,
    Numeric,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from dialogo.core.clock import utcnow
from dialogo.core.db import Base, BigId

#: The counts every snapshot and rollup carries, in ``PostMetrics`` order.
METRIC_FIELDS: tuple[str, ...] = (
    "impressions",
    "reach",
    "likes",
    "replies",
    "reposts",
    "quotes",
    "clicks",
    "video_views",
)
ENGAGEMENT_FIELDS: tuple[str, ...] = ("likes", "replies", "reposts", "quotes", "clicks")


class MetricSnapshot(Base):
    __tablename__ = "metric_snapshots"
    __table_args__ = (
        Index("ix_metric_snapshots_variant_observed", "variant_id", "observed_at"),
        Index("ix_metric_snapshots_workspace_observed", "workspace_id", "observed_at"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    workspace_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("workspaces.id", ondelete="CASCADE")
    )
    variant_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("post_variants.id", ondelete="CASCADE")
    )
    observed_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    impressions: Mapped[int | None] = mapped_column(Integer, default=None)
    reach: Mapped[int | None] = mapped_column(Integer, default=None)
    likes: Mapped[int | None] = mapped_column(Integer, default=None)
    replies: Mapped[int | None] = mapped_column(Integer, default=None)
    reposts: Mapped[int | None] = mapped_column(Integer, default=None)
    quotes: Mapped[int | None] = mapped_column(Integer, default=None)
    clicks: Mapped[int | None] = mapped_column(Integer, default=None)
    video_views: Mapped[int | None] = mapped_column(Integer, default=None)
    followers: Mapped[int | None] = mapped_column(Integer, default=None)


class MetricRollup(Base):
    __tablename__ = "metric_rollups"
    __table_args__ = (
        UniqueConstraint("variant_id", "granularity", "bucket"),
        Index("ix_metric_rollups_workspace_bucket", "workspace_id", "granularity", "bucket"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    workspace_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("workspaces.id", ondelete="CASCADE")
    )
    variant_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("post_variants.id", ondelete="CASCADE")
    )
    channel_id: Mapped[int | None] = mapped_column(BigId, default=None)
    campaign_id: Mapped[int | None] = mapped_column(BigId, default=None)
    granularity: Mapped[str] = mapped_column(String(8))  # "hour" | "day"
    bucket: Mapped[dt.datetime] = mapped_column()  # start of the UTC hour / day
    impressions: Mapped[int] = mapped_column(Integer, default=0)
    reach: Mapped[int] = mapped_column(Integer, default=0)
    likes: Mapped[int] = mapped_column(Integer, default=0)
    replies: Mapped[int] = mapped_column(Integer, default=0)
    reposts: Mapped[int] = mapped_column(Integer, default=0)
    quotes: Mapped[int] = mapped_column(Integer, default=0)
    clicks: Mapped[int] = mapped_column(Integer, default=0)
    video_views: Mapped[int] = mapped_column(Integer, default=0)


class ShortLink(Base):
    __tablename__ = "short_links"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    workspace_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("workspaces.id", ondelete="CASCADE"), index=True
    )
    code: Mapped[str] = mapped_column(String(32), unique=True)
    destination: Mapped[str] = mapped_column(String(2000))  # the URL with its UTM tags
    utm: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    campaign_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("campaigns.id", ondelete="SET NULL"), default=None, index=True
    )
    channel_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("channels.id", ondelete="SET NULL"), default=None
    )
    post_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("posts.id", ondelete="SET NULL"), default=None
    )
    created_by: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("users.id", ondelete="SET NULL"), default=None
    )
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class LinkClick(Base):
    """One request to ``/l/<code>``. Nothing personal is kept: ``visitor`` is a hash of the
    address and user agent with a salt that exists for one day only (see ``VisitorSalt``);
    ``counted`` is false for bots and floods, with the reason."""

    __tablename__ = "link_clicks"
    __table_args__ = (
        Index("ix_link_clicks_link_at", "link_id", "at"),
        Index("ix_link_clicks_visitor_at", "workspace_id", "visitor", "at"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    workspace_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("workspaces.id", ondelete="CASCADE")
    )
    link_id: Mapped[int] = mapped_column(BigId, ForeignKey("short_links.id", ondelete="CASCADE"))
    at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    visitor: Mapped[str] = mapped_column(String(32))
    counted: Mapped[bool] = mapped_column(Boolean, default=True)
    rejected_reason: Mapped[str | None] = mapped_column(String(24), default=None)


class VisitorSalt(Base):
    """A random salt per UTC day; salts older than yesterday are deleted, after which nobody
    (not even us) can tell whether two visitors' hashes came from the same address."""

    __tablename__ = "visitor_salts"

    day: Mapped[dt.date] = mapped_column(Date, primary_key=True)
    salt: Mapped[str] = mapped_column(String(64))


class Conversion(Base):
    __tablename__ = "conversions"
    __table_args__ = (
        UniqueConstraint("workspace_id", "external_id"),
        Index("ix_conversions_workspace_at", "workspace_id", "occurred_at"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    workspace_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("workspaces.id", ondelete="CASCADE")
    )
    source: Mapped[str] = mapped_column(String(16))  # webhook | pixel | csv | network
    external_id: Mapped[str] = mapped_column(String(200))  # the order id: idempotency
    occurred_at: Mapped[dt.datetime] = mapped_column()
    value: Mapped[decimal.Decimal] = mapped_column(Numeric(14, 2), default=decimal.Decimal(0))
    currency: Mapped[str] = mapped_column(String(3), default="EUR")
    link_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("short_links.id", ondelete="SET NULL"), default=None
    )
    campaign_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("campaigns.id", ondelete="SET NULL"), default=None, index=True
    )
    channel_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("channels.id", ondelete="SET NULL"), default=None
    )
    post_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("posts.id", ondelete="SET NULL"), default=None
    )
    visitor: Mapped[str | None] = mapped_column(String(32), default=None)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class Spend(Base):
    __tablename__ = "spend"
    __table_args__ = (Index("ix_spend_workspace_day", "workspace_id", "day"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    workspace_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("workspaces.id", ondelete="CASCADE")
    )
    day: Mapped[dt.date] = mapped_column(Date)
    amount: Mapped[decimal.Decimal] = mapped_column(Numeric(14, 2))
    currency: Mapped[str] = mapped_column(String(3), default="EUR")
    campaign_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("campaigns.id", ondelete="SET NULL"), default=None, index=True
    )
    channel_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("channels.id", ondelete="SET NULL"), default=None
    )
    post_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("posts.id", ondelete="SET NULL"), default=None
    )
    source: Mapped[str] = mapped_column(String(16), default="manual")  # manual | csv
    note: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


# -- aggregates the dashboard reads (maintained by ``metrics.refresh_rollups``) --------------------


class MetricDailyTotal(Base):
    """Per workspace and UTC day, the sums of that day's daily rollups over all its posts: the
    dashboard's series is one primary-key range read of at most ``days`` rows."""

    __tablename__ = "metric_daily_totals"

    workspace_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("workspaces.id", ondelete="CASCADE"), primary_key=True
    )
    day: Mapped[dt.date] = mapped_column(Date, primary_key=True)
    posts: Mapped[int] = mapped_column(Integer, default=0)  # variants with a rollup that day
    impressions: Mapped[int] = mapped_column(Integer, default=0)
    reach: Mapped[int] = mapped_column(Integer, default=0)
    likes: Mapped[int] = mapped_column(Integer, default=0)
    replies: Mapped[int] = mapped_column(Integer, default=0)
    reposts: Mapped[int] = mapped_column(Integer, default=0)
    quotes: Mapped[int] = mapped_column(Integer, default=0)
    clicks: Mapped[int] = mapped_column(Integer, default=0)
    video_views: Mapped[int] = mapped_column(Integer, default=0)


class MetricVariantTotal(Base):
    """Per published variant, its counts so far (the sum of its daily rollups, which equals its
    latest cumulative snapshot) and the followers at that snapshot. Indexed by publication time
    so "top posts published in the period" is a short index range plus a sort."""

    __tablename__ = "metric_variant_totals"
    __table_args__ = (
        Index(
            "ix_metric_variant_totals_workspace_published",
            "workspace_id",
            "published_at",
            "engagements",
        ),
    )

    variant_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("post_variants.id", ondelete="CASCADE"), primary_key=True
    )
    workspace_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("workspaces.id", ondelete="CASCADE")
    )
    channel_id: Mapped[int | None] = mapped_column(BigId, default=None)
    campaign_id: Mapped[int | None] = mapped_column(BigId, default=None)
    published_at: Mapped[dt.datetime | None] = mapped_column(default=None)
    impressions: Mapped[int] = mapped_column(Integer, default=0)
    reach: Mapped[int] = mapped_column(Integer, default=0)
    likes: Mapped[int] = mapped_column(Integer, default=0)
    replies: Mapped[int] = mapped_column(Integer, default=0)
    reposts: Mapped[int] = mapped_column(Integer, default=0)
    quotes: Mapped[int] = mapped_column(Integer, default=0)
    clicks: Mapped[int] = mapped_column(Integer, default=0)
    video_views: Mapped[int] = mapped_column(Integer, default=0)
    engagements: Mapped[int] = mapped_column(Integer, default=0)
    followers: Mapped[int | None] = mapped_column(Integer, default=None)


# -- A/B tests -------------------------------------------------------------------------------------


class AbTest(Base):
    """An experiment between arms (post variants or any counted treatment). ``metric`` says
    what a success is; trials are impressions for post arms. ``loss_threshold`` is the
    Bayesian stopping rule: stop when the best arm's expected loss is below it."""

    __tablename__ = "ab_tests"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    workspace_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("workspaces.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(String(200))
    metric: Mapped[str] = mapped_column(String(16), default="clicks")
    loss_threshold: Mapped[float] = mapped_column(Float, default=0.001)
    alpha: Mapped[float] = mapped_column(Float, default=0.05)
    power: Mapped[float] = mapped_column(Float, default=0.8)
    min_effect: Mapped[float] = mapped_column(Float, default=0.1)  # relative lift to detect
    status: Mapped[str] = mapped_column(String(16), default="running")  # running | stopped
    winner_arm_id: Mapped[int | None] = mapped_column(BigId, default=None)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    stopped_at: Mapped[dt.datetime | None] = mapped_column(default=None)


class AbArm(Base):
    __tablename__ = "ab_arms"
    __table_args__ = (UniqueConstraint("test_id", "name"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    test_id: Mapped[int] = mapped_column(BigId, ForeignKey("ab_tests.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(64))
    weight: Mapped[float] = mapped_column(Float, default=1.0)  # share of the audience it gets
    variant_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("post_variants.id", ondelete="SET NULL"), default=None
    )
    # Counts given by hand or by an import when the arm is not a post variant.
    trials: Mapped[int] = mapped_column(Integer, default=0)
    successes: Mapped[int] = mapped_column(Integer, default=0)


class WebhookKey(Base):
    """The generation of a workspace's conversion webhook secret. Secrets are derived from the
    server's secret key and the generation (nothing secret is stored); after a rotation the
    previous generation keeps working until ``previous_until`` so shops can switch over."""

    __tablename__ = "conversion_webhook_keys"

    workspace_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("workspaces.id", ondelete="CASCADE"), primary_key=True
    )
    generation: Mapped[int] = mapped_column(Integer, default=0)
    rotated_at: Mapped[dt.datetime | None] = mapped_column(default=None)
    previous_until: Mapped[dt.datetime | None] = mapped_column(default=None)
