"""Publishing: campaigns, posts with one variant per channel, approvals, and the workspace's
publishing settings (approval stages)."""

from __future__ import annotations

import datetime as dt
import decimal
import enum
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
from sqlalchemy import text as sql_text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from dialogo.accounts.models import Audited
from dialogo.core.clock import utcnow
from dialogo.core.db import Base, BigId


class PostStatus(enum.StrEnum):
    draft = "draft"
    pending_approval = "pending_approval"
    approved = "approved"
    scheduled = "scheduled"
    publishing = "publishing"  # at least one variant is on its way
    published = "published"  # every variant that was not cancelled is on the network
    failed = "failed"  # a variant failed for good (the others are final too)
    unconfirmed = "unconfirmed"  # a variant's outcome is still being reconciled
    cancelled = "cancelled"


class VariantStatus(enum.StrEnum):
    draft = "draft"  # the post is not scheduled
    scheduled = "scheduled"  # waiting for its time; the dispatcher enqueues it when due
    queued = "queued"  # a publish job exists for the variant's current round
    waiting_channel = "waiting_channel"  # the channel needs a person; resumes when it is OK
    unconfirmed = "unconfirmed"  # the outcome of a publish is unknown: check before retrying
    published = "published"
    failed = "failed"
    cancelled = "cancelled"


#: Variant states in which a job may be working on the variant.
IN_FLIGHT = (VariantStatus.queued.value, VariantStatus.unconfirmed.value)
FINAL = (
    VariantStatus.published.value,
    VariantStatus.failed.value,
    VariantStatus.cancelled.value,
)


class ApprovalDecision(enum.StrEnum):
    submitted = "submitted"
    approved = "approved"
    rejected = "rejected"


class Campaign(Audited, Base):
    __tablename__ = "campaigns"
    __table_args__ = (UniqueConstraint("workspace_id", "name"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    workspace_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("workspaces.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    goal: Mapped[str] = mapped_column(Text, default="")
    starts_on: Mapped[dt.date | None] = mapped_column(Date, default=None)
    ends_on: Mapped[dt.date | None] = mapped_column(Date, default=None)
    budget: Mapped[decimal.Decimal | None] = mapped_column(Numeric(14, 2), default=None)
    currency: Mapped[str | None] = mapped_column(String(3), default=None)
    # Default UTM tags for the campaign's links: utm_source, utm_medium, utm_campaign, …
    utm: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_by: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("users.id", ondelete="SET NULL"), default=None
    )
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class Post(Audited, Base):
    __tablename__ = "posts"
    __table_args__ = (
        Index("ix_posts_workspace_status", "workspace_id", "status"),
        Index("ix_posts_workspace_scheduled", "workspace_id", "scheduled_at"),
    )
    __audit_exclude__ = frozenset({"updated_at"})

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    workspace_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("workspaces.id", ondelete="CASCADE")
    )
    campaign_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("campaigns.id", ondelete="SET NULL"), default=None, index=True
    )
    author_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("users.id", ondelete="SET NULL"), default=None
    )
    status: Mapped[str] = mapped_column(String(24), default=PostStatus.draft.value)
    scheduled_at: Mapped[dt.datetime | None] = mapped_column(default=None)
    # How many of the workspace's approval stages have approved the current content.
    approval_step: Mapped[int] = mapped_column(Integer, default=0)
    duplicated_from_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("posts.id", ondelete="SET NULL"), default=None
    )
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow)

    variants: Mapped[list[PostVariant]] = relationship(
        back_populates="post",
        cascade="all, delete-orphan",
        order_by="PostVariant.id",
        foreign_keys="PostVariant.post_id",
    )


#: The predicates of the dispatcher's partial indexes on ``post_variants`` (migration 0018).
SCHEDULED_WHERE = "status = 'scheduled'"
RETRY_WHERE = "status IN ('queued', 'unconfirmed') AND lease_until IS NULL"
LEASED_WHERE = "status = 'unconfirmed' AND lease_until IS NOT NULL"


def _partial_index(name: str, columns: list[str], where: str) -> Index:
    return Index(name, *columns, postgresql_where=sql_text(where), sqlite_where=sql_text(where))


class PostVariant(Base):
    """One channel's version of a post. Not audited row by row (the dispatcher writes it on
    every attempt); its post's status changes are."""

    __tablename__ = "post_variants"
    __table_args__ = (
        UniqueConstraint("post_id", "channel_id"),
        # ``id`` too: claims take the earliest due ``ORDER BY due_at, id``; without it a backlog
        # due at one moment (a bulk import for 09:00) was sorted whole at every claim (230 ms
        # per claim at 100,000 due, against 0.4 ms with it; migration 0015).
        # Partial (migration 0018): each holds only the rows a claim looks for, so writing a
        # final outcome inserts into none of them (the ``*_WHERE`` predicates above; the
        # dispatcher's ``_IS_*`` conditions state them with literals, so plans can use them).
        _partial_index("ix_post_variants_scheduled_due", ["due_at", "id"], SCHEDULED_WHERE),
        # The dispatcher's claims: retries and reconciliations due, and expired leases (the
        # leased index also counts the variants in flight per network).
        _partial_index(
            "ix_post_variants_retry_next_attempt", ["next_attempt_at", "id"], RETRY_WHERE
        ),
        _partial_index("ix_post_variants_leased_until", ["lease_until", "network"], LEASED_WHERE),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    post_id: Mapped[int] = mapped_column(BigId, ForeignKey("posts.id", ondelete="CASCADE"))
    workspace_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("workspaces.id", ondelete="CASCADE"), index=True
    )
    # SET NULL, not CASCADE: removing a channel must not silently delete the work queued on it.
    channel_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("channels.id", ondelete="SET NULL"), default=None, index=True
    )
    network: Mapped[str] = mapped_column(String(40))
    text: Mapped[str] = mapped_column(Text, default="")
    media: Mapped[list[Any]] = mapped_column(JSON, default=list)  # media library refs (later)
    first_comment: Mapped[str | None] = mapped_column(Text, default=None)
    thread: Mapped[list[Any]] = mapped_column(JSON, default=list)  # texts following the post
    status: Mapped[str] = mapped_column(String(24), default=VariantStatus.draft.value)
    due_at: Mapped[dt.datetime | None] = mapped_column(default=None)
    # Stable per (post, channel): sent to the network and used to recognise the post there.
    idempotency_key: Mapped[str] = mapped_column(String(100), unique=True)
    # Incremented whenever a new job is made for the variant; the job's unique key holds it.
    dispatch_round: Mapped[int] = mapped_column(Integer, default=0)
    job_id: Mapped[int | None] = mapped_column(BigId, default=None)
    # A previous attempt may have reached the network: ask it before publishing again.
    needs_check: Mapped[bool] = mapped_column(Boolean, default=False)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    # Dispatcher state: when a queued (retry) or unconfirmed (check) variant may be taken
    # again (NULL: nothing to do, or a person must look), and the lease of the worker sending
    # it (NULL: no worker is sending it). An expired lease means the worker died mid-send.
    next_attempt_at: Mapped[dt.datetime | None] = mapped_column(default=None)
    lease_until: Mapped[dt.datetime | None] = mapped_column(default=None)
    claimed_by: Mapped[str | None] = mapped_column(String(100), default=None)
    # Slow media: what the network said of a post it is still processing (a ``queued``
    # variant with this set is checked, then finalised; see publishing.dispatcher).
    pending_state: Mapped[dict[str, Any] | None] = mapped_column(JSON, default=None)
    first_attempt_at: Mapped[dt.datetime | None] = mapped_column(default=None)
    remote_id: Mapped[str | None] = mapped_column(String(500), default=None)
    url: Mapped[str | None] = mapped_column(String(1000), default=None)
    thread_ids: Mapped[list[Any]] = mapped_column(JSON, default=list)
    last_error: Mapped[str | None] = mapped_column(Text, default=None)
    # The type of ``last_error`` (a provider error code or one of the dispatcher's own,
    # :mod:`dialogo.publishing.reasons`) and its sentence's parameters: the pages word it in
    # the reader's language. NULL on rows written before codes were kept (their text shows).
    last_error_code: Mapped[str | None] = mapped_column(String(40), default=None)
    last_error_params: Mapped[dict[str, Any] | None] = mapped_column(JSON, default=None)
    published_at: Mapped[dt.datetime | None] = mapped_column(default=None)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow)

    post: Mapped[Post] = relationship(back_populates="variants", foreign_keys=[post_id])


class PostApproval(Audited, Base):
    __tablename__ = "post_approvals"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    post_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("posts.id", ondelete="CASCADE"), index=True
    )
    workspace_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("workspaces.id", ondelete="CASCADE")
    )
    stage: Mapped[str] = mapped_column(String(80))
    decision: Mapped[str] = mapped_column(String(16))
    comment: Mapped[str] = mapped_column(Text, default="")
    user_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("users.id", ondelete="SET NULL"), default=None
    )
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class WorkspacePublishingSettings(Audited, Base):
    __tablename__ = "workspace_publishing_settings"

    workspace_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("workspaces.id", ondelete="CASCADE"), primary_key=True
    )
    approval_required: Mapped[bool] = mapped_column(Boolean, default=False)
    # Ordered stage names, e.g. ["editor", "approver", "client"]; each must approve in turn.
    approval_stages: Mapped[list[Any]] = mapped_column(JSON, default=list)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


# --- recurring posts, queue slots, media library, webhooks (issue #4, engine side) -----------


class RecurrenceFrequency(enum.StrEnum):
    daily = "daily"
    weekly = "weekly"
    monthly = "monthly"


class RecurringPost(Audited, Base):
    """A post repeated by a rule computed in the workspace's time zone; its occurrences are
    materialised ahead of time as ordinary scheduled posts (see publishing.recurrence)."""

    __tablename__ = "recurring_posts"
    __audit_exclude__ = frozenset({"updated_at", "materialised_until"})

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    workspace_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("workspaces.id", ondelete="CASCADE"), index=True
    )
    campaign_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("campaigns.id", ondelete="SET NULL"), default=None
    )
    created_by: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("users.id", ondelete="SET NULL"), default=None
    )
    name: Mapped[str] = mapped_column(String(200), default="")
    frequency: Mapped[str] = mapped_column(String(16))
    interval: Mapped[int] = mapped_column(Integer, default=1)
    weekdays: Mapped[list[Any]] = mapped_column(JSON, default=list)  # 0 = Monday … 6 = Sunday
    month_day: Mapped[int | None] = mapped_column(Integer, default=None)
    local_time: Mapped[str] = mapped_column(String(5))  # "HH:MM" in the workspace's zone
    starts_on: Mapped[dt.date] = mapped_column(Date)
    ends_on: Mapped[dt.date | None] = mapped_column(Date, default=None)
    # What each occurrence posts: [{"channel_id": …, "text": …, "first_comment": …, …}]
    variants: Mapped[list[Any]] = mapped_column(JSON, default=list)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    materialised_until: Mapped[dt.datetime | None] = mapped_column(default=None)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class RecurringOccurrence(Base):
    """One materialised occurrence; the unique (rule, instant) makes materialising idempotent."""

    __tablename__ = "recurring_occurrences"
    __table_args__ = (UniqueConstraint("recurring_id", "occurs_at"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    recurring_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("recurring_posts.id", ondelete="CASCADE")
    )
    occurs_at: Mapped[dt.datetime] = mapped_column()
    post_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("posts.id", ondelete="SET NULL"), default=None, index=True
    )
    error: Mapped[str | None] = mapped_column(Text, default=None)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class QueueSlot(Audited, Base):
    """A weekly time at which a channel's queue publishes (weekday + local time)."""

    __tablename__ = "queue_slots"
    __table_args__ = (UniqueConstraint("channel_id", "weekday", "local_time"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    workspace_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("workspaces.id", ondelete="CASCADE"), index=True
    )
    channel_id: Mapped[int] = mapped_column(BigId, ForeignKey("channels.id", ondelete="CASCADE"))
    weekday: Mapped[int] = mapped_column(Integer)  # 0 = Monday … 6 = Sunday
    local_time: Mapped[str] = mapped_column(String(5))  # "HH:MM"


class MediaAsset(Audited, Base):
    """An uploaded image or video, stored under the data directory by content hash."""

    __tablename__ = "media_assets"
    __table_args__ = (UniqueConstraint("workspace_id", "sha256"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    workspace_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("workspaces.id", ondelete="CASCADE"), index=True
    )
    uploaded_by: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("users.id", ondelete="SET NULL"), default=None
    )
    filename: Mapped[str] = mapped_column(String(255))
    mime_type: Mapped[str] = mapped_column(String(100))
    size_bytes: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64))
    storage_path: Mapped[str] = mapped_column(String(500))  # relative to the data directory
    alt_text: Mapped[str] = mapped_column(Text, default="")
    #: A video's length and picture size, read from its MP4 header at upload (migration 0020);
    #: ``None``: unknown (images, and videos uploaded before): checked when the post is sent.
    duration_seconds: Mapped[float | None] = mapped_column(Float, default=None)
    width: Mapped[int | None] = mapped_column(Integer, default=None)
    height: Mapped[int | None] = mapped_column(Integer, default=None)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class WebhookEndpoint(Audited, Base):
    __tablename__ = "webhook_endpoints"
    __audit_exclude__ = frozenset({"secret"})

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    workspace_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("workspaces.id", ondelete="CASCADE"), index=True
    )
    url: Mapped[str] = mapped_column(String(1000))
    description: Mapped[str] = mapped_column(String(500), default="")
    secret: Mapped[str] = mapped_column(Text)  # "whsec_…", encrypted with the credentials key
    events: Mapped[list[Any]] = mapped_column(JSON, default=list)  # empty: every event
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class WebhookDelivery(Base):
    """One event for one endpoint, and the log of its delivery attempts."""

    __tablename__ = "webhook_deliveries"
    __table_args__ = (Index("ix_webhook_deliveries_endpoint_created", "endpoint_id", "created_at"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    workspace_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("workspaces.id", ondelete="CASCADE"), index=True
    )
    endpoint_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("webhook_endpoints.id", ondelete="CASCADE")
    )
    message_id: Mapped[str] = mapped_column(String(64), unique=True)
    event_type: Mapped[str] = mapped_column(String(64))
    payload: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    status: Mapped[str] = mapped_column(String(16), default="pending")  # delivered, failed
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    # [{"at": …, "status_code": …, "error": …, "duration_ms": …}, …]
    log: Mapped[list[Any]] = mapped_column(JSON, default=list)
    next_attempt_at: Mapped[dt.datetime | None] = mapped_column(default=None)
    delivered_at: Mapped[dt.datetime | None] = mapped_column(default=None)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
