"""What-if forecasts: intervals that contain what really happens most of the time."""

from __future__ import annotations

import dataclasses
import datetime as dt

import numpy as np

from dialogo.simulation import Campaign, PlannedPost, World, forecast, realise

AT = dt.datetime(2026, 2, 16, 7, tzinfo=dt.UTC)


def _campaign(name: str, budget: float = 0.0, advocates: tuple[int, ...] = ()) -> Campaign:
    return Campaign(
        posts=(
            PlannedPost(at=AT, topic="running", media=True),
            PlannedPost(at=AT + dt.timedelta(days=2, hours=12), topic="coffee"),
        ),
        budget_eur=budget,
        advocates=advocates,
        name=name,
    )


def test_forecast_is_deterministic_and_ordered(world: World) -> None:
    a = forecast(world, _campaign("x"), runs=20)
    b = forecast(world, _campaign("x"), runs=20)
    assert np.array_equal(a.samples, b.samples)
    for interval in a.totals.values():
        assert interval.low <= interval.median <= interval.high
    assert len(a.per_post) == 2
    assert a.totals["reach"].median <= sum(p["reach"].median for p in a.per_post) + 1
    assert set(a.as_dict()["totals"]) >= {"reach", "likes", "clicks", "engagement", "revenue_eur"}


def test_budget_and_advocates_raise_the_forecast(world: World) -> None:
    organic = forecast(world, _campaign("y"), runs=20)
    paid = forecast(world, _campaign("y", budget=60.0), runs=20)
    assert paid.totals["reach"].median > 1.5 * organic.totals["reach"].median
    top = tuple(int(i) for i in np.argsort(-world.graph.out_degree())[:15])
    boosted = forecast(world, _campaign("y", advocates=top), runs=20)
    assert boosted.totals["reposts"].median > organic.totals["reposts"].median


def test_intervals_contain_the_realised_outcome_most_of_the_time(world: World) -> None:
    hits = total = 0
    for k in range(16):
        campaign = dataclasses.replace(_campaign(f"cover-{k}", budget=10.0 * (k % 3)))
        prediction = forecast(world, campaign, runs=40)
        actual = realise(world, campaign)
        for metric in ("reach", "likes", "clicks", "engagement"):
            hits += prediction.totals[metric].contains(actual[metric])
            total += 1
    assert hits / total >= 0.65  # nominal coverage of a 10th–90th percentile interval: 80 %
