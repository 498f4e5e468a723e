"""Metrics collection from the sandbox network: snapshots over simulated time, rollups whose
sums are the totals, engagement rates, failures that skip one channel only, and the job."""

from __future__ import annotations

import datetime as dt

import numpy as np
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from dialogo.analytics import metrics, tasks
from dialogo.analytics.models import METRIC_FIELDS, MetricRollup, MetricSnapshot
from dialogo.channels.models import ChannelStatus
from dialogo.core.clock import FrozenClock
from dialogo.core.config import Settings
from dialogo.jobs.registry import JobContext, TaskRegistry
from dialogo.providers.base import Credentials, PostMetrics
from dialogo.providers.errors import RateLimited
from dialogo.providers.registry import ProviderRegistry
from dialogo.providers.sandbox.provider import SandboxProvider
from tests.analytics.conftest import Brand, publish

T0 = dt.datetime(2026, 5, 4, 10, 0, tzinfo=dt.UTC)


def collect(db: Session, brand: Brand, now: dt.datetime) -> metrics.CollectReport:
    return metrics.collect_metrics(
        db, registry=brand.providers, cipher=brand.cipher, now=now, workspace_id=brand.id
    )


def test_rollup_deltas_carry_values_forward_and_sum_to_the_totals() -> None:
    seconds = np.array([7200 + 60, 3600 + 10, 3600 + 900, 86400 + 5], dtype=np.int64)
    values = np.array(
        [[10, np.nan], [2, 1], [5, np.nan], [12, 4]], dtype=np.float64
    )  # out of order on purpose
    buckets, deltas = metrics.rollup_deltas(seconds, values, 3600)
    assert buckets.tolist() == [3600, 7200, 86400]
    # hour 1 ends at (5, 1): the missing reach carries 1 forward; hour 2 ends at (10, 1).
    assert deltas.tolist() == [[5, 1], [5, 0], [2, 3]]
    assert deltas.sum(axis=0).tolist() == [12, 4]
    day_buckets, day_deltas = metrics.rollup_deltas(seconds, values, 86400)
    assert day_buckets.tolist() == [0, 86400] and day_deltas.tolist() == [[10, 1], [2, 3]]


def test_engagement_rates() -> None:
    counts = {"reach": 200, "likes": 10, "replies": 2, "reposts": 3, "quotes": 0, "clicks": 5}
    assert metrics.engagements(counts) == 20
    assert metrics.engagement_rate_by_reach(counts) == 0.1
    assert metrics.engagement_rate_by_followers(counts, 1000) == 0.02
    assert metrics.engagement_rate_by_reach({"reach": 0}) is None
    assert metrics.engagement_rate_by_followers(counts, None) is None


def test_collection_over_simulated_time_builds_a_growing_series(
    db: Session, brand: Brand, sim_clock: FrozenClock
) -> None:
    variant = publish(db, brand, published_at=T0)
    reports = []
    for hour in range(6):
        sim_clock.advance(hours=1)
        reports.append(collect(db, brand, T0 + dt.timedelta(hours=hour, minutes=30)))
    sim_clock.advance(days=3)
    reports.append(collect(db, brand, T0 + dt.timedelta(days=1, hours=2)))
    assert all(r.snapshots == 1 and r.failed_channels == {} for r in reports)

    snaps = list(
        db.scalars(
            select(MetricSnapshot)
            .where(MetricSnapshot.variant_id == variant.id)
            .order_by(MetricSnapshot.observed_at)
        )
    )
    assert len(snaps) == 7
    reach = [s.reach or 0 for s in snaps]
    assert reach == sorted(reach) and reach[-1] > reach[0] > 0  # cumulative, growing
    assert snaps[-1].followers and snaps[-1].followers > 0
    # The sandbox's own truth at the last instant.
    truth = SandboxProvider(
        Credentials(access_token="sandbox-demo"), config=dict(brand.channel.config), clock=sim_clock
    ).fetch_metrics([str(variant.remote_id)])[0]
    assert snaps[-1].likes == truth.likes and snaps[-1].impressions == truth.impressions

    for granularity, expected in (("hour", 7), ("day", 2)):
        rollups = list(
            db.scalars(
                select(MetricRollup).where(
                    MetricRollup.variant_id == variant.id,
                    MetricRollup.granularity == granularity,
                )
            )
        )
        assert len(rollups) == expected
        for field in METRIC_FIELDS:
            assert sum(getattr(r, field) for r in rollups) == (getattr(snaps[-1], field) or 0)
        assert {r.channel_id for r in rollups} == {brand.channel.id}


def test_old_posts_and_unpublished_variants_are_not_collected(db: Session, brand: Brand) -> None:
    publish(db, brand, published_at=T0 - metrics.RECENT - dt.timedelta(hours=1))
    assert collect(db, brand, T0).snapshots == 0


def test_a_failing_channel_is_reported_and_the_others_collected(
    db: Session, brand: Brand, sim_clock: FrozenClock
) -> None:
    publish(db, brand, published_at=T0)
    base = brand.providers.get("sandbox")

    class Limited(base):  # type: ignore[valid-type,misc]
        def fetch_metrics(self, remote_ids):  # type: ignore[no-untyped-def]
            raise RateLimited("slow down", retry_after=60)

    registry = ProviderRegistry({"sandbox": Limited})
    report = metrics.collect_metrics(
        db, registry=registry, cipher=brand.cipher, now=T0, workspace_id=brand.id
    )
    assert report.snapshots == 0 and brand.channel.id in report.failed_channels
    assert "rate_limited" in report.failed_channels[brand.channel.id]
    assert brand.channel.status == ChannelStatus.ok.value  # a rate limit needs nobody
    assert db.scalar(select(func.count(MetricSnapshot.id))) == 0


def test_metrics_a_network_does_not_report_stay_unknown(db: Session, brand: Brand) -> None:
    variant = publish(db, brand, published_at=T0)
    base = brand.providers.get("sandbox")

    class Sparse(base):  # type: ignore[valid-type,misc]
        def fetch_metrics(self, remote_ids):  # type: ignore[no-untyped-def]
            return [PostMetrics(remote_id=r, observed_at=T0, likes=3) for r in remote_ids]

    metrics.collect_metrics(
        db,
        registry=ProviderRegistry({"sandbox": Sparse}),
        cipher=brand.cipher,
        now=T0,
        workspace_id=brand.id,
    )
    snap = db.scalar(select(MetricSnapshot).where(MetricSnapshot.variant_id == variant.id))
    assert snap is not None and snap.likes == 3 and snap.reach is None


def test_the_periodic_job_collects(db: Session, brand: Brand, settings: Settings) -> None:
    publish(db, brand, published_at=T0)
    registry = TaskRegistry()
    tasks.register(registry, providers=lambda _settings: brand.providers)
    spec = registry.get(tasks.COLLECT_TASK)
    assert spec is not None and spec.every == tasks.COLLECT_EVERY
    result = spec.handler(
        JobContext(db, settings, FrozenClock(T0), job_id=1, attempt=1, workspace_id=None), {}
    )
    assert result == {"channels": 1, "variants": 1, "snapshots": 1, "failed_channels": {}}
