"""Engagement prediction for a workspace: train on its published posts, predict drafts and
rank them, rank where and when a text would do best, each with the reasons; and split a draft's
prediction over the workspace's audience segments ("for whom").

The model is :class:`dialogo.analytics.engagement.TunedEngagementModel` (gradient-boosted trees
on the MAPE loss, hyper-parameters chosen by an inner cross-validation on the history; the
benchmark is ``benchmarks/engagement.py``) trained on the variants that have totals
(:class:`~dialogo.analytics.models.MetricVariantTotal`); hours and weekdays are the workspace's
(its IANA time zone). It is trained per request: a workspace's history is thousands of posts at
most and fitting takes well under a second up to a few hundred posts (no model file is kept).

Per segment (:func:`predict_segments`): the networks report engagement per post, not per
person, so the segment split is not learnt from per-post data. It comes from what the workspace
knows of each contact who can see the channel (an identity on the channel's network, else every
contact with a profile): their interest score in the draft's topic and how often they engaged
with the brand (``ContactProfile.engagement_count``). A contact's weight is
``(TOPIC_FLOOR + interest[topic]) × (1 + engagement_count)``; a segment gets the post's predicted
engagement in proportion to its members' weights, and segments are ranked by engagement per
member. Partial: the hour and the channel act on the post's total only (the workspace stores no
per-person engagement times to learn when each segment is online).
"""

from __future__ import annotations

import collections
import dataclasses
import datetime as dt
import hashlib
import threading
from collections.abc import Sequence
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session

from dialogo.accounts.models import Workspace
from dialogo.accounts.permissions import Permission
from dialogo.accounts.service import Principal, authorize
from dialogo.analytics.engagement import (
    MIN_HISTORY,
    Prediction,
    TunedEngagementModel,
    draft_features,
    topic_of,
)
from dialogo.analytics.models import MetricVariantTotal
from dialogo.audience.models import ContactInterest, ContactProfile
from dialogo.audience.receptiveness import MIN_SEGMENT, candidate_segments, contact_features
from dialogo.audience.service import members_query
from dialogo.channels.models import Channel
from dialogo.core.clock import ensure_aware, utcnow
from dialogo.core.errors import InvalidInput, NotFound
from dialogo.inbox.models import ContactIdentity
from dialogo.publishing.models import Post, PostVariant, VariantStatus

DRAFT_STATES = (VariantStatus.draft.value, VariantStatus.scheduled.value)
#: A contact with no interest in the draft's topic still engages now and then.
TOPIC_FLOOR = 0.1


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


def train(session: Session, workspace_id: int) -> TunedEngagementModel:
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
        .order_by(MetricVariantTotal.variant_id)  # the same fit on every backend
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
    return _fitted(rows, y)


# Fitting tunes by cross-validation (seconds for a large history): a fitted model is kept per
# training set, so pages and API calls reuse it until a post or a metric changes.
_MODELS: collections.OrderedDict[str, TunedEngagementModel] = collections.OrderedDict()
_MODELS_LOCK = threading.Lock()
_MODELS_KEPT = 16


def _fitted(rows: Sequence[Any], y: Sequence[float]) -> TunedEngagementModel:
    key = hashlib.sha256(repr((rows, y)).encode()).hexdigest()
    with _MODELS_LOCK:
        if (cached := _MODELS.get(key)) is not None:
            _MODELS.move_to_end(key)
            return cached
    model = TunedEngagementModel().fit(rows, np.asarray(y, dtype=np.float64))
    with _MODELS_LOCK:
        _MODELS[key] = model
        while len(_MODELS) > _MODELS_KEPT:
            _MODELS.popitem(last=False)
    return model


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


# -- per audience segment -------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class SegmentEngagement:
    label: str
    expression: str
    saved: bool
    size: int  # contacts of the channel's audience in the segment
    engagements: float  # predicted engagements of the post coming from the segment's members
    per_member: float  # ``engagements / size``
    lift: float  # per-member engagement relative to the whole audience's (1 = average)
    # A segment of one profile field: the field and its value (the label's wording in the
    # reader's language, see ``dialogo.audience.receptiveness.FACET_LABELS``).
    facet: str | None = None
    value: str | None = None


@dataclasses.dataclass(frozen=True)
class SegmentForecast:
    channel_id: int
    channel: str
    at: dt.datetime  # UTC
    topic: str | None  # the interest the segment split used (None: engagement history only)
    audience: int  # contacts the split is over
    prediction: Prediction  # the whole post
    segments: list[SegmentEngagement]  # best engagement per member first


def _audience(session: Session, workspace_id: int, network: str, profiled: set[int]) -> list[int]:
    """Contacts with a profile who have an identity on ``network`` (all profiled contacts when
    none has)."""
    on_network = {
        int(c)
        for c in session.scalars(
            select(ContactIdentity.contact_id).where(
                ContactIdentity.workspace_id == workspace_id, ContactIdentity.network == network
            )
        )
    }
    return sorted(profiled & on_network) or sorted(profiled)


def predict_segments(
    session: Session,
    principal: Principal,
    workspace_id: int,
    text: str,
    *,
    channel_id: int,
    at: dt.datetime,
    topic: str | None = None,
    media: int = 0,
    limit: int = 50,
    prediction: Prediction | None = None,
) -> SegmentForecast:
    """A draft's predicted engagement split over the workspace's segments (see the module
    docstring): the saved segments and one per age band, sex, region and interest with at
    least :data:`~dialogo.audience.receptiveness.MIN_SEGMENT` members in the audience.
    ``topic`` is an interest name (default: the text's topic when it is one). ``prediction``:
    the post's prediction when the caller has it already (from :func:`rank_drafts`), which
    saves training the model again."""
    authorize(session, principal, workspace_id, Permission.analytics_read)
    if not text.strip():
        raise InvalidInput("the text is empty", code="empty_text")
    if media < 0:
        raise InvalidInput("media must be 0 or more", field="media")
    channel = session.get(Channel, channel_id)
    if channel is None or channel.workspace_id != workspace_id:
        raise NotFound(f"no channel {channel_id} in this workspace", code="channel_not_found")
    interests = set(
        session.scalars(
            select(ContactInterest.interest)
            .where(ContactInterest.workspace_id == workspace_id)
            .distinct()
        )
    )
    if topic is not None:
        topic = topic.strip().lower()
        if topic not in interests:
            known = ", ".join(sorted(interests)[:30]) or "none yet"
            raise InvalidInput(
                f"no contact has an interest {topic!r}; known interests: {known}",
                field="topic",
                code="unknown_topic",
            )
    else:
        guessed = topic_of(text)
        topic = guessed if guessed in interests else None
    features = contact_features(session, workspace_id)
    if not features:
        raise InvalidInput(
            "no contact has a profile yet: there is no audience to split the prediction over",
            code="no_audience",
        )
    at = ensure_aware(at)
    if prediction is None:
        model = train(session, workspace_id)
        zone = _zone(session, workspace_id)
        row = draft_features(text, channel.name, at.astimezone(zone), media)
        prediction = model.explain(row)

    audience = _audience(session, workspace_id, channel.network, set(features))
    counts = dict(
        session.execute(
            select(ContactProfile.contact_id, ContactProfile.engagement_count).where(
                ContactProfile.workspace_id == workspace_id
            )
        ).all()
    )
    weight = {
        c: (TOPIC_FLOOR + (float(features[c].get(f"interest:{topic}", 0.0)) if topic else 1.0))
        * (1.0 + max(int(counts.get(c) or 0), 0))
        for c in audience
    }
    total = sum(weight.values())
    mean_weight = total / len(audience)
    in_audience = {c: features[c] for c in audience}
    now = utcnow()
    out: list[SegmentEngagement] = []
    for candidate in candidate_segments(session, workspace_id, in_audience):
        members = [
            int(c)
            for c in session.scalars(members_query(workspace_id, candidate.expression, now))
            if int(c) in weight
        ]
        if len(members) < (1 if candidate.saved else MIN_SEGMENT):
            continue
        mass = sum(weight[c] for c in members)
        share = mass / total if total > 0 else len(members) / len(audience)
        engagements = prediction.engagements * share
        out.append(
            SegmentEngagement(
                label=candidate.label,
                expression=candidate.expression,
                saved=candidate.saved,
                size=len(members),
                engagements=engagements,
                per_member=engagements / len(members),
                lift=(mass / len(members)) / mean_weight if mean_weight > 0 else 1.0,
                facet=candidate.facet,
                value=candidate.value,
            )
        )
    out.sort(key=lambda s: (-s.per_member, s.label))
    return SegmentForecast(
        channel_id=channel.id,
        channel=channel.name,
        at=at.astimezone(dt.UTC),
        topic=topic,
        audience=len(audience),
        prediction=prediction,
        segments=out[: max(limit, 1)],
    )
