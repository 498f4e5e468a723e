"""Influence maximisation: IMM over reverse-reachable (RR) sets, and Monte Carlo spread.

* :func:`imm` picks ``k`` seeds maximising the expected spread under the independent-cascade
  (``"ic"``) or linear-threshold (``"lt"``) model with the IMM algorithm of Tang, Shi and Xiao
  (SIGMOD 2015): a sampling phase that finds a lower bound of the optimum by doubling the number
  of RR sets, then greedy maximum coverage on enough RR sets for a ``(1 - 1/e - ε)``
  approximation with probability ``1 - n^-ℓ``. Following Chen (2018, "An issue in the
  martingale analysis of IMM") the final RR sets are drawn afresh, independent of the
  sampling phase. Excluded nodes are never chosen.
* RR sets under IC use geometric skipping (the SUBSIM idea) where all in-arcs of a node share
  one probability, as under weighted cascade: the cost is the number of arcs *taken*, not the
  in-degree.
* :func:`monte_carlo_spread` simulates the chosen seeds forward, with a confidence interval.

Pure functions over arrays, compiled with numba (cached on disk after the first call).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Iterable
from typing import Literal

import numba
import numpy as np
from numpy.typing import NDArray

from dialogo.influence.graph import InfluenceGraph

Model = Literal["ic", "lt"]

_NEVER = np.int64(-(2**62))


# -- compiled kernels -------------------------------------------------------------------------


@numba.njit(cache=True)
def _grow(buffer: NDArray[np.int32], need: int) -> NDArray[np.int32]:  # pragma: no cover
    size = buffer.size
    while size < need:
        size *= 2
    bigger = np.empty(size, dtype=np.int32)
    bigger[: buffer.size] = buffer
    return bigger


@numba.njit(cache=True)
def _rr_sets(  # type: ignore[no-untyped-def]  # pragma: no cover - compiled
    n, in_indptr, in_src, in_p, in_uniform, count, seed, linear_threshold
):
    """``count`` RR sets from uniformly random roots: ``(indptr, nodes)``."""
    np.random.seed(seed)
    nodes = np.empty(max(1024, 8 * count), dtype=np.int32)
    indptr = np.empty(count + 1, dtype=np.int64)
    indptr[0] = 0
    mark = np.zeros(n, dtype=np.int32)
    size = 0
    for r in range(count):
        stamp = r + 1
        root = np.random.randint(0, n)
        if size + 1 > nodes.size:
            nodes = _grow(nodes, size + 1)
        nodes[size] = root
        mark[root] = stamp
        size += 1
        if linear_threshold:
            v = root
            while True:
                a = in_indptr[v]
                b = in_indptr[v + 1]
                if a == b:
                    break
                draw = np.random.random()
                q = in_uniform[v]
                chosen = -1
                if q >= 0.0:
                    if draw < q * (b - a):
                        chosen = min(a + int(draw / q), b - 1)
                else:
                    total = 0.0
                    for j in range(a, b):
                        total += in_p[j]
                        if draw < total:
                            chosen = j
                            break
                if chosen < 0:
                    break
                u = in_src[chosen]
                if mark[u] == stamp:
                    break
                mark[u] = stamp
                if size + 1 > nodes.size:
                    nodes = _grow(nodes, size + 1)
                nodes[size] = u
                size += 1
                v = u
        else:
            head = size - 1
            while head < size:
                v = nodes[head]
                head += 1
                a = in_indptr[v]
                b = in_indptr[v + 1]
                if a == b:
                    continue
                q = in_uniform[v]
                if q >= 1.0:
                    for j in range(a, b):
                        u = in_src[j]
                        if mark[u] != stamp:
                            mark[u] = stamp
                            if size + 1 > nodes.size:
                                nodes = _grow(nodes, size + 1)
                            nodes[size] = u
                            size += 1
                elif q > 0.0 and b - a > 6:
                    log_miss = math.log(1.0 - q)
                    j = a + int(math.log(1.0 - np.random.random()) / log_miss)
                    while j < b:
                        u = in_src[j]
                        if mark[u] != stamp:
                            mark[u] = stamp
                            if size + 1 > nodes.size:
                                nodes = _grow(nodes, size + 1)
                            nodes[size] = u
                            size += 1
                        j += 1 + int(math.log(1.0 - np.random.random()) / log_miss)
                else:
                    for j in range(a, b):
                        if np.random.random() < in_p[j]:
                            u = in_src[j]
                            if mark[u] != stamp:
                                mark[u] = stamp
                                if size + 1 > nodes.size:
                                    nodes = _grow(nodes, size + 1)
                                nodes[size] = u
                                size += 1
        indptr[r + 1] = size
    return indptr, nodes[:size].copy()


@numba.njit(cache=True)
def _greedy_cover(n, indptr, nodes, k, allowed):  # type: ignore[no-untyped-def]  # pragma: no cover
    """Greedy maximum coverage of RR sets by ``k`` allowed nodes: ``(seeds, covered sets)``."""
    sets = indptr.size - 1
    degree = np.zeros(n, dtype=np.int64)
    for t in range(nodes.size):
        degree[nodes[t]] += 1
    inv_ptr = np.zeros(n + 1, dtype=np.int64)
    for x in range(n):
        inv_ptr[x + 1] = inv_ptr[x] + degree[x]
    fill = inv_ptr[:-1].copy()
    inv = np.empty(nodes.size, dtype=np.int64)
    for r in range(sets):
        for t in range(indptr[r], indptr[r + 1]):
            x = nodes[t]
            inv[fill[x]] = r
            fill[x] += 1
    for x in range(n):
        if not allowed[x]:
            degree[x] = _NEVER
    covered = np.zeros(sets, dtype=np.bool_)
    seeds = np.empty(k, dtype=np.int64)
    chosen = 0
    total = 0
    for _ in range(k):
        best = -1
        best_degree = -1
        for x in range(n):
            if degree[x] > best_degree:
                best_degree = degree[x]
                best = x
        if best < 0:
            break
        seeds[chosen] = best
        chosen += 1
        total += best_degree
        for t in range(inv_ptr[best], inv_ptr[best + 1]):
            r = inv[t]
            if covered[r]:
                continue
            covered[r] = True
            for s in range(indptr[r], indptr[r + 1]):
                degree[nodes[s]] -= 1
        degree[best] = _NEVER
    return seeds[:chosen].copy(), total


@numba.njit(cache=True)
def _simulate_ic(n, out_indptr, out_dst, out_p, seeds, runs, seed):  # type: ignore[no-untyped-def]  # pragma: no cover
    np.random.seed(seed)
    mark = np.zeros(n, dtype=np.int64)
    queue = np.empty(n, dtype=np.int64)
    sizes = np.empty(runs, dtype=np.int64)
    for r in range(runs):
        stamp = r + 1
        size = 0
        for s in seeds:
            if mark[s] != stamp:
                mark[s] = stamp
                queue[size] = s
                size += 1
        head = 0
        while head < size:
            u = queue[head]
            head += 1
            for j in range(out_indptr[u], out_indptr[u + 1]):
                v = out_dst[j]
                if mark[v] != stamp and np.random.random() < out_p[j]:
                    mark[v] = stamp
                    queue[size] = v
                    size += 1
        sizes[r] = size
    return sizes


@numba.njit(cache=True)
def _simulate_lt(n, out_indptr, out_dst, out_p, seeds, runs, seed):  # type: ignore[no-untyped-def]  # pragma: no cover
    np.random.seed(seed)
    mark = np.zeros(n, dtype=np.int64)
    seen = np.zeros(n, dtype=np.int64)
    threshold = np.zeros(n)
    weight = np.zeros(n)
    queue = np.empty(n, dtype=np.int64)
    sizes = np.empty(runs, dtype=np.int64)
    for r in range(runs):
        stamp = r + 1
        size = 0
        for s in seeds:
            if mark[s] != stamp:
                mark[s] = stamp
                queue[size] = s
                size += 1
        head = 0
        while head < size:
            u = queue[head]
            head += 1
            for j in range(out_indptr[u], out_indptr[u + 1]):
                v = out_dst[j]
                if mark[v] == stamp:
                    continue
                if seen[v] != stamp:
                    seen[v] = stamp
                    threshold[v] = 1.0 - np.random.random()  # (0, 1]
                    weight[v] = 0.0
                weight[v] += out_p[j]
                if weight[v] >= threshold[v]:
                    mark[v] = stamp
                    queue[size] = v
                    size += 1
        sizes[r] = size
    return sizes


# -- public API -------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class SeedSelection:
    """Seeds in the order greedy chose them, and the RR-set estimate of their spread."""

    seeds: NDArray[np.int64]
    estimated_spread: float
    rr_sets: int
    model: Model


@dataclasses.dataclass(frozen=True)
class SpreadEstimate:
    """Monte Carlo spread: mean size and a normal-approximation confidence interval."""

    mean: float
    low: float
    high: float
    std: float
    runs: int


def rr_sets(
    graph: InfluenceGraph, count: int, *, model: Model = "ic", seed: int = 0
) -> tuple[NDArray[np.int64], NDArray[np.int32]]:
    """``count`` random RR sets as ``(indptr, nodes)``: set ``i`` is
    ``nodes[indptr[i]:indptr[i + 1]]``, its first node the random root."""
    _check_model(model)
    indptr, nodes = _rr_sets(
        graph.n,
        graph.in_indptr,
        graph.in_src,
        graph.in_p,
        graph.in_uniform,
        int(count),
        int(seed) % (2**32),
        model == "lt",
    )
    return indptr, nodes


def greedy_cover(
    n: int,
    indptr: NDArray[np.int64],
    nodes: NDArray[np.int32],
    k: int,
    allowed: NDArray[np.bool_] | None = None,
) -> tuple[NDArray[np.int64], int]:
    """Greedy maximum coverage: ``k`` seeds (fewer if fewer nodes are allowed) and how many of
    the RR sets they cover."""
    mask = np.ones(n, dtype=np.bool_) if allowed is None else np.asarray(allowed, dtype=np.bool_)
    seeds, total = _greedy_cover(n, indptr, nodes, int(k), mask)
    return seeds, int(total)


def _check_model(model: str) -> None:
    if model not in ("ic", "lt"):
        raise ValueError(f"unknown diffusion model {model!r}: use 'ic' or 'lt'")


def _log_binomial(n: int, k: int) -> float:
    return math.lgamma(n + 1) - math.lgamma(k + 1) - math.lgamma(n - k + 1)


def imm(
    graph: InfluenceGraph,
    k: int,
    *,
    model: Model = "ic",
    epsilon: float = 0.1,
    ell: float = 1.0,
    exclude: Iterable[int] = (),
    seed: int = 0,
) -> SeedSelection:
    """IMM seed selection (see the module docstring); ``exclude`` lists nodes never chosen."""
    _check_model(model)
    n = graph.n
    if k < 1:
        raise ValueError("k must be at least 1")
    if not 0 < epsilon < 1:
        raise ValueError("epsilon must lie in (0, 1)")
    allowed = np.ones(n, dtype=np.bool_)
    excluded = np.fromiter(exclude, dtype=np.int64)
    if excluded.size:
        if excluded.min() < 0 or excluded.max() >= n:
            raise ValueError("excluded node outside the graph")
        allowed[excluded] = False
    candidates = int(allowed.sum())
    k = min(k, candidates)
    if k == 0:
        return SeedSelection(np.zeros(0, dtype=np.int64), 0.0, 0, model)
    rng = np.random.default_rng(seed)
    ell = ell * (1.0 + math.log(2) / math.log(n)) if n > 1 else ell
    log_n = math.log(max(n, 2))
    log_binom = _log_binomial(n, k)
    eps_prime = math.sqrt(2.0) * epsilon
    lambda_prime = (
        (2.0 + 2.0 / 3.0 * eps_prime)
        * (log_binom + ell * log_n + math.log(max(math.log2(max(n, 2)), 1.0)))
        * n
        / eps_prime**2
    )
    lower_bound = 1.0
    parts_indptr: list[NDArray[np.int64]] = []
    parts_nodes: list[NDArray[np.int32]] = []
    have = 0
    for i in range(1, max(int(math.log2(n)), 1)):
        x = n / 2.0**i
        theta_i = math.ceil(lambda_prime / x)
        if theta_i > have:
            indptr, nodes = rr_sets(
                graph, theta_i - have, model=model, seed=int(rng.integers(2**32))
            )
            parts_indptr.append(indptr)
            parts_nodes.append(nodes)
            have = theta_i
        all_indptr, all_nodes = _concat(parts_indptr, parts_nodes)
        parts_indptr, parts_nodes = [all_indptr], [all_nodes]
        _, covered = greedy_cover(n, all_indptr, all_nodes, k, allowed)
        estimate = n * covered / have
        if estimate >= (1.0 + eps_prime) * x:
            lower_bound = estimate / (1.0 + eps_prime)
            break
    e = math.e
    alpha = math.sqrt(ell * log_n + math.log(2.0))
    beta = math.sqrt((1.0 - 1.0 / e) * (log_binom + ell * log_n + math.log(2.0)))
    lambda_star = 2.0 * n * ((1.0 - 1.0 / e) * alpha + beta) ** 2 / epsilon**2
    theta = max(math.ceil(lambda_star / lower_bound), 1)
    indptr, nodes = rr_sets(graph, theta, model=model, seed=int(rng.integers(2**32)))
    seeds, covered = greedy_cover(n, indptr, nodes, k, allowed)
    return SeedSelection(seeds, n * covered / theta, theta, model)


def _concat(
    indptrs: list[NDArray[np.int64]], nodes: list[NDArray[np.int32]]
) -> tuple[NDArray[np.int64], NDArray[np.int32]]:
    if len(indptrs) == 1:
        return indptrs[0], nodes[0]
    offsets = np.cumsum([0] + [part.size for part in nodes[:-1]])
    merged = [indptrs[0]] + [p[1:] + o for p, o in zip(indptrs[1:], offsets[1:], strict=True)]
    return np.concatenate(merged), np.concatenate(nodes)


def monte_carlo_spread(
    graph: InfluenceGraph,
    seeds: Iterable[int],
    *,
    model: Model = "ic",
    runs: int = 10_000,
    seed: int = 0,
    confidence: float = 0.95,
) -> SpreadEstimate:
    """Simulate ``runs`` independent cascades from ``seeds``: mean size and interval."""
    _check_model(model)
    if runs < 1:
        raise ValueError("runs must be at least 1")
    seed_nodes = np.unique(np.fromiter(seeds, dtype=np.int64))
    if seed_nodes.size and (seed_nodes.min() < 0 or seed_nodes.max() >= graph.n):
        raise ValueError("seed node outside the graph")
    kernel = _simulate_lt if model == "lt" else _simulate_ic
    sizes = kernel(
        graph.n,
        graph.out_indptr,
        graph.out_dst,
        graph.out_p,
        seed_nodes,
        int(runs),
        int(seed) % (2**32),
    )
    mean = float(sizes.mean())
    std = float(sizes.std(ddof=1)) if runs > 1 else 0.0
    z = _normal_quantile(0.5 + confidence / 2.0)
    half = z * std / math.sqrt(runs)
    return SpreadEstimate(mean, mean - half, mean + half, std, int(runs))


def _normal_quantile(p: float) -> float:
    """Inverse of the standard normal CDF (bisection on ``erf``; precise enough for intervals)."""
    lo, hi = -10.0, 10.0
    for _ in range(80):
        mid = (lo + hi) / 2.0
        if 0.5 * (1.0 + math.erf(mid / math.sqrt(2.0))) < p:
            lo = mid
        else:
            hi = mid
    return (lo + hi) / 2.0
