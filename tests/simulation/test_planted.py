"""Planted differences can be recovered from what the world does."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest

from dialogo.simulation import TOPICS, Event, Message, PostSpec, Targeting, World
from dialogo.simulation.truth import expected_like_rates, receptive_segments


@pytest.mark.parametrize("topic", ["running", "sustainability", "family", "coffee", "music"])
def test_most_receptive_segment_engages_most(world: World, topic: str) -> None:
    truth = receptive_segments(world)[topic]
    planted = max(world.config.segments, key=lambda s: s.receptiveness_of(topic)).key
    assert truth[0] == planted  # the planted multiplier decides the true ranking's top
    segments = len(world.config.segments)
    seen = np.zeros(segments)
    liked = np.zeros(segments)
    start = dt.datetime(2026, 2, 2, 9, tzinfo=dt.UTC)
    for k in range(16):
        post = PostSpec(
            id=f"planted-{topic}-{k}",
            brand="caffeaurora",
            at=start + dt.timedelta(days=k, hours=3 * (k % 4)),
            topic=topic,
            paid_budget_eur=120.0,  # a wide, untargeted audience
            targeting=Targeting(interested_only=False),
        )
        outcome = world.simulate_post(post)
        segment = world.population.segment
        seen += np.bincount(segment[outcome.viewers], minlength=segments)
        liked += np.bincount(segment[outcome.like_person], minlength=segments)
    observed = liked / np.maximum(seen, 1)
    keys = [s.key for s in world.config.segments]
    assert keys[int(np.argmax(observed))] == truth[0]
    # The observed rates follow the true ones across all segments.
    true_rates = expected_like_rates(world)[:, TOPICS.index(topic)]
    assert np.corrcoef(observed, true_rates)[0, 1] > 0.8


@pytest.fixture(scope="module")
def season(world: World) -> list[Event]:
    start = world.config.start
    return list(world.events(start, start + dt.timedelta(days=63)))


def test_best_hour_per_segment_is_recovered_from_activity(
    world: World, season: list[Event]
) -> None:
    events = season
    mapper = world.mapper
    segments = len(world.config.segments)
    counts = np.zeros((segments, 24))
    for event in events:
        # What people start on their own (follow-ups are timed by patience, not rhythm).
        if isinstance(event, Message) and event.followup is None and event.kind != "comment":
            how = mapper.local_hour_of_week(event.at)
            if how < 5 * 24:  # weekdays
                counts[world.population.segment[event.author], how % 24] += 1
    assert counts.sum() > 3_000
    smooth = counts + 0.5 * (np.roll(counts, 1, axis=1) + np.roll(counts, -1, axis=1))
    truth = world.ground_truth(influence=False)["best_hours_by_segment"]
    for s, spec in enumerate(world.config.segments):
        planted = truth[spec.key]["weekday"]
        found = int(np.argmax(smooth[s]))
        distance = min(abs(found - planted), 24 - abs(found - planted))
        assert distance <= 1, (spec.key, planted, found)


def _negative_share(messages: list[Message]) -> float:
    return sum(m.sentiment == "neg" for m in messages) / max(len(messages), 1)


def test_sentiment_baselines_and_brand_quality_show_through(
    world: World, season: list[Event]
) -> None:
    own = [
        e for e in season if isinstance(e, Message) and e.followup is None and e.kind != "comment"
    ]
    segment = world.population.segment
    green, seniors = world.segment_index("green"), world.segment_index("seniors")
    # Planted: the eco-minded are the most critical segment, the over-55s the kindest.
    assert _negative_share([m for m in own if segment[m.author] == green]) > _negative_share(
        [m for m in own if segment[m.author] == seniors]
    )
    by_brand = {
        b.handle: _negative_share([m for m in own if m.brand == b.handle]) for b in world.brands
    }
    # Planted brand quality: Dolce Forno 0.45 > Caffè Aurora 0.3 > Vesuvio 0.15 > Moka Nera.
    assert by_brand["dolceforno"] < by_brand["caffeaurora"] < by_brand["mokanera"]
    assert by_brand["vesuviocaffe"] < by_brand["mokanera"]
