"""The follower graph looks like real social graphs: heavy tails, communities, reciprocity."""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np
import pytest

from dialogo.simulation import World, degree_summary, load_edge_list, weighted_cascade
from dialogo.simulation.graph import DiGraph, gini, hill_exponent

from .conftest import graph_file

REAL = ("nethept", "facebook", "wikivote", "enron", "netphy")


def test_load_edge_list(tmp_path: Path) -> None:
    text = "4 5\n0 1\n1 2\n2 0\n2 3\n2 3\n"  # a duplicate arc is dropped
    (tmp_path / "g.txt").write_text(text)
    with gzip.open(tmp_path / "g.txt.gz", "wt") as handle:
        handle.write(text)
    for name in ("g.txt", "g.txt.gz"):
        graph = load_edge_list(tmp_path / name)
        assert (graph.n, graph.m) == (4, 4)
        assert graph.successors(2).tolist() == [0, 3]
        assert graph.in_degree().tolist() == [1, 1, 1, 1]
        assert weighted_cascade(graph).tolist() == [1.0, 1.0, 1.0, 1.0]
    (tmp_path / "bad.txt").write_text("3 2\n0 1\n")
    with pytest.raises(ValueError, match="header"):
        load_edge_list(tmp_path / "bad.txt")


def test_reciprocity_and_csr() -> None:
    graph = DiGraph.from_arcs(3, np.array([0, 1, 1, 2]), np.array([1, 0, 2, 2]))  # 2→2 dropped
    assert graph.m == 3
    assert graph.reciprocal().tolist() == [True, True, False]
    assert graph.out_degree().tolist() == [1, 2, 0]


def test_heavy_tail_statistics() -> None:
    rng = np.random.default_rng(0)
    pareto = (rng.pareto(1.5, 50_000) + 1).astype(np.int64)
    thin = rng.poisson(10, 50_000)
    assert hill_exponent(pareto) < 3.0 < hill_exponent(thin)
    assert gini(pareto) > gini(thin)


def test_generated_graph_is_heavy_tailed_with_communities(world: World) -> None:
    summary = degree_summary(world.graph)
    assert 8 <= summary["mean_degree"] <= 20
    followers = world.graph.out_degree()  # arcs go from the followed to the follower
    assert summary["hill_out"] < 3.0  # a power-law tail of follower counts
    assert summary["gini_out"] > 0.45
    assert followers.max() > 15 * followers.mean()
    assert 0.1 < summary["reciprocity"] < 0.5
    pop = world.population
    src, dst = world.graph.src, world.graph.dst
    shares = np.bincount(pop.segment) / pop.size
    same_segment = np.mean(pop.segment[src] == pop.segment[dst])
    assert same_segment > 2 * float(np.sum(shares**2))
    place_shares = np.bincount(pop.place) / pop.size
    assert np.mean(pop.place[src] == pop.place[dst]) > 3 * float(np.sum(place_shares**2))
    # Popular people have more followers: attachment follows popularity.
    assert np.corrcoef(pop.popularity, followers)[0, 1] > 0.5


def test_influence_probabilities_are_a_subcritical_weighted_cascade(world: World) -> None:
    p = world.influence
    assert p.shape == (world.graph.m,)
    assert float(p.min()) > 0 and float(p.max()) <= 1
    # Each follower splits a propensity below one among the accounts it follows.
    incoming = np.bincount(world.graph.dst, weights=p, minlength=world.graph.n)
    assert float(incoming.max()) < 1.0
    assert 0.2 < float(incoming.mean()) < 0.5


def test_generated_degrees_are_in_the_range_of_real_graphs(world: World) -> None:
    """Calibration: the generated graph sits inside the range spanned by the five reference
    graphs of influence-maximisation papers (``../shared/data/graphs``)."""
    reals = [degree_summary(load_edge_list(graph_file(name))) for name in REAL]
    ours = degree_summary(world.graph)

    def span(values: list[float]) -> tuple[float, float]:
        return min(values), max(values)

    low, high = span([r["mean_degree"] for r in reals])
    assert low <= ours["mean_degree"] <= high
    low, high = span([min(r["hill_in"], r["hill_out"]) for r in reals])  # heavier tail
    assert low - 0.3 <= ours["hill_out"] <= high
    low, high = span([max(r["gini_in"], r["gini_out"]) for r in reals])
    assert low <= ours["gini_out"] <= high
    low, high = span([max(r["max_in_over_mean"], r["max_out_over_mean"]) for r in reals])
    assert low <= ours["max_out_over_mean"] <= high
