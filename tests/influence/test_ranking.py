"""Edge probabilities from observed propagation and influencer ranking (pure functions), and on
the sandbox's ground truth: advocates chosen on the estimated graph reach at least 95 % of the
oracle's spread under the true probabilities."""

from __future__ import annotations

import numpy as np
import pytest

from dialogo.influence.graph import InfluenceGraph
from dialogo.influence.imm import imm, monte_carlo_spread
from dialogo.influence.ranking import (
    estimate_probabilities,
    rank_influencers,
    weighted_cascade,
)
from dialogo.influence.sandbox import brand_outcomes, observe, propagation_counts
from dialogo.simulation import build_world


def test_no_evidence_falls_back_to_weighted_cascade_and_evidence_moves_it() -> None:
    src = np.array([0, 1, 2, 0])
    dst = np.array([3, 3, 3, 1])
    wc = weighted_cascade(4, dst)
    assert wc.tolist() == pytest.approx([1 / 3, 1 / 3, 1 / 3, 1.0])
    none = estimate_probabilities(4, src, dst, np.zeros(4), np.zeros(4))
    assert none.tolist() == pytest.approx(wc.tolist())
    seen = estimate_probabilities(4, src, dst, np.array([100, 100, 0, 0]), np.array([90, 0, 0, 0]))
    assert seen[0] > 0.85 and seen[1] < 0.05 and seen[2] == pytest.approx(1 / 3)
    lt = estimate_probabilities(
        4, src, dst, np.array([100, 100, 100, 0]), np.array([90, 90, 90, 0]), linear_threshold=True
    )
    assert lt[:3].sum() == pytest.approx(1.0)


@pytest.mark.parametrize(
    ("trials", "successes", "needle"),
    [([1, 1], [2, 0], "more successes"), ([-1, 0], [0, 0], "negative"), ([1], [0], "same length")],
)
def test_bad_counts_are_refused(trials: list[int], successes: list[int], needle: str) -> None:
    with pytest.raises(ValueError, match=needle):
        estimate_probabilities(3, np.array([0, 1]), np.array([1, 2]), trials, successes)


def test_ranking_puts_the_hub_first_and_measures_core_and_pagerank() -> None:
    # node 0 is listened to by 1..5 (a star) and 1-2-3 form a triangle
    src = np.array([0, 0, 0, 0, 0, 1, 2, 3])
    dst = np.array([1, 2, 3, 4, 5, 2, 3, 1])
    p = np.full(src.size, 0.3)
    r = rank_influencers(6, src, dst, p, followers=np.array([50, 5, 5, 5, 1, 1.0]))
    assert r.order[0] == 0
    assert int(np.argmax(r.pagerank)) == 0
    assert r.core.tolist() == [3, 3, 3, 3, 1, 1]
    assert r.score.min() >= 0 and r.score.max() <= 1
    with pytest.raises(ValueError, match="one value per node"):
        rank_influencers(6, src, dst, p, followers=np.ones(3))


@pytest.mark.slow
def test_advocates_from_estimated_probabilities_reach_95_percent_of_the_oracle() -> None:
    world = build_world(seed=11, population=3000, history_days=60)
    brand = world.config.workspace_brand.handle
    observed = observe(world, brand_outcomes(world, brand, world.config.end))
    assert observed.prop_src.size > 0  # the sandbox shows some propagation
    trials, successes = propagation_counts(world, observed)
    g = world.graph
    estimated = estimate_probabilities(g.n, g.src, g.dst, trials, successes)
    truth = InfluenceGraph.from_arcs(g.n, g.src, g.dst, world.influence.astype(np.float64))
    ours = imm(InfluenceGraph.from_arcs(g.n, g.src, g.dst, estimated), 20, epsilon=0.2, seed=1)
    oracle = imm(truth, 20, epsilon=0.2, seed=1)
    ours_spread = monte_carlo_spread(truth, ours.seeds, runs=4000, seed=5).mean
    oracle_spread = monte_carlo_spread(truth, oracle.seeds, runs=4000, seed=5).mean
    assert ours_spread >= 0.95 * oracle_spread, (ours_spread, oracle_spread)
