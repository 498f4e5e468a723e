"""Ground truth is complete and JSON-serialisable."""

from __future__ import annotations

import json

from dialogo.simulation import Event, Message, World, message_truth
from dialogo.simulation.events import event_from_dict, event_to_dict


def test_ground_truth_is_json_and_complete(world: World) -> None:
    truth = world.ground_truth(people=True)
    text = json.dumps(truth)
    assert len(text) > 10_000
    keys = [s.key for s in world.config.segments]
    assert [s["key"] for s in truth["segments"]] == keys
    assert set(truth["receptive_segments_by_topic"]["running"]) == set(keys)
    assert truth["receptive_segments_by_topic"]["running"][0] == "athletes"
    assert truth["receptive_segments_by_topic"]["sustainability"][0] == "green"
    hours = truth["best_hours_by_segment"]
    assert hours["athletes"]["weekday"] == 6 and hours["urban_young"]["weekday"] == 22
    assert all(len(s["online_by_hour_of_week"]) == 168 for s in truth["segments"])
    influence = truth["influence"]
    assert len(influence["source"]) == len(influence["p"]) == world.graph.m
    assert len(truth["people"]) == world.population.size
    assert truth["brands"][0]["workspace"] is True
    negative = [row["negative"] for row in truth["follow_up_behaviour"]]
    assert negative == sorted(negative)


def test_message_truth_labels_every_message(week: list[Event]) -> None:
    rows = message_truth(week)
    messages = [e for e in week if isinstance(e, Message)]
    assert len(rows) == len(messages)
    assert {r["sentiment"] for r in rows} == {"neg", "neu", "pos"}
    json.dumps(rows)
    json.dumps([event_to_dict(e) for e in week[:500]])


def test_events_round_trip_through_json(week: list[Event]) -> None:
    for event in week[:2_000]:
        assert event_from_dict(json.loads(json.dumps(event_to_dict(event)))) == event
