"""Independent-cascade sanity: no spread at p = 0, the reachable set at p = 1, and the exact
probabilities on small graphs."""

from __future__ import annotations

from collections import deque

import numpy as np

from dialogo.simulation import (
    World,
    independent_cascade,
    load_edge_list,
    reachable,
    spread,
    weighted_cascade,
)
from dialogo.simulation.graph import DiGraph

from .conftest import graph_file


def _bfs(graph: DiGraph, seeds: list[int]) -> set[int]:
    seen, queue = set(seeds), deque(seeds)
    while queue:
        node = queue.popleft()
        for nxt in graph.successors(node).tolist():
            if nxt not in seen:
                seen.add(nxt)
                queue.append(nxt)
    return seen


def test_p_zero_spreads_to_the_seeds_only(world: World) -> None:
    rng = np.random.default_rng(1)
    seeds = [3, 14, 15, 92]
    cascade = independent_cascade(world.graph, np.zeros(world.graph.m), seeds, rng)
    assert sorted(cascade.nodes.tolist()) == seeds
    assert (cascade.parent == -1).all()


def test_p_one_reaches_the_reachable_set(world: World) -> None:
    rng = np.random.default_rng(2)
    seeds = [0, 1, 2]
    cascade = independent_cascade(world.graph, np.ones(world.graph.m), seeds, rng)
    expected = _bfs(world.graph, seeds)
    assert set(cascade.nodes.tolist()) == expected
    assert set(reachable(world.graph, seeds).tolist()) == expected
    # Parents were active one step earlier, along a real arc.
    step_of = dict(zip(cascade.nodes.tolist(), cascade.step.tolist(), strict=True))
    for node, parent, step in zip(cascade.nodes, cascade.parent, cascade.step, strict=True):
        if parent >= 0:
            assert step_of[int(parent)] == step - 1
            assert int(node) in world.graph.successors(int(parent)).tolist()


def test_spread_matches_exact_probabilities() -> None:
    # 0 → 1 → 2 and 0 → 2: P(2 active) = 1 - (1 - 0.5·0.4)(1 - 0.3) = 0.44
    graph = DiGraph.from_arcs(3, np.array([0, 0, 1]), np.array([1, 2, 2]))
    p = np.array([0.5, 0.3, 0.4])  # arcs sorted: (0,1), (0,2), (1,2)
    sizes = spread(graph, p, [0], np.random.default_rng(3), runs=6_000)
    expected = 1 + 0.5 + 0.44
    assert abs(sizes.mean() - expected) < 0.04


def test_weighted_cascade_spread_on_a_real_graph() -> None:
    graph = load_edge_list(graph_file("nethept"))
    p = weighted_cascade(graph)
    rng = np.random.default_rng(4)
    seeds = np.argsort(-graph.out_degree())[:50]
    sizes = spread(graph, p, seeds, rng, runs=30)
    # 50 high-degree seeds under weighted cascade reach hundreds of nodes (best known ≈ 965).
    assert 200 < sizes.mean() < 1_000
