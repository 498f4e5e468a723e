"""The lanes' claim on PostgreSQL: the claims' lock, the claim and its commit in one pipeline
(``claim_batch(commit=True)``), on a database the test commits to (the other publishing tests
run inside a savepoint, where the claim takes the ordinary path)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from sqlalchemy import Engine, select, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session, sessionmaker

from dialogo.core.db import make_engine, make_session_factory, transaction
from dialogo.publishing import dispatcher
from dialogo.publishing.models import PostVariant, VariantStatus
from tests.conftest import make_settings
from tests.publishing.test_dispatcher import Rig, rig  # noqa: F401 - the fixture

pytestmark = pytest.mark.postgres

LEASE = dt.timedelta(seconds=60)


@pytest.fixture
def engine(fresh_database: str, tmp_path: Path) -> Iterator[Engine]:
    engine = make_engine(make_settings(tmp_path, fresh_database))
    yield engine
    engine.dispose()


@pytest.fixture
def session_factory(engine: Engine) -> sessionmaker[Session]:
    """Sessions that commit for real (the rig and its brand are built on them)."""
    return make_session_factory(engine)


def _leased(engine: Engine) -> dict[int, str | None]:
    """The variants in flight and their claim, as another connection sees them."""
    with Session(engine) as other:
        rows = other.execute(
            select(PostVariant.id, PostVariant.claimed_by).where(
                PostVariant.status == VariantStatus.unconfirmed.value,
                PostVariant.lease_until.is_not(None),
            )
        )
        return {r.id: r.claimed_by for r in rows}


def _lock_is_free(engine: Engine) -> bool:
    with engine.connect() as other:
        free = other.scalar(text("SELECT pg_try_advisory_xact_lock(:k)"), {"k": 7_301_923_451})
        other.rollback()
        return bool(free)


def test_the_claim_is_committed_and_its_lock_released_when_it_returns(
    rig: Rig,  # noqa: F811 - the fixture
    engine: Engine,
) -> None:
    posts = [rig.schedule(f"p{i}") for i in range(3)]
    rig.clock.advance(minutes=2)
    session = rig.factory()
    try:
        batch = dispatcher.claim_batch(
            session, "lane", now=rig.clock.now(), lease=LEASE, commit=True
        )
        # Still in the caller's hands, yet committed: seen from elsewhere, the lock free.
        assert _leased(engine) == {c.id: batch.claim_id for c in batch.variants}
        assert _lock_is_free(engine)
    finally:
        session.close()
    assert sorted(c.post_id for c in batch.variants) == sorted(p.id for p in posts)
    assert {c.previous_status for c in batch.variants} == {VariantStatus.scheduled.value}
    for c in batch.variants:  # read by the driver itself: still UTC, as the ORM reads it
        assert c.first_attempt_at == rig.clock.now()
        assert c.first_attempt_at is not None and c.first_attempt_at.tzinfo == dt.UTC
    assert batch.infos is not None and set(batch.infos) == {rig.brand.channel.id}


def test_caps_hold_between_pipelined_claims(
    rig: Rig,  # noqa: F811 - the fixture
    engine: Engine,
) -> None:
    for i in range(3):
        rig.schedule(f"p{i}")
    rig.clock.advance(minutes=2)
    caps = {"fakenet": 2}
    with transaction(rig.factory) as session:
        first = dispatcher.claim_batch(
            session, "a", now=rig.clock.now(), lease=LEASE, caps=caps, commit=True
        )
    with transaction(rig.factory) as session:
        full = dispatcher.claim_batch(
            session, "b", now=rig.clock.now(), lease=LEASE, caps=caps, commit=True
        )
    assert (len(first.variants), len(full.variants)) == (2, 0)
    assert set(_leased(engine)) == {c.id for c in first.variants}


def test_a_failed_pipeline_rolls_back_and_the_session_claims_again(
    rig: Rig,  # noqa: F811 - the fixture
    engine: Engine,
) -> None:
    rig.schedule("p")
    rig.clock.advance(minutes=2)
    session = rig.factory()
    try:
        with pytest.raises(DBAPIError, match="invalid input syntax"):
            dispatcher.claim_batch(  # a cap the server cannot read: the claim fails
                session,
                "a",
                now=rig.clock.now(),
                lease=LEASE,
                caps={"fakenet": "many"},  # type: ignore[dict-item]
                commit=True,
            )
        session.rollback()
        assert _leased(engine) == {} and _lock_is_free(engine)
        again = dispatcher.claim_batch(session, "a", now=rig.clock.now(), lease=LEASE, commit=True)
    finally:
        session.close()
    assert len(again.variants) == 1
    assert set(_leased(engine)) == {again.variants[0].id}


def test_a_lane_publishes_every_post_once_through_the_pipeline(
    rig: Rig,  # noqa: F811 - the fixture
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    pipelines: list[int] = []
    original = psycopg.Connection.pipeline

    def counted(self: psycopg.Connection[Any]) -> Any:
        pipelines.append(1)
        return original(self)

    monkeypatch.setattr(psycopg.Connection, "pipeline", counted)
    posts = [rig.schedule(f"p{i}") for i in range(5)]
    rig.clock.advance(minutes=2)
    rig.run()
    assert {rig.variant(p).status for p in posts} == {VariantStatus.published}
    assert rig.publish_calls() == 5
    assert pipelines  # the lane's claims went through the pipeline (the last one empty)
