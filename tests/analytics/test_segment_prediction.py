"""Engagement prediction per audience segment ("for whom"), on the real database: the sandbox
audience's profiles (the demographics and interests the simulation gave each person) and a
post history; the predicted per-member engagement of each segment is checked against the
simulation's ground truth (each member's true chance to like a post on the topic)."""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Iterator

import numpy as np
import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from dialogo.accounts import service as accounts
from dialogo.accounts.permissions import Role
from dialogo.analytics import predict
from dialogo.audience import sandbox as audience_sandbox
from dialogo.audience import service as audience
from dialogo.core.context import AppContext
from dialogo.core.errors import InvalidInput, NotFound
from dialogo.publishing import service as publishing
from dialogo.publishing.schemas import PostCreate, VariantIn
from dialogo.server import create_app
from dialogo.simulation.taxonomy import TOPIC_INDEX
from dialogo.simulation.world import World, build_world
from tests.analytics.conftest import Brand
from tests.analytics.test_engagement import _history
from tests.api.conftest import Api, assert_problem, session_auth
from tests.factories import add_member, make_user

NOW = dt.datetime(2026, 4, 1, 6, tzinfo=dt.UTC)
EVENING = dt.datetime(2026, 4, 2, 16, tzinfo=dt.UTC)  # 18:00 in Rome


@pytest.fixture(scope="module")
def world() -> World:
    return build_world(seed=5, population=2000)


def _audience(db: Session, brand: Brand, world: World, n: int | None = None) -> dict[int, int]:
    """The first ``n`` simulated people (all by default) as sandbox contacts with a profile;
    contact → person."""
    people = range(world.population.size if n is None else n)
    contacts = audience_sandbox.ensure_contacts(db, brand.id, world, people, NOW)
    audience_sandbox.sync_profiles(db, brand.id, world, contacts, now=NOW)
    return {c: p for p, c in contacts.items()}


def _true_like(world: World, topic: str) -> np.ndarray:
    """Each person's true chance to like a post of the brand on ``topic`` they see (the
    simulation's engagement model, as :func:`dialogo.simulation.truth.expected_like_rates`)."""
    cfg, pop = world.config.behaviour, world.population
    t = TOPIC_INDEX[topic]
    odds = (
        cfg.like_logit
        + pop.propensity.astype(np.float64)
        + 0.5 * pop.satisfaction[:, 0].astype(np.float64)
        + world.log_receptiveness[pop.segment.astype(np.int64), t]
        + cfg.interest_weight * pop.interests[:, t].astype(np.float64)
    )
    result: np.ndarray = 1.0 / (1.0 + np.exp(-odds))
    return result


def _spearman(a: list[float], b: list[float]) -> float:
    ranks_a = np.argsort(np.argsort(a)).astype(np.float64)
    ranks_b = np.argsort(np.argsort(b)).astype(np.float64)
    return float(np.corrcoef(ranks_a, ranks_b)[0, 1])


@pytest.mark.parametrize("topic", ["coffee", "running", "fashion"])
def test_segments_are_ranked_in_the_true_order(
    db: Session, brand: Brand, world: World, topic: str
) -> None:
    person_of = _audience(db, brand, world)
    _history(db, brand, 30)
    forecast = predict.predict_segments(
        db,
        brand.principal,
        brand.id,
        "Nuova proposta per voi",
        channel_id=brand.channel.id,
        at=EVENING,
        topic=topic,
        limit=200,
    )
    assert forecast.topic == topic and forecast.audience == len(person_of)
    assert len(forecast.segments) >= 10
    truth = _true_like(world, topic)
    members = {
        s.label: [
            person_of[c]
            for c in audience.segment_members(db, brand.principal, brand.id, s.expression)
        ]
        for s in forecast.segments
    }
    true_rate = [float(truth[members[s.label]].mean()) for s in forecast.segments]
    predicted = [s.per_member for s in forecast.segments]
    rho = _spearman(predicted, true_rate)
    print(f"{topic}: {len(predicted)} segments, Spearman {rho:.2f}")
    assert rho > 0.6
    # the segment predicted best is among the truly best third
    assert true_rate[0] >= np.quantile(true_rate, 2 / 3)
    # the split adds up to (at most) the post's prediction: segments overlap, one per kind
    ages = [s for s in forecast.segments if s.label.startswith("age ")]
    assert sum(s.engagements for s in ages) == pytest.approx(
        forecast.prediction.engagements, rel=0.01
    )


def test_bad_requests_are_refused(db: Session, brand: Brand, world: World) -> None:
    with pytest.raises(InvalidInput, match="no contact has a profile"):
        predict.predict_segments(
            db, brand.principal, brand.id, "Ciao", channel_id=brand.channel.id, at=EVENING
        )
    _audience(db, brand, world)
    with pytest.raises(InvalidInput, match="at least"):  # no history yet
        predict.predict_segments(
            db, brand.principal, brand.id, "Ciao", channel_id=brand.channel.id, at=EVENING
        )
    _history(db, brand, 20)
    with pytest.raises(InvalidInput, match=r"known interests: .*coffee"):
        predict.predict_segments(
            db,
            brand.principal,
            brand.id,
            "Ciao",
            channel_id=brand.channel.id,
            at=EVENING,
            topic="knitting",
        )
    with pytest.raises(InvalidInput, match="empty"):
        predict.predict_segments(
            db, brand.principal, brand.id, "  ", channel_id=brand.channel.id, at=EVENING
        )
    with pytest.raises(NotFound):
        predict.predict_segments(
            db, brand.principal, brand.id, "Ciao", channel_id=10**6, at=EVENING
        )
    # no topic known from the text: the split follows engagement history alone
    plain = predict.predict_segments(
        db, brand.principal, brand.id, "Ciao", channel_id=brand.channel.id, at=EVENING
    )
    assert plain.topic is None and plain.segments
    outsider = make_user(db)
    with pytest.raises(NotFound):  # another brand's workspace is not even acknowledged
        predict.predict_segments(
            db,
            accounts.Principal.for_user(outsider),
            brand.id,
            "Ciao",
            channel_id=brand.channel.id,
            at=EVENING,
        )
    viewer = add_member(db, brand.workspace, brand.owner, Role.viewer)
    seen = predict.predict_segments(
        db,
        accounts.Principal.for_user(viewer),
        brand.id,
        "Ciao",
        channel_id=brand.channel.id,
        at=EVENING,
    )
    assert seen.audience == plain.audience


@pytest.fixture
def client(ctx: AppContext, brand: Brand) -> Iterator[TestClient]:
    app = create_app(dataclasses.replace(ctx, providers=brand.providers))
    with TestClient(app, follow_redirects=False) as c:
        yield c


def test_the_api_and_the_page_show_the_split(
    client: TestClient, db: Session, brand: Brand, world: World
) -> None:
    _audience(db, brand, world, 600)
    _history(db, brand, 30)
    draft = publishing.create_post(
        db,
        brand.principal,
        brand.id,
        PostCreate(variants=[VariantIn(channel_id=brand.channel.id, text="Bozza sera")]),
    )
    draft.scheduled_at = EVENING
    auth = session_auth(db, brand.owner)
    db.commit()
    api = Api(client)
    url = f"/api/v1/workspaces/{brand.id}/analytics/engagement/segments"
    body = {"text": "Nuova proposta", "channel_id": brand.channel.id, "topic": "coffee"}
    found = api.post(url, json={**body, "limit": 5}, auth=auth)
    assert found.status_code == 200, found.text
    data = found.json()
    assert data["topic"] == "coffee" and data["audience"] == 600
    assert len(data["segments"]) == 5 and data["predicted_engagements"] > 0
    per_member = [s["per_member"] for s in data["segments"]]
    assert per_member == sorted(per_member, reverse=True)
    assert_problem(api.post(url, json={**body, "topic": "knitting"}, auth=auth), 422)
    assert_problem(api.post(url, json={**body, "channel_id": 10**6}, auth=auth), 404)
    assert_problem(api.post(url, json={**body, "text": ""}, auth=auth), 422)
    page = api.get(f"/w/{brand.id}/analytics", auth=auth)
    assert page.status_code == 200, page.text
    assert "For whom" in page.text and page.text.count("data-segment=") == 5
