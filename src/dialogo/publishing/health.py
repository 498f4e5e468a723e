"""Publishing health for a workspace's team: are workers alive, how late is the queue, which
posts are stuck, unconfirmed or failed (and why), which channels need a person."""

from __future__ import annotations

import dataclasses
import datetime as dt
from typing import Any

from sqlalchemy import and_, or_, select
from sqlalchemy.orm import Session

from dialogo.accounts.permissions import Permission
from dialogo.accounts.service import Principal, authorize
from dialogo.channels.app_limits import AppLimitView, workspace_limits
from dialogo.channels.models import Channel, ChannelStatus
from dialogo.core.clock import ensure_aware, utcnow
from dialogo.jobs import service as jobs
from dialogo.publishing.models import PostVariant, VariantStatus

#: A variant still queued this long after it was due is stuck (no worker took it).
STUCK_AFTER = dt.timedelta(minutes=10)
RECENT_FAILURES = dt.timedelta(days=14)
LIMIT = 100


@dataclasses.dataclass(frozen=True)
class VariantProblem:
    post_id: int
    variant_id: int
    channel_id: int | None
    channel_name: str
    network: str
    status: str
    due_at: dt.datetime | None
    attempts: int
    reason: str | None
    since: dt.datetime
    #: the type of ``reason`` and its sentence's parameters (``dialogo.publishing.reasons``;
    #: None: written before codes were kept)
    code: str | None = None
    params: dict[str, Any] | None = None


@dataclasses.dataclass(frozen=True)
class ChannelProblem:
    channel_id: int
    name: str
    network: str
    status: str
    reason: str | None
    waiting_variants: int
    #: the provider error code behind ``reason`` (None: flagged before codes were kept)
    code: str | None = None


@dataclasses.dataclass(frozen=True)
class PublishingHealth:
    queue: jobs.QueueHealth
    stuck: list[VariantProblem]
    unconfirmed: list[VariantProblem]
    failed: list[VariantProblem]
    channels: list[ChannelProblem]
    #: The apps of the workspace's channels that wait for a network's limit, or whose usage
    #: was reported lately (not a problem for a person: the posts go out after the window).
    apps: list[AppLimitView] = dataclasses.field(default_factory=list)

    @property
    def ok(self) -> bool:
        return (
            self.queue.alive_workers > 0
            and not self.stuck
            and not self.unconfirmed
            and not self.failed
            and not self.channels
        )


def _problem(v: PostVariant, names: dict[int, str]) -> VariantProblem:
    return VariantProblem(
        post_id=v.post_id,
        variant_id=v.id,
        channel_id=v.channel_id,
        channel_name=names.get(v.channel_id or 0, v.network),
        network=v.network,
        status=v.status,
        due_at=ensure_aware(v.due_at) if v.due_at else None,
        attempts=v.attempts,
        reason=v.last_error,
        since=ensure_aware(v.updated_at),
        code=v.last_error_code,
        params=v.last_error_params,
    )


def publishing_health(
    session: Session,
    principal: Principal,
    workspace_id: int,
    *,
    stale_after: dt.timedelta,
    now: dt.datetime | None = None,
    stuck_after: dt.timedelta = STUCK_AFTER,
) -> PublishingHealth:
    """Readable by every member (``posts.read``). The queue figures are the install's (workers
    are shared by every workspace); the posts and channels are this workspace's."""
    authorize(session, principal, workspace_id, Permission.posts_read)
    now = now or utcnow()
    names = {
        int(i): str(n)
        for i, n in session.execute(
            select(Channel.id, Channel.name).where(Channel.workspace_id == workspace_id)
        )
    }
    mine = PostVariant.workspace_id == workspace_id
    stuck = session.scalars(
        select(PostVariant)
        .where(
            mine,
            or_(
                and_(
                    PostVariant.status == VariantStatus.queued.value,
                    PostVariant.due_at <= now - stuck_after,
                ),
                and_(
                    PostVariant.status == VariantStatus.scheduled.value,
                    PostVariant.due_at <= now - stuck_after,
                ),
            ),
        )
        .order_by(PostVariant.due_at)
        .limit(LIMIT)
    )
    unconfirmed = session.scalars(
        select(PostVariant)
        .where(mine, PostVariant.status == VariantStatus.unconfirmed.value)
        .order_by(PostVariant.updated_at)
        .limit(LIMIT)
    )
    failed = session.scalars(
        select(PostVariant)
        .where(
            mine,
            PostVariant.status == VariantStatus.failed.value,
            PostVariant.updated_at >= now - RECENT_FAILURES,
        )
        .order_by(PostVariant.updated_at.desc())
        .limit(LIMIT)
    )
    waiting: dict[int, int] = {}
    for (channel_id,) in session.execute(
        select(PostVariant.channel_id).where(
            mine, PostVariant.status == VariantStatus.waiting_channel.value
        )
    ):
        if channel_id is not None:
            waiting[int(channel_id)] = waiting.get(int(channel_id), 0) + 1
    channels = [
        ChannelProblem(
            channel_id=c.id,
            name=c.name,
            network=c.network,
            status=c.status,
            reason=c.status_reason,
            waiting_variants=waiting.get(c.id, 0),
            code=c.status_code,
        )
        for c in session.scalars(
            select(Channel)
            .where(Channel.workspace_id == workspace_id, Channel.status != ChannelStatus.ok.value)
            .order_by(Channel.name)
        )
    ]
    return PublishingHealth(
        queue=jobs.queue_health(session, stale_after=stale_after, now=now),
        stuck=[_problem(v, names) for v in stuck],
        unconfirmed=[_problem(v, names) for v in unconfirmed],
        failed=[_problem(v, names) for v in failed],
        channels=channels,
        apps=workspace_limits(session, workspace_id, now=now),
    )
