"""Ground-truth files: what is written reads back to the world's own truth, row for row."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pytest

from dialogo.simulation import World, WorldConfig, message_truth
from dialogo.simulation.truth import expected_like_rates
from dialogo.simulation.truthfiles import FILES, export_truth, read_truth


@pytest.fixture(scope="module")
def small() -> World:
    return World(WorldConfig(seed=13, population=1_500, history_days=14))


def test_the_files_round_trip(small: World, tmp_path: Path) -> None:
    counts = export_truth(small, tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(FILES)
    truth = read_truth(tmp_path)
    cfg = small.config
    keys = [s.key for s in cfg.segments]

    # Receptive segments: the ranking of the true expected like rates, and the planted lifts.
    rates = expected_like_rates(small)
    for t, topic in enumerate(truth.world["topics"]):
        assert truth.receptive[topic] == [keys[s] for s in np.argsort(-rates[:, t], kind="stable")]
    assert ("coffee", "professionals") in truth.receptive_pairs  # planted at 2.0
    assert ("coffee", "urban_young") not in truth.receptive_pairs  # planted at 0.8
    assert truth.world["receptive_segments_by_topic"]["running"][0] == truth.receptive["running"][0]

    # Best hours: seven local hours per segment, as the world's ground truth says.
    expected = small.ground_truth(influence=False)["best_hours_by_segment"]
    for key in keys:
        assert truth.best_hours[key] == expected[key]["best_post_hour_by_weekday"]

    # Influence: the graph's arcs and probabilities, in order.
    assert counts["influence_edges.csv"] == small.graph.m
    np.testing.assert_array_equal(truth.edges_source, small.graph.src)
    np.testing.assert_array_equal(truth.edges_target, small.graph.dst)
    np.testing.assert_allclose(truth.edges_p, small.influence, rtol=1e-5)

    # People: one row each, joinable by the provider's remote ids.
    assert len(truth.people) == small.population.size
    assert truth.segment_of["u7"] == keys[int(small.population.segment[7])]

    # Messages: every message of the history with its true labels.
    events = list(small.events(cfg.start, cfg.end))
    labels = message_truth(events)
    assert [m["id"] for m in truth.messages] == [m["id"] for m in labels]
    assert [m["sentiment"] for m in truth.messages] == [m["sentiment"] for m in labels]
    scores = truth.sentiment_of()
    assert {scores[m["id"]] for m in labels if m["sentiment"] == "neg"} == {-1}
    assert {m["brand"] for m in truth.messages} >= {"", "caffeaurora", "vesuviocaffe"}
    assert "sentiment_score" in (tmp_path / "README.md").read_text()


def test_a_shorter_window_and_rewriting_a_folder(small: World, tmp_path: Path) -> None:
    first = export_truth(small, tmp_path, end=small.config.start + dt.timedelta(days=2))
    second = export_truth(small, tmp_path)  # replaces the files, does not append
    assert 0 < first["messages.csv"] < second["messages.csv"]
    assert len(read_truth(tmp_path).messages) == second["messages.csv"]


def test_reading_a_folder_that_is_not_ground_truth_says_what_is_missing(tmp_path: Path) -> None:
    (tmp_path / "world.json").write_text("{}")
    with pytest.raises(FileNotFoundError, match=r"README\.md is missing"):
        read_truth(tmp_path)
