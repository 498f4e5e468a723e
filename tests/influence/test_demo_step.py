"""The audience and word-of-mouth demo step on a small demo world: sandbox profiles with
demographics and interests, the interaction graph with observed propagation, the ranking;
idempotent on a second run; and advocate selection on what it built."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from sqlalchemy import func, select

from dialogo.accounts.models import User
from dialogo.accounts.service import Principal
from dialogo.audience import service as audience
from dialogo.audience.models import ContactInterest, ContactProfile
from dialogo.core.clock import FrozenClock
from dialogo.core.context import AppContext
from dialogo.core.db import make_engine, make_session_factory
from dialogo.demo.service import DEMO_EMAIL, DemoOptions, build_demo
from dialogo.demo.steps import DEMO_STEPS
from dialogo.inbox.models import Contact
from dialogo.influence import service as influence
from dialogo.influence.models import InfluenceEdge, InfluenceScore
from dialogo.providers.registry import ProviderRegistry
from tests.conftest import make_settings

STEP = "dialogo.influence.refresh:demo_step"
END = dt.datetime(2026, 3, 2, 11, tzinfo=dt.UTC)

pytestmark = pytest.mark.integration


def test_the_step_is_registered() -> None:
    assert STEP in DEMO_STEPS


def test_demo_step_builds_profiles_graph_and_ranking(fresh_database: str, tmp_path: Path) -> None:
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
            contacts = s.scalar(select(func.count(Contact.id)).where(Contact.workspace_id == ws))
            profiles = s.scalars(
                select(ContactProfile).where(ContactProfile.workspace_id == ws)
            ).all()
            interests = s.scalar(select(func.count()).where(ContactInterest.workspace_id == ws))
            edges = s.scalars(select(InfluenceEdge).where(InfluenceEdge.workspace_id == ws)).all()
            scores = s.scalars(
                select(InfluenceScore).where(InfluenceScore.workspace_id == ws)
            ).all()
            user = s.scalar(select(User).where(User.email == DEMO_EMAIL))
            assert user is not None
            principal = Principal.for_user(user)
            assert contacts and len(profiles) == contacts
            assert all(p.age_band and p.sex and p.region and p.country for p in profiles)
            assert interests and interests >= contacts
            assert any(e.follows for e in edges)
            assert any(e.estimate == "observed" for e in edges)
            assert any(e.reposts for e in edges)
            assert sorted(sc.rank for sc in scores) == list(range(1, contacts + 1))
            # segments work on the demo profiles
            women = audience.segment_size(s, principal, ws, "sex = female")
            men = audience.segment_size(s, principal, ws, "sex = male")
            assert 0 < women < contacts and 0 < men < contacts
            plan = influence.select_advocates(s, principal, ws, k=5, runs=500)
            assert len(plan.advocates) == 5
            assert plan.low <= plan.spread <= plan.high
            assert plan.spread >= 5
            total, top = influence.rankings(s, principal, ws, limit=3)
            assert total == contacts and [r.rank for r in top] == [1, 2, 3]
        build_demo(ctx, options, steps=[STEP])  # again: nothing duplicated
        with ctx.session_factory() as s:
            again = s.scalar(select(func.count(Contact.id)).where(Contact.workspace_id == ws))
            edges_again = s.scalar(select(func.count()).where(InfluenceEdge.workspace_id == ws))
        assert again == contacts and edges_again == len(edges)
    finally:
        engine.dispose()
