"""The follower graph: a directed graph in the direction influence flows.

An arc ``v → u`` (``src = v``, ``dst = u``) means *u follows v*: what v posts reaches u, and v can
influence u. This is also the convention of the influence-maximisation graphs in
``../shared/data/graphs`` ("u v": u influences v), which :func:`load_edge_list` reads.

:func:`generate_follower_graph` builds a graph with the features of real ones: heavy-tailed
follower counts (attachment proportional to a Pareto-tailed popularity, as in preferential
attachment), communities by place and segment (homophily), triadic closure (friends of friends)
and reciprocity. :func:`influence_probabilities` gives the true independent-cascade
probabilities: a weighted cascade where each follower splits its propensity to repost among the
accounts it follows by tie strength.
"""

from __future__ import annotations

import dataclasses
import gzip
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from dialogo.simulation.config import WorldConfig
from dialogo.simulation.population import Population
from dialogo.simulation.rng import stream


def _sorted_unique(values: NDArray[np.int64]) -> NDArray[np.int64]:
    """``np.unique`` by sorting (numpy's hash-based unique is much slower on big int arrays)."""
    ordered = np.sort(values)
    if ordered.size == 0:
        return ordered
    keep = np.empty(ordered.size, dtype=np.bool_)
    keep[0] = True
    np.not_equal(ordered[1:], ordered[:-1], out=keep[1:])
    return ordered[keep]


@dataclasses.dataclass(frozen=True, eq=False)
class DiGraph:
    """Arcs sorted by ``(src, dst)``, without duplicates or self-loops, with a CSR index:
    the successors of ``v`` are ``dst[indptr[v]:indptr[v + 1]]``."""

    n: int
    src: NDArray[np.int32]
    dst: NDArray[np.int32]
    indptr: NDArray[np.int64]

    @classmethod
    def from_arcs(cls, n: int, src: NDArray[np.integer], dst: NDArray[np.integer]) -> DiGraph:
        src64 = np.asarray(src, dtype=np.int64)
        dst64 = np.asarray(dst, dtype=np.int64)
        if src64.size and (min(src64.min(), dst64.min()) < 0 or max(src64.max(), dst64.max()) >= n):
            raise ValueError("arc endpoint out of range")
        keep = src64 != dst64
        keys = _sorted_unique(src64[keep] * n + dst64[keep])
        s = (keys // n).astype(np.int32)
        d = (keys % n).astype(np.int32)
        indptr = np.zeros(n + 1, dtype=np.int64)
        np.cumsum(np.bincount(s, minlength=n), out=indptr[1:])
        return cls(n=n, src=s, dst=d, indptr=indptr)

    @property
    def m(self) -> int:
        return int(self.src.shape[0])

    def out_degree(self) -> NDArray[np.int64]:
        return np.diff(self.indptr)

    def in_degree(self) -> NDArray[np.int64]:
        return np.bincount(self.dst, minlength=self.n)

    def successors(self, node: int) -> NDArray[np.int32]:
        return self.dst[self.indptr[node] : self.indptr[node + 1]]

    def arc_keys(self) -> NDArray[np.int64]:
        return self.src.astype(np.int64) * self.n + self.dst

    def reciprocal(self) -> NDArray[np.bool_]:
        """For each arc, whether the reverse arc exists too (keys are sorted)."""
        if self.m == 0:
            return np.zeros(0, dtype=np.bool_)
        keys = self.arc_keys()
        reverse = self.dst.astype(np.int64) * self.n + self.src
        pos = np.minimum(np.searchsorted(keys, reverse), keys.size - 1)
        result: NDArray[np.bool_] = keys[pos] == reverse
        return result


# -- real graphs -----------------------------------------------------------------------------


def load_edge_list(path: str | Path) -> DiGraph:
    """Read a graph file: first line ``n m``, then ``m`` lines ``u v`` (0-based arcs ``u → v``).
    ``.gz`` files are decompressed on the fly."""
    path = Path(path)
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rb") as handle:
        data = handle.read()
    numbers = np.array(data.split(), dtype=np.int64)
    if numbers.size < 2:
        raise ValueError(f"{path}: empty graph file")
    n, m = int(numbers[0]), int(numbers[1])
    arcs = numbers[2 : 2 + 2 * m].reshape(-1, 2)
    if arcs.shape[0] != m:
        raise ValueError(f"{path}: header says {m} arcs, found {arcs.shape[0]}")
    return DiGraph.from_arcs(n, arcs[:, 0], arcs[:, 1])


def weighted_cascade(graph: DiGraph) -> NDArray[np.float64]:
    """The classic weighted-cascade probabilities, ``p(u → v) = 1 / in-degree(v)``."""
    in_degree = graph.in_degree()
    result: NDArray[np.float64] = 1.0 / in_degree[graph.dst]
    return result


# -- degree statistics -----------------------------------------------------------------------


def hill_exponent(degrees: NDArray[np.integer], tail: float = 0.05) -> float:
    """Hill estimate of the power-law exponent of the density of the top ``tail`` of degrees
    (≈ 2–3 for social graphs; large values mean a thin tail)."""
    values = np.sort(degrees[degrees > 0])[::-1].astype(np.float64)
    k = max(10, int(values.size * tail))
    if values.size <= k:
        return float("nan")
    logs = np.log(values[:k] / values[k])
    return float(1.0 + k / max(logs.sum(), 1e-12))


def gini(values: NDArray[np.integer]) -> float:
    ordered = np.sort(values.astype(np.float64))
    n = ordered.size
    total = ordered.sum()
    if n == 0 or total == 0:
        return 0.0
    return float((2 * np.arange(1, n + 1) - n - 1).dot(ordered) / (n * total))


def degree_summary(graph: DiGraph) -> dict[str, float]:
    """Numbers to compare a generated graph with the real ones. Degrees follow the arcs: in a
    follower graph (arcs from the followed to the follower) ``out`` counts followers and ``in``
    counts the accounts followed."""
    in_degree = graph.in_degree()
    out_degree = graph.out_degree()
    mean = graph.m / graph.n
    return {
        "nodes": float(graph.n),
        "arcs": float(graph.m),
        "mean_degree": mean,
        "max_in_over_mean": float(in_degree.max() / mean),
        "max_out_over_mean": float(out_degree.max() / mean),
        "hill_in": hill_exponent(in_degree),
        "hill_out": hill_exponent(out_degree),
        "gini_in": gini(in_degree),
        "gini_out": gini(out_degree),
        "reciprocity": float(graph.reciprocal().mean()) if graph.m else 0.0,
    }


# -- the generator ---------------------------------------------------------------------------

_SHARE_PLACE = 0.3
_SHARE_SEGMENT = 0.3
_SHARE_GLOBAL = 0.15  # the rest closes triads
_RECIPROCITY = 0.3


def _sample_in_groups(
    rng: np.random.Generator,
    node_group: NDArray[np.integer],
    weights: NDArray[np.float64],
    slot_group: NDArray[np.integer],
) -> NDArray[np.int64]:
    """For each slot, a node of the slot's group drawn with probability ∝ weight."""
    result = np.empty(slot_group.size, dtype=np.int64)
    node_order = np.argsort(node_group, kind="stable")
    node_sorted = node_group[node_order]
    slot_order = np.argsort(slot_group, kind="stable")
    slot_sorted = slot_group[slot_order]
    if slot_sorted.size == 0:
        return result
    boundary = np.ones(slot_sorted.size, dtype=np.bool_)
    boundary[1:] = slot_sorted[1:] != slot_sorted[:-1]
    slot_starts = np.flatnonzero(boundary)
    groups = slot_sorted[slot_starts]
    slot_ends = np.append(slot_starts[1:], slot_sorted.size)
    node_starts = np.searchsorted(node_sorted, groups, side="left")
    node_ends = np.searchsorted(node_sorted, groups, side="right")
    for g in range(groups.size):
        members = node_order[node_starts[g] : node_ends[g]]
        cumulative = np.cumsum(weights[members])
        slots = slot_order[slot_starts[g] : slot_ends[g]]
        draws = rng.random(slots.size) * cumulative[-1]
        picks = np.minimum(np.searchsorted(cumulative, draws, side="right"), members.size - 1)
        result[slots] = members[picks]
    return result


def generate_follower_graph(population: Population, config: WorldConfig) -> DiGraph:
    """Who follows whom (stream ``graph``); arcs point from the followed to the follower."""
    rng = stream(config.seed, "graph")
    n = population.size
    popularity = population.popularity.astype(np.float64)
    activity = population.activity.astype(np.float64)
    # How many accounts each person follows: log-normal, more for the more active.
    sigma = 0.9
    raw = rng.lognormal(-(sigma**2) / 2, sigma, size=n) * np.sqrt(activity)
    follows = np.clip(np.rint(raw * config.mean_follows / raw.mean()), 1, max(2, n // 10))
    follows = follows.astype(np.int64)
    follower = np.repeat(np.arange(n, dtype=np.int64), follows)
    kind = rng.random(follower.size)
    by_place = kind < _SHARE_PLACE
    by_segment = (kind >= _SHARE_PLACE) & (kind < _SHARE_PLACE + _SHARE_SEGMENT)
    globally = (kind >= _SHARE_PLACE + _SHARE_SEGMENT) & (
        kind < _SHARE_PLACE + _SHARE_SEGMENT + _SHARE_GLOBAL
    )
    triadic = ~(by_place | by_segment | globally)

    followed = np.full(follower.size, -1, dtype=np.int64)
    followed[by_place] = _sample_in_groups(
        rng, population.place, popularity, population.place[follower[by_place]]
    )
    followed[by_segment] = _sample_in_groups(
        rng, population.segment, popularity, population.segment[follower[by_segment]]
    )
    zeros = np.zeros(n, dtype=np.int64)
    followed[globally] = _sample_in_groups(
        rng, zeros, popularity, np.zeros(int(globally.sum()), dtype=np.int64)
    )

    # Triadic closure: follow someone followed by someone you follow.
    first = ~triadic
    stage = DiGraph.from_arcs(n, follower[first], followed[first])  # follower → followed
    out = stage.out_degree()
    who = follower[triadic]
    has = out[who] > 0
    via = np.full(who.size, -1, dtype=np.int64)
    step = (rng.random(int(has.sum())) * out[who[has]]).astype(np.int64)
    via[has] = stage.dst[stage.indptr[who[has]] + step]
    has2 = has.copy()
    has2[has] = out[via[has]] > 0
    pick = np.full(who.size, -1, dtype=np.int64)
    k = int(has2.sum())
    step2 = (rng.random(k) * out[via[has2]]).astype(np.int64)
    pick[has2] = stage.dst[stage.indptr[via[has2]] + step2]
    followed[triadic] = pick

    ok = followed >= 0
    a, b = follower[ok], followed[ok]  # a follows b
    # Reciprocity: ordinary people often follow back, celebrities rarely do.
    back_p = _RECIPROCITY * np.minimum(1.0, 2.0 / popularity[b])
    back_p *= np.where(population.place[a] == population.place[b], 1.3, 1.0)
    back = rng.random(a.size) < back_p
    followers_of = np.concatenate([a, b[back]])
    followees = np.concatenate([b, a[back]])
    return DiGraph.from_arcs(n, followees, followers_of)


def influence_probabilities(
    graph: DiGraph, population: Population, config: WorldConfig
) -> NDArray[np.float32]:
    """True IC probability of each arc ``v → u`` (stream ``influence``).

    ``p(v → u) = κ_u · tie(v, u) / Σ_{w followed by u} tie(w, u)``: a weighted cascade in which
    the follower ``u`` splits its propensity to repost (``κ_u``, by segment, mean offspring
    well below 1 so cascades stay realistic) among the accounts it follows by tie strength
    (reciprocal follows, same place, shared interests, a random personal part).
    """
    rng = stream(config.seed, "influence")
    v = graph.src.astype(np.int64)
    u = graph.dst.astype(np.int64)
    tie = rng.lognormal(0.0, 0.5, size=graph.m)
    tie *= np.where(graph.reciprocal(), 2.0, 1.0)
    tie *= np.where(population.place[v] == population.place[u], 1.5, 1.0)
    shared = np.minimum(population.interests[v], population.interests[u]).sum(axis=1)
    tie *= 1.0 + shared
    total = np.bincount(u, weights=tie, minlength=graph.n)
    kappa_segment = np.array([s.repost_propensity for s in config.segments])
    kappa = kappa_segment[population.segment] * rng.lognormal(-0.045, 0.3, size=graph.n)
    kappa = np.minimum(kappa * config.behaviour.repost_scale, 0.95)
    p = np.clip(kappa[u] * tie / total[u], 0.0, 1.0)
    return p.astype(np.float32)
