"""The independent-cascade model on a :class:`~dialogo.simulation.graph.DiGraph`.

When a node becomes active it gets one chance to activate each successor ``v`` along arc
``e``, succeeding with probability ``p[e]``. The simulation is a breadth-first search over
numpy arrays, one frontier at a time.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import numpy as np
from numpy.typing import NDArray

from dialogo.simulation.graph import DiGraph


@dataclasses.dataclass(frozen=True)
class Cascade:
    """Activated nodes in order of activation; ``parent`` is -1 for seeds."""

    nodes: NDArray[np.int64]
    parent: NDArray[np.int64]
    step: NDArray[np.int32]

    @property
    def size(self) -> int:
        return int(self.nodes.size)


def out_arcs(graph: DiGraph, nodes: NDArray[np.int64]) -> NDArray[np.int64]:
    """Indices of all arcs leaving ``nodes`` (concatenated, in the order of ``nodes``)."""
    starts = graph.indptr[nodes]
    counts = graph.indptr[nodes + 1] - starts
    total = int(counts.sum())
    if total == 0:
        return np.zeros(0, dtype=np.int64)
    offsets = np.repeat(starts - np.concatenate(([0], np.cumsum(counts)[:-1])), counts)
    result: NDArray[np.int64] = offsets + np.arange(total, dtype=np.int64)
    return result


def independent_cascade(
    graph: DiGraph,
    p: NDArray[np.floating],
    seeds: Sequence[int] | NDArray[np.integer],
    rng: np.random.Generator,
    *,
    max_steps: int | None = None,
) -> Cascade:
    """One random cascade from ``seeds`` with arc probabilities ``p``."""
    if p.shape[0] != graph.m:
        raise ValueError("one probability per arc is needed")
    seed_nodes = np.unique(np.asarray(seeds, dtype=np.int64))
    active = np.zeros(graph.n, dtype=np.bool_)
    active[seed_nodes] = True
    nodes = [seed_nodes]
    parents = [np.full(seed_nodes.size, -1, dtype=np.int64)]
    steps = [np.zeros(seed_nodes.size, dtype=np.int32)]
    frontier = seed_nodes
    step = 0
    while frontier.size and (max_steps is None or step < max_steps):
        step += 1
        arcs = out_arcs(graph, frontier)
        if arcs.size == 0:
            break
        hit = arcs[rng.random(arcs.size) < p[arcs]]
        targets = graph.dst[hit].astype(np.int64)
        fresh = ~active[targets]
        hit, targets = hit[fresh], targets[fresh]
        if targets.size == 0:
            break
        targets, first = np.unique(targets, return_index=True)
        active[targets] = True
        nodes.append(targets)
        parents.append(graph.src[hit[first]].astype(np.int64))
        steps.append(np.full(targets.size, step, dtype=np.int32))
        frontier = targets
    return Cascade(np.concatenate(nodes), np.concatenate(parents), np.concatenate(steps))


def reachable(graph: DiGraph, seeds: Sequence[int] | NDArray[np.integer]) -> NDArray[np.int64]:
    """Every node reachable from ``seeds`` (the seeds included), sorted."""
    visited = np.zeros(graph.n, dtype=np.bool_)
    frontier = np.unique(np.asarray(seeds, dtype=np.int64))
    visited[frontier] = True
    while frontier.size:
        targets = graph.dst[out_arcs(graph, frontier)].astype(np.int64)
        targets = np.unique(targets[~visited[targets]])
        visited[targets] = True
        frontier = targets
    return np.flatnonzero(visited)


def spread(
    graph: DiGraph,
    p: NDArray[np.floating],
    seeds: Sequence[int] | NDArray[np.integer],
    rng: np.random.Generator,
    runs: int = 1000,
) -> NDArray[np.int64]:
    """Monte Carlo: the size of ``runs`` independent cascades from ``seeds``."""
    return np.array(
        [independent_cascade(graph, p, seeds, rng).size for _ in range(runs)], dtype=np.int64
    )
