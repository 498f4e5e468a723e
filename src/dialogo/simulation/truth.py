"""Ground truth: what the product's algorithms try to find, exported as plain JSON-ready dicts.

* per segment: size, planted receptiveness by topic, the resulting expected engagement rate by
  topic, hourly online probabilities (local time), peak hours and best posting hours;
* per topic: segments ranked by true receptiveness (expected like rate of a viewer);
* per brand: followers, mean experience of those who know it, answer policy;
* the follow-up behaviour table (how people react to answer delays);
* the influence graph with true independent-cascade probabilities (optional, it is large);
* per person: segment and demographics (optional);
* per message: true sentiment, topic, language, intent (:func:`message_truth`).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray

from dialogo.simulation.conversation import follow_up_behaviour
from dialogo.simulation.events import Event, Message
from dialogo.simulation.rhythms import best_post_hours, peak_hours
from dialogo.simulation.taxonomy import TOPICS

if TYPE_CHECKING:
    from dialogo.simulation.world import World

_FOLLOW_UP_DELAYS: tuple[float | None, ...] = (0.5, 1.0, 2.0, 4.0, 8.0, 24.0, 48.0, None)


def expected_like_rates(world: World, brand: int = 0, media: bool = False) -> NDArray[np.float64]:
    """``(segments, topics)``: the true chance that a member who sees a post of ``brand`` on
    each topic likes it (a non-follower, averaged over the segment's members)."""
    cfg = world.config.behaviour
    pop = world.population
    segment = pop.segment.astype(np.int64)
    base = (
        cfg.like_logit
        + (cfg.media_weight if media else 0.0)
        + pop.propensity.astype(np.float64)
        + 0.5 * pop.satisfaction[:, brand].astype(np.float64)
    )
    odds = (
        base[:, None]
        + world.log_receptiveness[segment]
        + cfg.interest_weight * pop.interests.astype(np.float64)
    )
    p = 1.0 / (1.0 + np.exp(-odds))
    segments = len(world.config.segments)
    counts = np.bincount(segment, minlength=segments).astype(np.float64)
    rates = np.stack(
        [np.bincount(segment, weights=p[:, t], minlength=segments) for t in range(len(TOPICS))],
        axis=1,
    )
    result: NDArray[np.float64] = rates / np.maximum(counts, 1.0)[:, None]
    return result


def receptive_segments(world: World) -> dict[str, list[str]]:
    """For each topic, segment keys from the most to the least receptive."""
    rates = expected_like_rates(world)
    keys = [s.key for s in world.config.segments]
    return {topic: [keys[i] for i in np.argsort(-rates[:, t])] for t, topic in enumerate(TOPICS)}


def influence_edges(world: World) -> dict[str, list[Any]]:
    """The follower graph with true IC probabilities, as parallel lists (source is followed by
    target; influence flows from source to target)."""
    return {
        "source": world.graph.src.tolist(),
        "target": world.graph.dst.tolist(),
        "p": np.round(world.influence.astype(np.float64), 6).tolist(),
    }


def ground_truth(world: World, *, influence: bool = True, people: bool = False) -> dict[str, Any]:
    """Everything true about ``world`` that an algorithm could try to recover."""
    cfg = world.config
    pop = world.population
    sizes = np.bincount(pop.segment, minlength=len(cfg.segments))
    rates = expected_like_rates(world)
    peaks = peak_hours(world.online)
    best = best_post_hours(
        world.online, cfg.behaviour.feed_decay_hours, cfg.behaviour.engagement_horizon_hours
    )
    segments = []
    for s, spec in enumerate(cfg.segments):
        segments.append(
            {
                "index": s,
                "key": spec.key,
                "label_it": spec.label_it,
                "label_en": spec.label_en,
                "size": int(sizes[s]),
                "receptiveness": {t: spec.receptiveness_of(t) for t in TOPICS},
                "expected_like_rate": {
                    t: round(float(rates[s, i]), 5) for i, t in enumerate(TOPICS)
                },
                "peak_hour_weekday": int(peaks["weekday"][s]),
                "peak_hour_weekend": int(peaks["weekend"][s]),
                "best_post_hour_by_weekday": [int(h) for h in best[s]],
                "online_by_hour_of_week": [round(float(p), 5) for p in world.online[s]],
                "sentiment_baseline": spec.sentiment_baseline,
                "patience_hours_median": spec.patience_hours,
                "conversion_multiplier": spec.conversion,
            }
        )
    brands = []
    for b, brand in enumerate(cfg.brands):
        aware = pop.aware[:, b] > 0
        brands.append(
            {
                "handle": brand.handle,
                "name": brand.name,
                "workspace": b == 0,
                "quality": brand.quality,
                "aware_people": int(aware.sum()),
                "mean_satisfaction_of_aware": round(float(pop.satisfaction[aware, b].mean()), 4)
                if aware.any()
                else None,
                "followers_at_start": world.follower_count(brand.handle, cfg.start),
                "followers_at_end": world.follower_count(brand.handle, cfg.end),
                "answer_rate": brand.answer_rate,
                "answer_median_working_hours": brand.answer_median_hours,
            }
        )
    follow_ups = []
    for delay in _FOLLOW_UP_DELAYS:
        behaviour = follow_up_behaviour(delay, patience_hours=4.0)
        follow_ups.append(
            {
                "answer_delay_hours": delay,
                "patience_hours": 4.0,
                **{name: round(p, 4) for name, p in behaviour.outcomes()},
                "chase": round(behaviour.chase, 4),
                "negative": round(behaviour.negative, 4),
            }
        )
    result: dict[str, Any] = {
        "seed": cfg.seed,
        "timezone": cfg.timezone,
        "start": cfg.start.isoformat(),
        "end": cfg.end.isoformat(),
        "live_from": cfg.live_from.isoformat(),
        "config": cfg.to_dict(),
        "topics": list(TOPICS),
        "segments": segments,
        "receptive_segments_by_topic": receptive_segments(world),
        "best_hours_by_segment": {
            spec.key: {
                "timezone": cfg.timezone,
                "weekday": int(peaks["weekday"][s]),
                "weekend": int(peaks["weekend"][s]),
                "best_post_hour_by_weekday": [int(h) for h in best[s]],
            }
            for s, spec in enumerate(cfg.segments)
        },
        "brands": brands,
        "follow_up_behaviour": follow_ups,
        "graph": {
            "nodes": world.graph.n,
            "arcs": world.graph.m,
            "model": "independent cascade; arc source → target means target follows source",
        },
    }
    if influence:
        result["influence"] = influence_edges(world)
    if people:
        result["people"] = [pop.profile(i) for i in range(pop.size)]
    return result


def message_truth(events: Iterable[Event]) -> list[dict[str, Any]]:
    """The true labels of every message among ``events``."""
    return [
        {
            "id": e.id,
            "at": e.at.isoformat(),
            "author": e.author,
            "kind": e.kind,
            "brand": e.brand,
            "language": e.language,
            "sentiment": e.sentiment,
            "topic": e.topic,
            "intent": e.intent,
            "aspect": e.aspect,
            "expects_answer": e.expects_answer,
            "followup": e.followup,
        }
        for e in events
        if isinstance(e, Message)
    ]
