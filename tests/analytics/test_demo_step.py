"""The measurement demo step on a small demo world: a metrics history with daily rollups,
conversions from the sandbox credited to posts, idempotent on a second run."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from sqlalchemy import func, select

from dialogo.analytics.models import Conversion, MetricRollup, MetricSnapshot
from dialogo.core.clock import FrozenClock
from dialogo.core.context import AppContext
from dialogo.core.db import make_engine, make_session_factory
from dialogo.demo.service import DemoOptions, build_demo
from dialogo.demo.steps import DEMO_STEPS
from dialogo.providers.registry import ProviderRegistry
from tests.conftest import make_settings

STEP = "dialogo.analytics.demo:demo_step"
END = dt.datetime(2026, 3, 2, 11, tzinfo=dt.UTC)

pytestmark = pytest.mark.integration


def test_the_step_is_registered() -> None:
    assert STEP in DEMO_STEPS


def test_demo_step_builds_a_metrics_history_and_conversions(
    fresh_database: str, tmp_path: Path
) -> None:
    settings = make_settings(tmp_path, fresh_database)
    engine = make_engine(settings)
    ctx = AppContext(
        settings,
        engine,
        make_session_factory(engine),
        FrozenClock(END),
        ProviderRegistry.from_entry_points(),
    )
    try:
        options = DemoOptions(seed=7, population=1500, history_days=30, end=END)
        result = build_demo(ctx, options, steps=[STEP])
        ws = result.workspace_id
        with ctx.session_factory() as s:
            snaps = s.scalar(
                select(func.count(MetricSnapshot.id)).where(MetricSnapshot.workspace_id == ws)
            )
            days = s.scalars(
                select(MetricRollup.bucket)
                .where(MetricRollup.workspace_id == ws, MetricRollup.granularity == "day")
                .distinct()
            ).all()
            conversions = s.scalar(
                select(func.count(Conversion.id)).where(Conversion.workspace_id == ws)
            )
            credited = s.scalar(
                select(func.count(Conversion.id)).where(
                    Conversion.workspace_id == ws, Conversion.post_id.is_not(None)
                )
            )
        assert snaps and snaps > result.counts["history_posts"]
        assert len(days) >= 25  # a daily series over the 30-day history
        assert conversions and conversions == credited
        build_demo(ctx, options, steps=[STEP])  # again: new snapshots, no new conversions
        with ctx.session_factory() as s:
            again = s.scalar(select(func.count(Conversion.id)).where(Conversion.workspace_id == ws))
        assert again == conversions
    finally:
        engine.dispose()
