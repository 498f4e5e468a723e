"""Best time to post, from the workspace's own history, with hierarchical Bayesian smoothing.

The model. A post published at local hour-of-week ``t`` collects reactions in the following
hours in proportion to ``rate[h] · decay(h − t)``: ``rate[h]`` is how active the audience is
at hour ``h`` of the week (the unknown), ``decay(k) = exp(−k / decay_hours)`` how fast a post
sinks in the feed. So reactions observed at hour ``h`` are Poisson with mean
``rate[h] · exposure[h]``, where ``exposure[h] = Σ_posts decay(h − t_post)``.

Hierarchical Gamma-Poisson shrinkage: a group (a segment, or a channel) has
``rate_g[h] ~ Gamma(m · parent[h], m)`` around its parent's rhythm (the channel's for a
segment, the workspace's for a channel, a flat rhythm at the top), so the posterior mean is
``(m · parent[h] + reactions[h]) / (m + exposure[h])``: a small account leans on its parent,
a big one speaks for itself. ``m`` is the prior's weight in units of exposure. The rhythm
is also smoothed over neighbouring hours (a circular kernel) before it becomes a parent.

The answer: ``score[t] = Σ_k rate[t + k] · decay(k)`` over the horizon, the expected reactions
to a post at ``t``; drawing rates from the Gamma posterior gives each slot a credible interval
and the probability of being the best. :func:`best_slots` is what the publishing queue calls.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections import defaultdict
from zoneinfo import ZoneInfo

import numpy as np
from numpy.typing import NDArray
from sqlalchemy import select
from sqlalchemy.orm import Session

from dialogo.accounts.models import Workspace
from dialogo.accounts.permissions import Permission
from dialogo.accounts.service import Principal, authorize
from dialogo.analytics.models import ENGAGEMENT_FIELDS, MetricRollup
from dialogo.analytics.schemas import BestTimeOut, SlotOut
from dialogo.core.clock import ensure_aware
from dialogo.publishing.models import PostVariant, VariantStatus

HOURS = 168
DECAY_HOURS = 4.0
HORIZON_HOURS = 72
PRIOR_WEIGHT = 2.0  # the parent's rhythm counts as this much exposure per hour
DRAWS = 400

F64 = NDArray[np.float64]


def hour_of_week(when: dt.datetime, tz: ZoneInfo) -> int:
    local = when.astimezone(tz)
    return local.weekday() * 24 + local.hour


def decay_kernel(decay_hours: float = DECAY_HOURS, horizon: int = HORIZON_HOURS) -> F64:
    kernel: F64 = np.exp(-np.arange(horizon) / decay_hours)
    return kernel


def exposure_of(post_hours: NDArray[np.int64], kernel: F64) -> F64:
    """``exposure[h]`` for posts published at these local hours of the week."""
    exposure = np.zeros(HOURS)
    for k, weight in enumerate(kernel):
        np.add.at(exposure, (post_hours + k) % HOURS, weight)
    return exposure


def smooth(rate: F64, width: float = 1.0) -> F64:
    """Circular Gaussian smoothing over neighbouring hours of the week."""
    offsets = np.arange(-3, 4)
    weights = np.exp(-0.5 * (offsets / width) ** 2)
    weights /= weights.sum()
    out: F64 = sum(w * np.roll(rate, -o) for o, w in zip(offsets, weights, strict=True))
    return out


def posterior(
    counts: F64, exposure: F64, parent: F64, prior_weight: float = PRIOR_WEIGHT
) -> tuple[F64, F64]:
    """Gamma posterior ``(shape, rate)`` per hour (arrays of shape ``(..., 168)``); ``parent``
    is the prior mean rhythm in reactions per unit of exposure."""
    shape = prior_weight * parent + counts
    rate = prior_weight + exposure
    return shape, rate


def pooled_rhythm(counts: F64, exposure: F64, parent: F64 | None = None) -> F64:
    """A group's smoothed posterior-mean rhythm, shrunk toward ``parent`` (default: flat at
    the group's overall rate)."""
    total = counts.sum() / max(exposure.sum(), 1e-9)
    prior = np.full(HOURS, total) if parent is None else parent
    shape, rate = posterior(counts, exposure, prior)
    return smooth(shape / rate)


def scores(rate: F64, kernel: F64) -> F64:
    """``score[..., t] = Σ_k rate[..., t + k] · kernel[k]``."""
    index = (np.arange(HOURS)[:, None] + np.arange(kernel.size)[None, :]) % HOURS
    out: F64 = (rate[..., index] * kernel).sum(axis=-1)
    return out


@dataclasses.dataclass(frozen=True)
class SlotEstimate:
    """For every hour of the week: expected score, a 80 % credible interval, P(best)."""

    mean: F64
    low: F64
    high: F64
    p_best: F64

    def top(self, n: int) -> list[int]:
        return [int(h) for h in np.argsort(-self.mean, kind="stable")[:n]]


def estimate(
    counts: F64,
    exposure: F64,
    parent: F64,
    *,
    kernel: F64 | None = None,
    prior_weight: float = PRIOR_WEIGHT,
    draws: int = DRAWS,
    seed: int = 0,
) -> SlotEstimate:
    """Slot scores of one group (``counts``, ``exposure``: 168 each) under its parent."""
    kernel = decay_kernel() if kernel is None else kernel
    shape, rate = posterior(counts, exposure, parent, prior_weight)
    mean = scores(smooth(shape / rate), kernel)
    rng = np.random.default_rng(seed)
    sampled = rng.gamma(shape, 1.0 / rate, size=(draws, HOURS))
    sampled_scores = scores(np.apply_along_axis(smooth, 1, sampled), kernel)
    best = np.bincount(sampled_scores.argmax(axis=1), minlength=HOURS) / draws
    low, high = np.quantile(sampled_scores, [0.1, 0.9], axis=0)
    return SlotEstimate(mean=mean, low=low, high=high, p_best=best)


def day_type_sums(x: F64) -> F64:
    """Sums over the days of the same type (Monday-Friday, Saturday-Sunday) at each hour,
    spread back over the 168 hours of the week."""
    days = x.reshape(*x.shape[:-1], 7, 24)
    weekday = days[..., :5, :].sum(axis=-2, keepdims=True)
    weekend = days[..., 5:, :].sum(axis=-2, keepdims=True)
    out: F64 = np.concatenate(
        [np.repeat(weekday, 5, axis=-2), np.repeat(weekend, 2, axis=-2)], axis=-2
    ).reshape(x.shape)
    return out


def hierarchical(
    counts: F64, exposure: F64, *, kernel: F64 | None = None, prior_weight: float = PRIOR_WEIGHT
) -> list[SlotEstimate]:
    """One estimate per group (rows of ``counts`` / ``exposure``), in three levels: the pooled
    rhythm of all groups by day type (weekday / weekend) and hour, shrunk toward flat; each
    group's day-type rhythm, shrunk toward the pooled one (at the group's own level, since
    groups differ in size); each group's 168 hours, shrunk toward its day-type rhythm."""
    pooled = pooled_rhythm(day_type_sums(counts.sum(axis=0)), day_type_sums(exposure.sum(axis=0)))
    pooled_shape = pooled / max(pooled.mean(), 1e-12)
    out = []
    for g in range(counts.shape[0]):
        level = counts[g].sum() / max(exposure[g].sum(), 1e-9)
        shape, rate = posterior(
            day_type_sums(counts[g]), day_type_sums(exposure[g]), pooled_shape * level, prior_weight
        )
        profile = smooth(shape / rate)
        out.append(
            estimate(
                counts[g], exposure[g], profile, kernel=kernel, prior_weight=prior_weight, seed=g
            )
        )
    return out


# -- from the workspace's history ------------------------------------------------------------------


def channel_history(
    session: Session, workspace_id: int, tz: ZoneInfo, kernel: F64
) -> tuple[list[int | None], F64, F64]:
    """Per channel: reactions (engagement increases of the hourly rollups) and exposure (from
    the publication times of the channel's posts), by local hour of the week."""
    posts: dict[int | None, list[dt.datetime]] = defaultdict(list)
    for channel_id, published_at in session.execute(
        select(PostVariant.channel_id, PostVariant.published_at).where(
            PostVariant.workspace_id == workspace_id,
            PostVariant.status == VariantStatus.published.value,
            PostVariant.published_at.is_not(None),
        )
    ).all():
        if published_at is not None:
            posts[channel_id].append(ensure_aware(published_at))
    channels = sorted(posts, key=lambda c: c or 0)
    counts = np.zeros((len(channels), HOURS))
    exposure = np.zeros((len(channels), HOURS))
    row = {c: i for i, c in enumerate(channels)}
    horizon = dt.timedelta(hours=kernel.size)
    fields = [getattr(MetricRollup, f) for f in ENGAGEMENT_FIELDS]
    for channel_id, bucket, *values in session.execute(
        select(MetricRollup.channel_id, MetricRollup.bucket, *fields).where(
            MetricRollup.workspace_id == workspace_id, MetricRollup.granularity == "hour"
        )
    ).all():
        if channel_id not in row:
            continue
        bucket = ensure_aware(bucket)
        g, h = row[channel_id], hour_of_week(bucket, tz)
        counts[g, h] += max(0, sum(int(v or 0) for v in values))
        for at in posts[channel_id]:
            if at <= bucket + dt.timedelta(hours=1) and bucket < at + horizon:
                k = max(0, int((bucket - at).total_seconds() // 3600))
                exposure[g, h] += kernel[min(k, kernel.size - 1)]
    return channels, counts, exposure


def best_time(
    session: Session,
    principal: Principal,
    workspace_id: int,
    *,
    channel_id: int | None = None,
    top: int = 10,
) -> BestTimeOut:
    authorize(session, principal, workspace_id, Permission.analytics_read)
    return best_time_for(session, workspace_id, channel_id=channel_id, top=top)


def best_time_for(
    session: Session, workspace_id: int, *, channel_id: int | None = None, top: int = 10
) -> BestTimeOut:
    workspace = session.get(Workspace, workspace_id)
    tz_name = workspace.timezone if workspace is not None else "UTC"
    tz = ZoneInfo(tz_name)
    kernel = decay_kernel()
    channels, counts, exposure = channel_history(session, workspace_id, tz, kernel)
    if not channels:
        return BestTimeOut(channel_id=channel_id, timezone=tz_name, observations=0, slots=[])
    estimates = hierarchical(counts, exposure, kernel=kernel)
    if channel_id is not None and channel_id in channels:
        g = channels.index(channel_id)
        est, observations = estimates[g], int(counts[g].sum())
    else:  # the workspace as a whole
        est = estimate(
            counts.sum(axis=0),
            exposure.sum(axis=0),
            pooled_rhythm(counts.sum(axis=0), exposure.sum(axis=0)),
            kernel=kernel,
        )
        observations = int(counts.sum())
    slots = [
        SlotOut(
            weekday=h // 24,
            hour=h % 24,
            score=round(float(est.mean[h]), 6),
            low=round(float(est.low[h]), 6),
            high=round(float(est.high[h]), 6),
            p_best=round(float(est.p_best[h]), 4),
        )
        for h in est.top(top)
    ]
    return BestTimeOut(
        channel_id=channel_id, timezone=tz_name, observations=observations, slots=slots
    )


def best_slots(
    session: Session, workspace_id: int, *, channel_id: int | None = None, count: int = 5
) -> list[tuple[int, int]]:
    """For the publishing queue: the ``count`` best ``(weekday, hour)`` local slots (Monday is
    0), best first; empty when the workspace has no history yet."""
    out = best_time_for(session, workspace_id, channel_id=channel_id, top=count)
    return [(s.weekday, s.hour) for s in out.slots]
