"""Edge probabilities from observed propagation, and influencer ranking, as pure functions.

* :func:`estimate_probabilities`: the Bernoulli estimate of Goyal, Bonchi and Lakshmanan
  (WSDM 2010, "Learning influence probabilities in social networks"): an arc ``u → v`` had a
  *trial* each time ``u`` took part in a cascade (reposted, replied …) and a *success* each time
  ``v`` followed ``u`` in it. Evidence is sparse, so the estimate is shrunk towards the
  weighted-cascade prior ``1 / in-degree(v)`` with a pseudo-count ``prior_strength``: an arc
  with no trials keeps the weighted-cascade probability (the fallback), an arc with many trials
  gets its observed rate.
* :func:`rank_influencers`: reach (followers), engagement, PageRank (on the influence
  direction, weighted by probability), k-core number (undirected) and topic relevance,
  combined into one score from their percentile ranks.

No session, no network: arrays in, arrays out.
"""

from __future__ import annotations

import dataclasses

import networkx as nx  # type: ignore[import-untyped]
import numpy as np
from numpy.typing import NDArray


def weighted_cascade(n: int, dst: NDArray[np.integer]) -> NDArray[np.float64]:
    """``1 / in-degree(v)`` for every arc ``u → v`` (duplicates counted once each)."""
    d = np.asarray(dst, dtype=np.int64)
    indegree = np.bincount(d, minlength=n).astype(np.float64)
    return 1.0 / np.maximum(indegree[d], 1.0)


def estimate_probabilities(
    n: int,
    src: NDArray[np.integer],
    dst: NDArray[np.integer],
    trials: NDArray[np.integer],
    successes: NDArray[np.integer],
    *,
    prior_strength: float = 5.0,
    linear_threshold: bool = False,
) -> NDArray[np.float64]:
    """One probability per arc: ``(successes + a·wc) / (trials + a)`` with ``wc`` the
    weighted-cascade probability and ``a = prior_strength``.

    ``trials[i]`` counts the cascades in which ``src[i]`` was active, ``successes[i]`` those in
    which ``dst[i]`` then acted because of ``src[i]``. With ``linear_threshold`` the weights into
    each node are scaled down where they sum above 1 (the LT model needs at most 1)."""
    s = np.asarray(src, dtype=np.int64)
    d = np.asarray(dst, dtype=np.int64)
    t = np.asarray(trials, dtype=np.float64)
    k = np.asarray(successes, dtype=np.float64)
    if not (s.shape == d.shape == t.shape == k.shape):
        raise ValueError("src, dst, trials and successes must have the same length")
    if prior_strength <= 0:
        raise ValueError("prior_strength must be positive")
    if t.size and (t.min() < 0 or k.min() < 0):
        raise ValueError("counts cannot be negative")
    if np.any(k > t):
        raise ValueError("an arc cannot have more successes than trials")
    prior = weighted_cascade(n, d)
    p = (k + prior_strength * prior) / (t + prior_strength)
    p = np.clip(p, 0.0, 1.0)
    if linear_threshold and p.size:
        totals = np.bincount(d, weights=p, minlength=n)
        scale = np.where(totals > 1.0, 1.0 / np.maximum(totals, 1e-12), 1.0)
        p = p * scale[d]
    return p


@dataclasses.dataclass(frozen=True)
class Ranking:
    """Per node: the measures, the combined score (0…1) and the rank (0 = first)."""

    followers: NDArray[np.float64]
    engagement: NDArray[np.float64]
    pagerank: NDArray[np.float64]
    core: NDArray[np.int64]
    topic: NDArray[np.float64]
    score: NDArray[np.float64]
    order: NDArray[np.int64]  # node ids, best first


#: How much each measure weighs in the combined score (percentile ranks).
WEIGHTS = {"followers": 0.25, "engagement": 0.2, "pagerank": 0.3, "core": 0.15, "topic": 0.1}


def pagerank(
    n: int, src: NDArray[np.integer], dst: NDArray[np.integer], weight: NDArray[np.floating]
) -> NDArray[np.float64]:
    """PageRank of the influence direction: a node ranks high when *influential* nodes
    listen to it, so the walk goes against the arcs (``dst → src``), weighted by ``weight``."""
    graph = nx.DiGraph()
    graph.add_nodes_from(range(n))
    graph.add_weighted_edges_from(
        zip(
            np.asarray(dst).tolist(),
            np.asarray(src).tolist(),
            np.asarray(weight, dtype=np.float64).tolist(),
            strict=True,
        )
    )
    if graph.number_of_edges() == 0:
        return np.full(n, 1.0 / max(n, 1))
    ranks = nx.pagerank(graph, alpha=0.85, weight="weight", tol=1e-8)
    return np.array([ranks[i] for i in range(n)], dtype=np.float64)


def core_numbers(n: int, src: NDArray[np.integer], dst: NDArray[np.integer]) -> NDArray[np.int64]:
    """k-core number of every node in the undirected interaction graph (self-loops dropped)."""
    graph = nx.Graph()
    graph.add_nodes_from(range(n))
    s, d = np.asarray(src).tolist(), np.asarray(dst).tolist()
    graph.add_edges_from((a, b) for a, b in zip(s, d, strict=True) if a != b)
    cores = nx.core_number(graph)
    return np.array([cores[i] for i in range(n)], dtype=np.int64)


def _percentile(values: NDArray[np.floating] | NDArray[np.integer]) -> NDArray[np.float64]:
    """Rank in 0…1 (ties share the average rank; all equal → 0.5)."""
    v = np.asarray(values, dtype=np.float64)
    if v.size <= 1:
        return np.full(v.size, 0.5)
    order = np.argsort(v, kind="stable")
    ranks = np.empty(v.size, dtype=np.float64)
    ranks[order] = np.arange(v.size, dtype=np.float64)
    # average ranks of ties
    uniq, inverse = np.unique(v, return_inverse=True)
    sums = np.bincount(inverse, weights=ranks, minlength=uniq.size)
    counts = np.bincount(inverse, minlength=uniq.size)
    mean: NDArray[np.float64] = (sums / counts)[inverse] / (v.size - 1)
    return mean


def rank_influencers(
    n: int,
    src: NDArray[np.integer],
    dst: NDArray[np.integer],
    p: NDArray[np.floating],
    *,
    followers: NDArray[np.floating] | None = None,
    engagement: NDArray[np.floating] | None = None,
    topic: NDArray[np.floating] | None = None,
) -> Ranking:
    """Rank ``n`` nodes of an interaction graph (arcs ``src → dst`` in the influence direction
    with probabilities ``p``). Missing measures count as zero for everyone."""
    zeros = np.zeros(n, dtype=np.float64)
    f = zeros if followers is None else np.asarray(followers, dtype=np.float64)
    e = zeros if engagement is None else np.asarray(engagement, dtype=np.float64)
    t = zeros if topic is None else np.asarray(topic, dtype=np.float64)
    for name, arr in (("followers", f), ("engagement", e), ("topic", t)):
        if arr.shape != (n,):
            raise ValueError(f"{name} needs one value per node")
    pr = pagerank(n, src, dst, p)
    core = core_numbers(n, src, dst)
    parts = {
        "followers": _percentile(f),
        "engagement": _percentile(e),
        "pagerank": _percentile(pr),
        "core": _percentile(core),
        "topic": _percentile(t),
    }
    score = sum((WEIGHTS[k] * v for k, v in parts.items()), np.zeros(n))
    order = np.lexsort((np.arange(n), -pr, -score)).astype(np.int64)
    return Ranking(f, e, pr, core, t, score, order)
