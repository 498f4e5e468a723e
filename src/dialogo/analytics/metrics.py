"""Metrics collection: snapshots of published posts' counts, and hourly and daily rollups.

:func:`collect_metrics` asks each channel's provider for the counts of the variants published
on it in the last :data:`RECENT` (one ``fetch_metrics`` call per channel and batch), stores one
:class:`~dialogo.analytics.models.MetricSnapshot` per variant, and recomputes the rollups of
the variants it touched. A channel that fails (rate limit, expired credentials) is reported and
skipped; the others are still collected. The metric definitions are in
:mod:`dialogo.analytics.models`.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections import defaultdict
from collections.abc import Iterable, Sequence
from typing import Any

import httpx
import numpy as np
from numpy.typing import NDArray
from sqlalchemy import and_, delete, func, select
from sqlalchemy.orm import Session

from dialogo.analytics import aggregates
from dialogo.analytics.models import (
    ENGAGEMENT_FIELDS,
    METRIC_FIELDS,
    MetricRollup,
    MetricSnapshot,
)
from dialogo.channels.crypto import CredentialCipher
from dialogo.channels.models import Channel, ChannelStatus
from dialogo.channels.service import open_provider
from dialogo.core.clock import ensure_aware
from dialogo.providers.errors import ProviderError
from dialogo.providers.registry import ProviderRegistry
from dialogo.publishing.models import Post, PostVariant, VariantStatus

#: Posts published longer ago than this are no longer collected (their counts have settled).
RECENT = dt.timedelta(days=30)
BATCH = 100
GRANULARITIES = {"hour": 3600, "day": 86400}


# -- pure helpers ----------------------------------------------------------------------------------


def engagements(counts: dict[str, int | None]) -> int:
    return sum(int(counts.get(name) or 0) for name in ENGAGEMENT_FIELDS)


def engagement_rate_by_reach(counts: dict[str, int | None]) -> float | None:
    """Engagements / reach; ``None`` when the network gives no reach (or none yet)."""
    reach = counts.get("reach")
    return engagements(counts) / reach if reach else None


def engagement_rate_by_followers(
    counts: dict[str, int | None], followers: int | None
) -> float | None:
    return engagements(counts) / followers if followers else None


def rollup_deltas(
    seconds: NDArray[np.int64], values: NDArray[np.float64], bucket_seconds: int
) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
    """Per bucket, the increase of cumulative counts during it.

    ``seconds``: snapshot times (epoch seconds, any order); ``values``: ``(n, k)`` cumulative
    counts, NaN where the network said nothing (the last known value is carried forward, and
    a count never reported stays 0). Returns ``(bucket_starts, deltas (m, k))`` for the buckets
    that hold at least one snapshot; the deltas of all buckets sum to the last values.
    """
    if seconds.size == 0:
        return np.zeros(0, np.int64), np.zeros((0, values.shape[1]), np.int64)
    order = np.argsort(seconds, kind="stable")
    seconds, values = seconds[order], values[order]
    filled = values.copy()
    for j in range(filled.shape[1]):  # carry the last known value forward
        column = filled[:, j]
        known = ~np.isnan(column)
        index = np.where(known, np.arange(column.size), 0)
        np.maximum.accumulate(index, out=index)
        column = np.where(known[index], column[index], 0.0)
        filled[:, j] = column
    buckets = seconds - seconds % bucket_seconds
    last = np.flatnonzero(np.r_[buckets[1:] != buckets[:-1], True])
    at_end = filled[last]
    previous = np.vstack([np.zeros((1, filled.shape[1])), at_end[:-1]])
    return buckets[last].astype(np.int64), np.rint(at_end - previous).astype(np.int64)


# -- collection ------------------------------------------------------------------------------------


@dataclasses.dataclass
class CollectReport:
    channels: int = 0
    variants: int = 0
    snapshots: int = 0
    failed_channels: dict[int, str] = dataclasses.field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {
            "channels": self.channels,
            "variants": self.variants,
            "snapshots": self.snapshots,
            "failed_channels": {str(k): v for k, v in self.failed_channels.items()},
        }


def recent_variants(
    session: Session,
    *,
    now: dt.datetime,
    workspace_id: int | None = None,
    recent: dt.timedelta = RECENT,
) -> list[PostVariant]:
    query = (
        select(PostVariant)
        .where(
            PostVariant.status == VariantStatus.published.value,
            PostVariant.remote_id.is_not(None),
            PostVariant.channel_id.is_not(None),
            PostVariant.published_at >= now - recent,
            PostVariant.published_at <= now,
        )
        .order_by(PostVariant.channel_id, PostVariant.id)
    )
    if workspace_id is not None:
        query = query.where(PostVariant.workspace_id == workspace_id)
    return list(session.scalars(query))


def collect_metrics(
    session: Session,
    *,
    registry: ProviderRegistry,
    cipher: CredentialCipher,
    now: dt.datetime,
    workspace_id: int | None = None,
    http: httpx.Client | None = None,
    recent: dt.timedelta = RECENT,
) -> CollectReport:
    """One collection round (see the module docstring). Flushes; the caller commits."""
    report = CollectReport()
    by_channel: dict[int, list[PostVariant]] = defaultdict(list)
    for variant in recent_variants(session, now=now, workspace_id=workspace_id, recent=recent):
        assert variant.channel_id is not None
        by_channel[variant.channel_id].append(variant)
    touched: list[PostVariant] = []
    for channel_id, variants in by_channel.items():
        channel = session.get(Channel, channel_id)
        if channel is None or channel.status != ChannelStatus.ok.value:
            continue
        if channel.network not in registry.names():
            report.failed_channels[channel_id] = f"network {channel.network!r} is not installed"
            continue
        if not registry.get(channel.network).capabilities.metrics:
            continue
        report.channels += 1
        try:
            with open_provider(session, channel, registry=registry, cipher=cipher, http=http) as p:
                try:
                    followers = p.verify().followers
                except NotImplementedError:
                    followers = None
                by_remote = {v.remote_id: v for v in variants}
                for start in range(0, len(variants), BATCH):
                    ids = [str(v.remote_id) for v in variants[start : start + BATCH]]
                    for metrics in p.fetch_metrics(ids):
                        found = by_remote.get(metrics.remote_id)
                        if found is None:
                            continue
                        counts = {name: getattr(metrics, name) for name in METRIC_FIELDS}
                        session.add(
                            MetricSnapshot(
                                workspace_id=found.workspace_id,
                                variant_id=found.id,
                                observed_at=now,
                                followers=followers,
                                **counts,
                            )
                        )
                        report.snapshots += 1
                        touched.append(found)
        except ProviderError as exc:
            report.failed_channels[channel_id] = f"{exc.code}: {exc}"
    session.flush()
    refresh_rollups(session, touched)
    report.variants = len({v.id for v in touched})
    return report


def refresh_rollups(session: Session, variants: Iterable[PostVariant]) -> None:
    """Recompute the hourly and daily rollups of these variants from their snapshots, and the
    dashboard aggregates (:mod:`dialogo.analytics.aggregates`) of the days they touch."""
    unique = {v.id: v for v in variants}
    if not unique:
        return
    campaign_of = dict(
        session.execute(
            select(Post.id, Post.campaign_id).where(
                Post.id.in_({v.post_id for v in unique.values()})
            )
        ).all()
    )
    snaps: dict[int, list[MetricSnapshot]] = defaultdict(list)
    for snap in session.scalars(
        select(MetricSnapshot).where(MetricSnapshot.variant_id.in_(unique))
    ):
        snaps[snap.variant_id].append(snap)
    before = aggregates.rollup_days(session, list(unique))
    session.execute(delete(MetricRollup).where(MetricRollup.variant_id.in_(unique)))
    for variant_id, rows in snaps.items():
        variant = unique[variant_id]
        seconds = np.array([int(ensure_aware(r.observed_at).timestamp()) for r in rows], np.int64)
        values = np.array(
            [
                [np.nan if getattr(r, f) is None else getattr(r, f) for f in METRIC_FIELDS]
                for r in rows
            ],
            dtype=np.float64,
        )
        for granularity, size in GRANULARITIES.items():
            buckets, deltas = rollup_deltas(seconds, values, size)
            for bucket, delta in zip(buckets.tolist(), deltas.tolist(), strict=True):
                session.add(
                    MetricRollup(
                        workspace_id=variant.workspace_id,
                        variant_id=variant_id,
                        channel_id=variant.channel_id,
                        campaign_id=campaign_of.get(variant.post_id),
                        granularity=granularity,
                        bucket=dt.datetime.fromtimestamp(bucket, dt.UTC),
                        **dict(zip(METRIC_FIELDS, delta, strict=True)),
                    )
                )
    session.flush()
    aggregates.refresh_for(session, list(unique), before)


def latest_counts(session: Session, variant_ids: Sequence[int]) -> dict[int, MetricSnapshot]:
    """The most recent snapshot of each variant (one index probe per variant)."""
    latest: dict[int, MetricSnapshot] = {}
    if not variant_ids:
        return latest
    last = (
        select(MetricSnapshot.variant_id, func.max(MetricSnapshot.observed_at).label("at"))
        .where(MetricSnapshot.variant_id.in_(variant_ids))
        .group_by(MetricSnapshot.variant_id)
        .subquery()
    )
    for snap in session.scalars(
        select(MetricSnapshot)
        .join(
            last,
            and_(
                MetricSnapshot.variant_id == last.c.variant_id,
                MetricSnapshot.observed_at == last.c.at,
            ),
        )
        .order_by(MetricSnapshot.id)
    ):
        latest[snap.variant_id] = snap
    return latest
