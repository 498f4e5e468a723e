"""Engagement prediction for a workspace: train on its published posts, predict drafts and
rank them, rank where and when a text would do best, each with the reasons.

The model is :class:`dialogo.analytics.engagement.EngagementModel` trained on the variants
that have totals (:class:`~dialogo.analytics.models.MetricVariantTotal`); hours and weekdays
are the workspace's (its IANA time zone). It is trained per request: a workspace's history is
thousands of posts at most and fitting takes milliseconds (no model file is kept).

Not built: prediction per *audience segment*. The networks report engagement per post, not per
segment, so the history has nothing to learn a segment effect from; "where and when" ranks
channel × hour × weekday placements instead.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from zoneinfo import ZoneInfo

import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session

from dialogo.accounts.models import Workspace
from dialogo.accounts.permissions import Permission
from dialogo.accounts.service import Principal, authorize
from dialogo.analytics.engagement import (
    MIN_HISTORY,
    EngagementModel,
    Prediction,
    draft_features,
)
from dialogo.analytics.models import MetricVariantTotal
from dialogo.channels.models import Channel
from dialogo.core.clock import ensure_aware
from dialogo.core.errors import InvalidInput, NotFound
from dialogo.publishing.models import Post, PostVariant, VariantStatus

DRAFT_STATES = (VariantStatus.draft.value, VariantStatus.scheduled.value)


@dataclasses.dataclass(frozen=True)
class Ranked:
    variant_id: int | None
    post_id: int | None
    channel_id: int | None
    channel: str
    at: dt.datetime  # when it would go out (UTC)
    text: str
    prediction: Prediction


def _zone(session: Session, workspace_id: int) -> ZoneInfo:
    workspace = session.get(Workspace, workspace_id)
    if workspace is None:
        raise NotFound("no such workspace", code="workspace_not_found")
    return ZoneInfo(workspace.timezone)


def _channel_names(session: Session, workspace_id: int) -> dict[int, str]:
    return dict(
        session.execute(
            select(Channel.id, Channel.name).where(Channel.workspace_id == workspace_id)
        ).all()
    )


def train(session: Session, workspace_id: int) -> EngagementModel:
    """The workspace's model; ``InvalidInput`` when it has fewer than ``MIN_HISTORY`` posts."""
    zone = _zone(session, workspace_id)
    names = _channel_names(session, workspace_id)
    rows, y = [], []
    for total, variant in session.execute(
        select(MetricVariantTotal, PostVariant)
        .join(PostVariant, PostVariant.id == MetricVariantTotal.variant_id)
        .where(
            MetricVariantTotal.workspace_id == workspace_id,
            MetricVariantTotal.published_at.is_not(None),
        )
    ).all():
        assert total.published_at is not None
        at = ensure_aware(total.published_at).astimezone(zone)
        channel = names.get(variant.channel_id or 0, variant.network)
        rows.append(draft_features(variant.text, channel, at, len(variant.media or [])))
        y.append(total.engagements)
    if len(rows) < MIN_HISTORY:
        raise InvalidInput(
            f"{len(rows)} published posts with metrics; at least {MIN_HISTORY} are needed "
            "to predict engagement",
            code="not_enough_history",
        )
    return EngagementModel().fit(rows, np.asarray(y, dtype=np.float64))


def rank_drafts(
    session: Session, principal: Principal, workspace_id: int, *, now: dt.datetime, limit: int = 50
) -> list[Ranked]:
    """Drafts and scheduled variants, best predicted first (a draft without a time is
    predicted at the next full hour)."""
    authorize(session, principal, workspace_id, Permission.analytics_read)
    model = train(session, workspace_id)
    zone = _zone(session, workspace_id)
    names = _channel_names(session, workspace_id)
    next_hour = (now + dt.timedelta(hours=1)).replace(minute=0, second=0, microsecond=0)
    found = session.execute(
        select(PostVariant, Post.scheduled_at)
        .join(Post, Post.id == PostVariant.post_id)
        .where(PostVariant.workspace_id == workspace_id, PostVariant.status.in_(DRAFT_STATES))
        .order_by(PostVariant.id)
        .limit(500)
    ).all()
    out = []
    for variant, scheduled in found:
        at = ensure_aware(scheduled) if scheduled is not None else next_hour
        channel = names.get(variant.channel_id or 0, variant.network)
        row = draft_features(variant.text, channel, at.astimezone(zone), len(variant.media or []))
        out.append(
            Ranked(
                variant.id,
                variant.post_id,
                variant.channel_id,
                channel,
                at,
                variant.text[:140],
                model.explain(row),
            )
        )
    out.sort(key=lambda r: (-r.prediction.engagements, r.variant_id or 0))
    return out[:limit]


def rank_placements(
    session: Session,
    principal: Principal,
    workspace_id: int,
    text: str,
    *,
    now: dt.datetime,
    media: int = 0,
    channel_ids: list[int] | None = None,
    limit: int = 10,
) -> list[Ranked]:
    """Where and when ``text`` would do best: every channel × each hour of the coming week."""
    authorize(session, principal, workspace_id, Permission.analytics_read)
    if not text.strip():
        raise InvalidInput("the text is empty", code="empty_text")
    model = train(session, workspace_id)
    zone = _zone(session, workspace_id)
    names = _channel_names(session, workspace_id)
    wanted = channel_ids or sorted(names)
    unknown = [c for c in wanted if c not in names]
    if unknown:
        raise NotFound(f"no channel {unknown[0]} in this workspace", code="channel_not_found")
    start = (now + dt.timedelta(hours=1)).replace(minute=0, second=0, microsecond=0)
    slots = [start + dt.timedelta(hours=h) for h in range(7 * 24)]
    candidates = [(c, at) for c in wanted for at in slots]
    rows = [draft_features(text, names[c], at.astimezone(zone), media) for c, at in candidates]
    scores = model.predict(rows)
    order = np.argsort(-scores, kind="stable")[:limit]
    return [
        Ranked(
            None,
            None,
            candidates[i][0],
            names[candidates[i][0]],
            candidates[i][1],
            text[:140],
            model.explain(rows[i]),
        )
        for i in order.tolist()
    ]
