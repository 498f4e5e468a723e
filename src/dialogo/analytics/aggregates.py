"""The aggregates the dashboard reads, maintained next to the rollups.

* :class:`~dialogo.analytics.models.MetricDailyTotal`: per workspace and UTC day, the sums of
  the day's daily rollups (so the dashboard's series reads ``days`` rows, whatever the number of
  posts or snapshots);
* :class:`~dialogo.analytics.models.MetricVariantTotal`: per variant, its counts so far and the
  followers at its latest snapshot (so "top posts" is an index range on publication time).

:func:`refresh_for` is called by :func:`dialogo.analytics.metrics.refresh_rollups` with the
variants and days it touched; :func:`rebuild` recomputes a whole workspace (after a bulk load,
or ``dialogo analytics rebuild-aggregates``). Both flush; the caller commits.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Collection, Iterable

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from dialogo.analytics.models import (
    ENGAGEMENT_FIELDS,
    METRIC_FIELDS,
    MetricDailyTotal,
    MetricRollup,
    MetricSnapshot,
    MetricVariantTotal,
)
from dialogo.core.clock import ensure_aware
from dialogo.publishing.models import Post, PostVariant

CHUNK = 500


def _chunks(values: Iterable[int], size: int = CHUNK) -> Iterable[list[int]]:
    items = sorted(set(values))
    for start in range(0, len(items), size):
        yield items[start : start + size]


def refresh_days(session: Session, workspace_id: int, days: Collection[dt.date]) -> None:
    """Recompute the daily totals of these days of a workspace from the daily rollups."""
    if not days:
        return
    session.flush()
    ordered = sorted(set(days))
    session.execute(
        delete(MetricDailyTotal).where(
            MetricDailyTotal.workspace_id == workspace_id, MetricDailyTotal.day.in_(ordered)
        )
    )
    wanted = set(ordered)
    sums = [func.sum(getattr(MetricRollup, f)) for f in METRIC_FIELDS]
    # One range scan over the rollup index, grouped by bucket; the buckets are day starts.
    rows = session.execute(
        select(MetricRollup.bucket, func.count(MetricRollup.id), *sums)
        .where(
            MetricRollup.workspace_id == workspace_id,
            MetricRollup.granularity == "day",
            MetricRollup.bucket >= dt.datetime.combine(ordered[0], dt.time(), dt.UTC),
            MetricRollup.bucket
            < dt.datetime.combine(ordered[-1] + dt.timedelta(days=1), dt.time(), dt.UTC),
        )
        .group_by(MetricRollup.bucket)
    ).all()
    for bucket, posts, *values in rows:
        day = ensure_aware(bucket).date()
        if day not in wanted:
            continue
        session.add(
            MetricDailyTotal(
                workspace_id=workspace_id,
                day=day,
                posts=int(posts),
                **{f: int(v or 0) for f, v in zip(METRIC_FIELDS, values, strict=True)},
            )
        )
    session.flush()


def refresh_variants(session: Session, variant_ids: Collection[int]) -> None:
    """Recompute the totals of these variants from their daily rollups and latest snapshot."""
    for chunk in _chunks(variant_ids):
        session.execute(delete(MetricVariantTotal).where(MetricVariantTotal.variant_id.in_(chunk)))
        sums = [func.sum(getattr(MetricRollup, f)) for f in METRIC_FIELDS]
        totals = {
            row[0]: [int(v or 0) for v in row[1:]]
            for row in session.execute(
                select(MetricRollup.variant_id, *sums)
                .where(MetricRollup.variant_id.in_(chunk), MetricRollup.granularity == "day")
                .group_by(MetricRollup.variant_id)
            ).all()
        }
        if not totals:
            continue
        last = (
            select(MetricSnapshot.variant_id, func.max(MetricSnapshot.observed_at).label("at"))
            .where(MetricSnapshot.variant_id.in_(list(totals)))
            .group_by(MetricSnapshot.variant_id)
            .subquery()
        )
        followers = dict(
            session.execute(
                select(MetricSnapshot.variant_id, MetricSnapshot.followers).join(
                    last,
                    (MetricSnapshot.variant_id == last.c.variant_id)
                    & (MetricSnapshot.observed_at == last.c.at),
                )
            ).all()
        )
        for variant_id, workspace_id, channel_id, published_at, campaign_id in session.execute(
            select(
                PostVariant.id,
                PostVariant.workspace_id,
                PostVariant.channel_id,
                PostVariant.published_at,
                Post.campaign_id,
            )
            .join(Post, Post.id == PostVariant.post_id)
            .where(PostVariant.id.in_(list(totals)))
        ).all():
            counts = dict(zip(METRIC_FIELDS, totals[variant_id], strict=True))
            session.add(
                MetricVariantTotal(
                    variant_id=variant_id,
                    workspace_id=workspace_id,
                    channel_id=channel_id,
                    campaign_id=campaign_id,
                    published_at=published_at,
                    engagements=sum(counts[f] for f in ENGAGEMENT_FIELDS),
                    followers=followers.get(variant_id),
                    **counts,
                )
            )
    session.flush()


def rollup_days(session: Session, variant_ids: Collection[int]) -> dict[int, set[dt.date]]:
    """The days (per workspace) on which these variants have daily rollups."""
    days: dict[int, set[dt.date]] = defaultdict(set)
    for chunk in _chunks(variant_ids):
        for workspace_id, bucket in session.execute(
            select(MetricRollup.workspace_id, MetricRollup.bucket).where(
                MetricRollup.variant_id.in_(chunk), MetricRollup.granularity == "day"
            )
        ).all():
            days[workspace_id].add(ensure_aware(bucket).date())
    return days


def refresh_for(
    session: Session, variant_ids: Collection[int], before: dict[int, set[dt.date]]
) -> None:
    """After the rollups of ``variant_ids`` changed: ``before`` is :func:`rollup_days` taken
    before the change (days a variant no longer has must be recomputed too)."""
    after = rollup_days(session, variant_ids)
    for workspace_id in set(before) | set(after):
        days = before.get(workspace_id, set()) | after.get(workspace_id, set())
        refresh_days(session, workspace_id, days)
    refresh_variants(session, variant_ids)


def rebuild(session: Session, workspace_id: int) -> tuple[int, int]:
    """Recompute every aggregate of a workspace; returns (days, variants)."""
    session.execute(delete(MetricDailyTotal).where(MetricDailyTotal.workspace_id == workspace_id))
    session.execute(
        delete(MetricVariantTotal).where(MetricVariantTotal.workspace_id == workspace_id)
    )
    buckets = session.scalars(
        select(MetricRollup.bucket)
        .where(MetricRollup.workspace_id == workspace_id, MetricRollup.granularity == "day")
        .distinct()
    ).all()
    days = {ensure_aware(b).date() for b in buckets}
    refresh_days(session, workspace_id, days)
    variants = session.scalars(
        select(MetricRollup.variant_id)
        .where(MetricRollup.workspace_id == workspace_id, MetricRollup.granularity == "day")
        .distinct()
    ).all()
    refresh_variants(session, variants)
    return len(days), len(variants)
