"""Influence maximisation over reverse-reachable (RR) sets, and Monte Carlo spread.

* :func:`imm` picks ``k`` seeds maximising the expected spread under the independent-cascade
  (``"ic"``) or linear-threshold (``"lt"``) model. It keeps the name of the IMM algorithm it
  replaced but follows OPIM-C (Tang, Tang, Xiao and Yuan, SIGMOD 2018): two independent pools
  of RR sets, ``R1`` and ``R2``, grown together from OPIM-C's ``θ0`` up to its ``θmax``;
  greedy maximum coverage on ``R1`` picks the seeds ``S``; the coverage of ``S`` on ``R2``
  gives a lower bound of ``σ(S)`` and the greedy's own submodular bound on ``R1`` an upper
  bound of the optimum ``σ(S°)``, both holding at every round with probability
  ``1 - δ`` (union bound over the rounds, ``δ = n^-ℓ``).

  **Guarantee.** The returned seeds satisfy ``σ(S) ≥ (1 - 1/e - ε) σ(S°)`` with probability at
  least ``1 - n^-ℓ``, where ``S°`` is the best set of ``k`` allowed nodes — the same guarantee
  as IMM and OPIM-C: the search never stops before those bounds certify the ratio (or at
  ``θmax``, where OPIM-C's worst-case analysis certifies it). The seeds returned are chosen
  by greedy on ``R1 ∪ R2`` (``2θ`` RR sets: about the precision of one more doubling round for
  the price of one greedy, over the two pools' inverted indexes as they are) and certified
  again on a third independent pool ``R3`` of ``θ/8`` sets (OPIM-C's lower bound against the
  same upper bound; one more event in the union bound); should that check fail, the
  certified ``S`` of ``R1`` is returned instead. The spread estimate is that of the
  independent pool the seeds were checked on.

  **Precision rule (not part of the guarantee).** The certificate is usually reached early, with
  seeds a few per cent below the best known (the C++ OPIM-C/SUBSIM results in
  ``../shared/data/README.md``). So the search also waits until two independent greedy choices
  can be told apart to within ``tolerance`` (default 0.3 %) of their coverage. Greedy runs on
  both pools (``S1`` on ``R1``, ``S2`` on ``R2``); ``D``, the RR sets of both pools covered by
  exactly one of ``S1``, ``S2``, sets the standard error ``√D / 2`` of the cross-fitted
  comparison ``((c1(S1) - c1(S2)) + (c2(S2) - c2(S1))) / 2`` (``c1``/``c2``: coverage of a
  pool); the rule asks for ``√D / 2 ≤ tolerance · c``, ``c`` the seeds' coverage of the pool
  they were not chosen on. Why this *resolution* and not the optimism (that comparison's mean:
  how many more RR sets the seeds cover of their own pool than of an independent one), which
  the rule bounded until 2026-12-06 (0.8 % for the final seeds, predicted as half the round's):
  the loss of seeds ``S`` that maximise the sample's coverage ``ĉ`` (greedy nearly does)
  against the best ``S°`` is bounded by how much more the sample favours ``S`` than ``S°``,
  ``(ĉ - σ)(S) - (ĉ - σ)(S°)``, a difference over the RR sets covered by one of the two only,
  of scale ``√D`` with ``S2`` standing in for ``S°``. The optimism ``(ĉ - σ)(S)`` also counts
  the error shared by every near-optimal set, which cancels in the loss: on facebook (dense
  circles of interchangeable nodes) the final seeds' predicted optimism was 0.8-1.4 % at
  45,000 RR sets per pool while their loss against the best known was 0.4-1.0 % (5 runs), and
  the old rule drew 178,226 RR sets where ~80,000 give 99 % (the benchmark's notes). The
  resolution falls at least as fast as ``1/√θ`` (``tests/influence``); once certified, the
  pools grow by what it asks for were it to go on falling as it fell since the round before,
  ``(resolution / tolerance)^(1/α)`` with ``α`` that decay's exponent clamped to [0.5, 1]
  (0.5 where no round was evaluated before), between 1.1× and 2× (:func:`_growth`; the union
  bound's ``i_max`` counts rounds of 1.1×: on facebook 96 instead of 42, ``log(3 i_max / δ)``
  +0.8, a slightly later certificate). Until 2026-12-07 the
  growth assumed the slowest decay, ``1.1 · (resolution / tolerance)²`` between 1.25× and 2×:
  facebook, at 29,696 RR sets per pool with a resolution of 0.0032-0.0034 (decay ``α`` ≈
  0.7 since 7,424), grew 1.25-1.43× and stopped at 37,000-42,000; it now grows 1.1-1.3× and
  stops at 33,000-36,000 (all pools: median 82,306 → 73,751 RR sets, seeds 0-4; the worst of
  5 runs 99.28 % of the best known either way; nethept 621,248 → 586,528, wikivote 229,513 →
  227,084, enron and netphy's median unchanged; worst of 5 runs nethept 99.54 → 99.62 %,
  wikivote 99.56 → 99.35 %, enron 99.06 %, netphy 99.03 % as before: its worst run, seed 4,
  is first certified at a resolution under the tolerance, so the growth never applies).
  A round that cannot stop is skipped: where the resolution, were it to fall as fast as
  ``1/θ`` (measured: ``θ^-0.55`` to ``θ^-1.1`` past the first round, up to ``θ^-1.9`` from
  the first), would still be 1.35 times the tolerance at the next round, its RR sets are
  drawn with the next round's (doubling), each step from the seeds it would have had. Where
  that round would have doubled anyway, the search returns the same seeds from the same RR
  sets, in fewer rounds (facebook 4 instead of 8, netphy 2-3 instead of 10, measured when
  the growth assumed ``α = 0.5``, where 1.35 = ``√(2 / 1.1)`` meant exactly that); where its
  resolution's own decay would have asked for less, skipping it only adds RR sets. A jump by
  the resolution's own prediction instead (``f`` or ``f^1.5``, ``f`` = resolution /
  tolerance, up to 8×) saved as many rounds but landed elsewhere than the doubling lattice:
  facebook drew 5-15 % more RR sets, and its worst of 5 runs fell to 98.98 % of the best
  known. So did evaluating every round with the growth above (skipping only from 2× the
  tolerance): the decay fitted between close rounds is noisy, facebook's seed 0 landed at
  27,798 with a resolution of 0.0037 and drew 89,278 RR sets (median −3 %, one more round).
  The precision rule only adds RR sets, so the guarantee above is unaffected; the tolerance
  is a heuristic measured on the five research graphs (``benchmarks/influence.py``: worst of
  5 runs ≥ 99.0 % of the best known on all five at 0.3 %; 0.33 % gave 98.97 % on netphy).
* RR sets under IC use subset sampling (SUBSIM, Guo et al., SIGMOD 2020) where all in-arcs
  of a node share one probability ``q``, as under weighted cascade: the number of arcs taken
  is drawn from Binomial(d, q) by inversion (``P(K = 0) = (1 - q)^d`` and ``P(K = 1)``
  precomputed per node, so that the usual K ≤ 1 costs no division but the arc's pick), then
  that many distinct arcs uniformly (Floyd's algorithm); where ``(1 - q)^d`` is too small to
  invert (many arcs at a high ``q``), geometric gaps between the arcs taken. Either way the
  cost of a visited node is about the number of arcs *taken* (≈ 1 under weighted cascade), not
  its in-degree, and no logarithm is needed on the binomial path. Arbitrary per-arc
  probabilities keep one coin per in-arc. Pools are flat ``(indptr, nodes)`` arrays grown in
  place: the sampler writes sets while the buffer has room for ``n`` more nodes (no RR set is
  larger) and the buffer doubles in between, so its inner loops carry no growth checks and never
  reassign an array (numba reference-counts an array reassigned in a loop: the sampler that
  grew its buffer node by node was 2.2-2.7× slower, 2026-12-06), and visited nodes carry the
  set's stamp (never cleared). Each round, each pool grows and runs its greedy in one task, the
  two pools on two threads (from the first round on), the second on one helper thread per
  call of :func:`imm` (the kernels release the GIL;
  ``NUMBA_NUM_THREADS=1`` keeps everything on one; a helper kept for the process, restarted in
  forked children, made no measurable difference: starting and joining one costs ~70 µs, and
  facebook took 64.3 against 66.0 ms wall, 37.2 against 38.5 ms CPU, enron 101.8 against 92.0
  ms and 35.8 against 35.5 ms, 12 calls each interleaved at load 5.5-6.0, 2026-12-07), with a
  SplitMix64 generator per pool seeded from ``seed`` (the result is the same on one thread or
  two). Each pool keeps an inverted index (node → RR sets) in chunks, one per growth: only the
  new sets are indexed (counting sort), written alongside their nodes, and the old chunks stay
  as they are (while the pool is small against ``n`` the index is rebuilt as one chunk
  instead). The greedy is lazy (a max-heap of stale marginal gains) over one pool's index or
  both, and the coverage counts of the cross-fit walk the seeds' lists (one pool per thread).
  The greedy's upper bound (the ``k`` largest marginal coverages, every 5 seeds) keeps them in
  a min-heap of size ``k``.

  Per-phase CPU of one facebook call (k = 50, WC, seeds 0-8, the mean; two threads; thread
  CPU time of each kernel call, timed by a wrapper around it; 2026-12-06 22:45 UTC, load 0.6;
  two runs of the module before the round skipping, the cheaper upper bound and the parallel
  coverage counts, interleaved with two of this one): RR draws 25.2 → 23.7 ms
  (the same 85,003 RR sets, median), greedy (all rounds and the final one) 13.5 → 8.1,
  inverted index 3.6 → 3.2, the cross-fit's coverage counts 1.2 → 0.75, Python between the
  kernels 3.0 → 2.1; CPU 46.6 → 38.0 ms (−18 %), wall 29.5 → 21.4 ms (−27 %). Tried and
  dropped (no gain on facebook's draw, 275-300 ns per RR set of 8.7 nodes either way): the
  K = 1 arc picked by a product instead of a quotient, the node's arc offset and in-degree
  in the subset table's row (one cache line per node), an int64 instead of a uint64 to float
  conversion of the generator's output, and a branch-free K ≤ 1 path (40 % slower). Nor did
  interleaved draws (2026-12-07): two or four RR sets built at once, node by node in turn,
  each lane with its own queue, stamps and generator stream and the finished sets copied to
  the pool, so that the CPU could overlap their chains of dependent loads — facebook, 40,000
  RR sets per call, thread CPU, median of 15 calls interleaved with the module's sampler
  (load ~2.6-3.7): two lanes in registers 300 vs 303 ns per RR set, four 335 vs 337, the
  lanes' state in arrays (one copy of the loop body) 318 vs 277; passing arrays to an
  inlined per-lane step made numba count references in the loop (5× slower). So the draw is
  bound by the unpredictable K = 0 / 1 / ≥ 2 branch (a misprediction discards the other
  lanes' work too), not by the chain of loads, memory or arithmetic.

  Wall time (2026-12-07 03:30-04:05 UTC, facebook; the machine loaded 2-7 by other helpers,
  so measured as the critical path of thread CPU times: per hand-off to the helper the longer
  of the two threads' parts, plus the calling thread's CPU outside them). Before: ~17 ms at
  load 3.4 (seed 0), of it 1.7 ms serial — the prologue 0.37 (the subset table 0.06-0.08,
  the pools, the generator), the first round (464 RR sets per pool) on one thread 0.95,
  Python between the kernels 0.01-0.1 per hand-off, R3's coverage count and the helper's join
  0.17 — and 13 hand-offs (a grow, a greedy and a coverage count per round). The parallel
  parts were even (within 0.2 ms) but for the last: the final greedy on R1 ∪ R2, 1.5-2.1 ms,
  against R3's draw, 1.1-1.8 (at load 5: 5-6.5 against 2.6-3.6; that greedy waits on memory).
  Now each pool grows and runs its greedy in one task (:func:`_grow_and_pick`: 9 hand-offs
  instead of 13, and the imbalances of draw and greedy no longer add up), the first round runs
  on both threads (``_PARALLEL_FROM`` 2,048 → 256), and the greedies whose upper bound is
  not used (R2's each round, the final one, :func:`greedy_cover`) skip it. The same seeds, RR
  sets and estimates on all five graphs, seeds 0-4. Critical path, seeds 0-60 (facebook) or
  0-30, each call interleaved with the module before (03:59 UTC, load 4.9 → 4.2), median:
  facebook 21.6 against 23.3 ms (−7 %; its serial part 1.5 against 2.6, CPU 40.5 against
  42.3), enron 14.3 against 15.9 (−10 %; serial 2.0 against 3.9), netphy 88.3 against 91.7
  (−4 %). Page faults cost nothing: 2-124 minor faults per facebook call (glibc keeps the
  freed buffers). Tried and dropped: a growth step making room for its nodes at the pool's
  mean set size before drawing them (one copy instead of the sampler's doublings, the buffer
  40 % smaller: 464 → 36,000 RR sets in four steps took 18.45 against 18.49 ms of thread
  CPU, 31 interleaved at load 6.8); software prefetch (an LLVM intrinsic) of the covered
  sets' index rows and nodes in the greedy, 8 list entries ahead — the greedy on R1 ∪ R2
  (36,000 RR sets per pool) −4 % at load 2, −2 to −18 % at load 6, on one pool no gain;
  :func:`_sift_down` and :func:`_cover_sets` inlined into the greedy (0-4 % slower); the
  greedy's marginal coverages in int32 (no change); the cross-fit's coverage counts of both
  pools on the calling thread (4 hand-offs fewer: critical path +1.5 ms at load 7, wall no
  better). What is left on facebook's critical path: the draw (~60 %, 300 ns per RR set,
  above), the greedy (~25 %: at 36,000 RR sets per pool 3,300 stale heap entries refreshed,
  ~12 levels each, and 220,000 decrements for the covered sets' nodes), and the final
  greedy's ~0.6 ms beyond R3's draw, which no other work of the final step can fill.
* :func:`monte_carlo_spread` simulates the chosen seeds forward, with a confidence interval.

Pure functions over arrays, compiled with numba (cached on disk after the first call).
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import dataclasses
import functools
import math
from collections.abc import Callable, Iterable
from typing import Literal, TypeVar

import numba
import numpy as np
from numpy.typing import NDArray

from dialogo.influence.graph import InfluenceGraph

Model = Literal["ic", "lt"]
_A = TypeVar("_A")
_B = TypeVar("_B")

TOLERANCE = 0.003
# Each round multiplies the RR sets of both pools by a factor between these two: the largest
# until the certificate holds, then what the precision rule's resolution asks for (see
# :func:`_growth`).
_MIN_GROWTH = 1.1
_MAX_GROWTH = 2.0
# A round whose resolution would still be this many times the tolerance were it to fall as fast
# as 1/θ (measured: θ^-0.55 to θ^-1.1 past the first round) cannot stop: it is skipped, its RR
# sets drawn with the next round's (doubling), so no greedy runs on pools that cannot stop.
_SKIP_ABOVE = 1.35
# The third pool R3, on which the final seeds are checked, has this share of θ RR sets.
_CHECK_SHARE = 0.125


# -- compiled kernels -------------------------------------------------------------------------


@numba.njit(cache=True, nogil=True)
def _grow(buffer: NDArray[np.int32], need: int) -> NDArray[np.int32]:  # pragma: no cover
    size = buffer.size
    while size < need:
        size *= 2
    bigger = np.empty(size, dtype=np.int32)
    bigger[: buffer.size] = buffer
    return bigger


_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_MIX1 = np.uint64(0xBF58476D1CE4E5B9)
_MIX2 = np.uint64(0x94D049BB133111EB)
_S30, _S27, _S31, _S11 = np.uint64(30), np.uint64(27), np.uint64(31), np.uint64(11)


@numba.njit(inline="always")
def _uniform(state):  # type: ignore[no-untyped-def]  # pragma: no cover - compiled
    """SplitMix64 step: ``(new state, uniform in [0, 1))``; ~8× cheaper than numba's
    Mersenne Twister, which dominated the cost of an RR set."""
    state = state + _GOLDEN
    z = state
    z = (z ^ (z >> _S30)) * _MIX1
    z = (z ^ (z >> _S27)) * _MIX2
    z = z ^ (z >> _S31)
    return state, float(z >> _S11) * (1.0 / 9007199254740992.0)


@numba.njit(cache=True, nogil=True)
def _rr_append(  # type: ignore[no-untyped-def]  # pragma: no cover - compiled
    indptr, nodes, sets, size, count, n, in_indptr, in_src, in_p, in_uniform, in_none, seed, lt
):
    """Append ``count`` RR sets from uniformly random roots to the flat pool ``(indptr, nodes)``
    holding ``sets`` sets in ``nodes[:size]``; ``indptr`` has room for them. Returns the
    (possibly grown) ``nodes`` buffer and the new size. ``in_none`` is :func:`_subset_table`.

    The sets are drawn by :func:`_rr_fill` as long as ``nodes`` has room for ``n`` more nodes
    (no RR set is larger), grown here by doubling in between: the sampler's inner loops carry
    no bounds or growth checks and never reassign an array."""
    state = np.uint64(seed) * _MIX1 + _GOLDEN
    mark = np.zeros(n, dtype=np.int32)
    widest = 1
    for v in range(n):
        widest = max(widest, in_indptr[v + 1] - in_indptr[v])
    picked = np.empty(widest, dtype=np.int64)  # Floyd's sample of arc offsets
    scratch = (mark, picked)
    arcs = (in_indptr, in_src, in_p, in_uniform, in_none)
    done = 0
    while done < count:
        if size + n > nodes.size:
            nodes = _grow(nodes, size + n)
        drawn, size, state = _rr_fill(
            indptr, nodes, sets + done, size, done, count - done, scratch, arcs, state, lt
        )
        done += drawn
    return nodes, size


@numba.njit(cache=True, nogil=True)
def _rr_fill(indptr, nodes, sets, size, stamped, count, scratch, arcs, state, lt):  # type: ignore[no-untyped-def]  # pragma: no cover - compiled
    """Up to ``count`` RR sets into ``nodes`` from ``size`` on, while it has room for ``n`` more
    nodes; ``mark[u] == stamp`` flags the nodes of the set being built (the stamps go on from
    ``stamped``, so ``mark`` is never cleared); ``scratch`` is ``(mark, picked)``, ``arcs`` the
    graph's in-arcs ``(in_indptr, in_src, in_p, in_uniform, in_none)``. Returns ``(sets drawn,
    size, state)``."""
    mark, picked = scratch
    in_indptr, in_src, in_p, in_uniform, in_none = arcs
    n = mark.size
    limit = nodes.size - n
    r = 0
    while r < count and size <= limit:
        stamp = stamped + r + 1
        state, draw = _uniform(state)
        root = min(int(draw * n), n - 1)
        nodes[size] = root
        mark[root] = stamp
        size += 1
        if lt:
            v = root
            while True:
                a = in_indptr[v]
                b = in_indptr[v + 1]
                if a == b:
                    break
                state, draw = _uniform(state)
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
                nodes[size] = u
                size += 1
                v = u
        else:
            head = size - 1
            while head < size:
                v = nodes[head]
                head += 1
                pk = in_none[v, 0]
                if pk > 0.0:
                    # Subset sampling (SUBSIM), all in-arcs sharing probability q: the number
                    # of arcs taken is K ~ Binomial(d, q), drawn by inversion from
                    # P(K = 0) = (1 - q)^d (precomputed) with P(K = j + 1) / P(K = j) =
                    # (d - j) / (j + 1) · q / (1 - q); then K distinct arcs uniformly (Floyd).
                    # Under weighted cascade E[K] ≈ 1, so a visited node costs about two
                    # uniforms and no logarithm, whatever its in-degree. (The most common
                    # case, tested first.)
                    state, draw = _uniform(state)
                    if draw < pk:
                        continue
                    a = in_indptr[v]
                    d = in_indptr[v + 1] - a
                    if draw < in_none[v, 1]:
                        # K = 1. The draw, given K = 1, is uniform on [P(K = 0), P(K ≤ 1)):
                        # it picks the arc.
                        u = in_src[a + max(min(int((draw - pk) / in_none[v, 2] * d), d - 1), 0)]
                        if mark[u] != stamp:
                            mark[u] = stamp
                            nodes[size] = u
                            size += 1
                        continue
                    cdf = in_none[v, 1]
                    pk = in_none[v, 2]
                    taken = 1
                    ratio = in_none[v, 3]
                    while taken < d:
                        pk *= (d - taken) / (taken + 1.0) * ratio
                        taken += 1
                        if draw < cdf + pk:
                            break
                        cdf += pk
                    if taken == 1:  # d = 1 and the draw fell past P(K ≤ 1) = 1 by rounding
                        picked[0] = 0
                    for i in range(
                        taken if taken > 1 else 0
                    ):  # Floyd: a uniform ``taken``-subset of 0..d-1
                        top = d - taken + i
                        state, draw = _uniform(state)
                        t = min(int(draw * (top + 1)), top)
                        for h in range(i):
                            if picked[h] == t:
                                t = top
                                break
                        picked[i] = t
                    for i in range(taken):
                        u = in_src[a + picked[i]]
                        if mark[u] != stamp:
                            mark[u] = stamp
                            nodes[size] = u
                            size += 1
                    continue
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
                            nodes[size] = u
                            size += 1
                elif q > 0.0:
                    # Subset sampling where P(K = 0) is too small for the inversion (many
                    # arcs, high q): the gaps between taken arcs are geometric, so the cost
                    # is 1 + the number of arcs taken instead of the in-degree.
                    log_miss = math.log(1.0 - q)
                    state, draw = _uniform(state)
                    j = a + int(math.log(1.0 - draw) / log_miss)
                    while j < b:
                        u = in_src[j]
                        if mark[u] != stamp:
                            mark[u] = stamp
                            nodes[size] = u
                            size += 1
                        state, draw = _uniform(state)
                        j += 1 + int(math.log(1.0 - draw) / log_miss)
                else:
                    for j in range(a, b):
                        state, draw = _uniform(state)
                        if draw < (q if q >= 0.0 else in_p[j]):
                            u = in_src[j]
                            if mark[u] != stamp:
                                mark[u] = stamp
                                nodes[size] = u
                                size += 1
        r += 1
        indptr[sets + r] = size
    return r, size, state


@numba.njit(cache=True, nogil=True)
def _sift_down(keys, ids, pos, size):  # type: ignore[no-untyped-def]  # pragma: no cover
    key = keys[pos]
    node = ids[pos]
    while True:
        child = 2 * pos + 1
        if child >= size:
            break
        if child + 1 < size and keys[child + 1] > keys[child]:
            child += 1
        if keys[child] <= key:
            break
        keys[pos] = keys[child]
        ids[pos] = ids[child]
        pos = child
    keys[pos] = key
    ids[pos] = node


@numba.njit(cache=True, nogil=True)
def _top_sum(degree, usable, k):  # type: ignore[no-untyped-def]  # pragma: no cover
    """Sum of the ``k`` largest ``degree[x]`` over usable nodes ``x``: a min-heap of the ``k``
    largest so far (a replacement costs ``log k``; the linear scan for the new minimum it
    replaced cost ~10 % of a one-pool greedy on facebook, 1.43 → 1.34 ms at 37,721 sets)."""
    top = np.zeros(k, dtype=np.int64)
    for x in range(degree.size):
        d = degree[x]
        if d > top[0] and usable[x]:
            pos = 0  # sift the new value down from the root
            while True:
                child = 2 * pos + 1
                if child >= k:
                    break
                if child + 1 < k and top[child + 1] < top[child]:
                    child += 1
                if top[child] >= d:
                    break
                top[pos] = top[child]
                pos = child
            top[pos] = d
    return top.sum()


@numba.njit(cache=True, nogil=True)
def _index_chunk(n, indptr, nodes, start, end, degree, row, inv):  # type: ignore[no-untyped-def]  # pragma: no cover
    """Inverted index of the RR sets ``start``…``end - 1`` of ``(indptr, nodes)`` (node ``x`` →
    those of them containing it), one *chunk* of a pool's index: the list of ``x`` is
    ``inv[row[x]:row[x + 1]]``, written where those sets' nodes lie in ``nodes``
    (``indptr[start]``…``indptr[end] - 1``), so that chunks never move. Counting sort; adds the
    counts to ``degree``. The sets indexed before are neither read nor copied."""
    base = indptr[start]
    count = np.zeros(n, dtype=np.int64)
    for t in range(base, indptr[end]):
        count[nodes[t]] += 1
    row[0] = base
    for x in range(n):
        row[x + 1] = row[x] + count[x]
        degree[x] += count[x]
    fill = row[:n].copy()
    for r in range(start, end):
        for t in range(indptr[r], indptr[r + 1]):
            x = nodes[t]
            inv[fill[x]] = r
            fill[x] += 1


@numba.njit(cache=True, nogil=True)
def _cover_sets(best, indptr, nodes, rows, inv, covered, degree):  # type: ignore[no-untyped-def]  # pragma: no cover
    """Mark the sets of one pool that contain ``best`` as covered, lowering the marginal
    coverage ``degree`` of their other nodes; returns how many were newly covered. ``rows``:
    one row per chunk of the pool's index (:func:`_index_chunk`)."""
    gain = 0
    for c in range(rows.shape[0]):
        for t in range(rows[c, best], rows[c, best + 1]):
            r = inv[t]
            if covered[r]:
                continue
            covered[r] = True
            gain += 1
            for s in range(indptr[r], indptr[r + 1]):
                degree[nodes[s]] -= 1
    return gain


@numba.njit(cache=True, nogil=True)
def _greedy(  # type: ignore[no-untyped-def]  # pragma: no cover - compiled
    n, k, allowed, indptr, nodes, rows, inv, degree, indptr2, nodes2, rows2, inv2, degree2, bounded
):
    """Lazy greedy maximum coverage by ``k`` allowed nodes of the RR sets of one or two pools,
    each with its inverted index in chunks (:func:`_index_chunk`; an empty second pool for one).

    Returns ``(seeds, covered, upper)``: ``upper`` bounds the coverage of the best ``k`` allowed
    nodes, ``min_i (covered(S_i) + sum of the k largest marginal coverages given S_i)`` over
    some prefixes ``S_i`` of the greedy order (each term is a bound by submodularity), or -1
    where ``bounded`` is false (then never computed: each term scans all ``n`` nodes, 11 scans
    per greedy, ~0.3 ms on netphy, 0.04 ms on facebook)."""
    degree = degree + degree2  # marginal coverage, updated as sets get covered
    usable = allowed.copy()
    keys = np.empty(n, dtype=np.int64)
    ids = np.empty(n, dtype=np.int64)
    heap = 0
    for x in range(n):
        if usable[x] and degree[x] > 0:
            keys[heap] = degree[x]
            ids[heap] = x
            heap += 1
    for pos in range(heap // 2 - 1, -1, -1):
        _sift_down(keys, ids, pos, heap)
    covered = np.zeros(indptr.size - 1, dtype=np.bool_)
    covered2 = np.zeros(indptr2.size - 1, dtype=np.bool_)
    seeds = np.empty(k, dtype=np.int64)
    chosen = 0
    total = 0
    upper = _top_sum(degree, usable, k) if bounded else -1
    while chosen < k and heap > 0:
        while keys[0] != degree[ids[0]]:  # stale: marginal gains only shrink
            keys[0] = degree[ids[0]]
            _sift_down(keys, ids, 0, heap)
        best = ids[0]
        gain = keys[0]
        heap -= 1
        keys[0] = keys[heap]
        ids[0] = ids[heap]
        _sift_down(keys, ids, 0, heap)
        if gain <= 0:
            break
        seeds[chosen] = best
        chosen += 1
        total += gain
        usable[best] = False
        _cover_sets(best, indptr, nodes, rows, inv, covered, degree)
        _cover_sets(best, indptr2, nodes2, rows2, inv2, covered2, degree)
        if bounded and (chosen % 5 == 0 or chosen == k):
            bound = total + _top_sum(degree, usable, k)
            if bound < upper:
                upper = bound
    if chosen < k:  # nothing left to cover: any remaining allowed nodes, lowest ids first
        if bounded:
            upper = min(upper, total)
        for x in range(n):
            if chosen == k:
                break
            if usable[x]:
                seeds[chosen] = x
                chosen += 1
                usable[x] = False
    return seeds[:chosen].copy(), total, upper


@numba.njit(cache=True, nogil=True)
def _cover_pair(sets, rows, inv, first, second):  # type: ignore[no-untyped-def]  # pragma: no cover
    """Through a pool's inverted index: how many of its ``sets`` RR sets contain a node of
    ``first``, of ``second``, and of both (the cost is the seeds' degrees, not the pool)."""
    mark = np.zeros(sets, dtype=np.uint8)
    one = 0
    for x in first:
        for c in range(rows.shape[0]):
            for t in range(rows[c, x], rows[c, x + 1]):
                r = inv[t]
                if mark[r] == 0:
                    mark[r] = 1
                    one += 1
    two = 0
    both = 0
    for x in second:
        for c in range(rows.shape[0]):
            for t in range(rows[c, x], rows[c, x + 1]):
                r = inv[t]
                m = mark[r]
                if m < 2:
                    mark[r] = m | 2
                    two += 1
                    both += m
    return one, two, both


@numba.njit(cache=True, nogil=True)
def _coverage(indptr, nodes, is_seed):  # type: ignore[no-untyped-def]  # pragma: no cover
    """How many of the RR sets contain a node flagged in ``is_seed``."""
    count = 0
    for r in range(indptr.size - 1):
        for t in range(indptr[r], indptr[r + 1]):
            if is_seed[nodes[t]]:
                count += 1
                break
    return count


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


# Below this probability that none of a node's in-arcs is taken, the binomial inversion of the
# subset sampler would walk too long (and ``(1 - q)^d`` loses precision): geometric gaps instead.
_INVERSION_FLOOR = 1e-12


def _subset_table(graph: InfluenceGraph) -> NDArray[np.float64]:
    """Per node ``v`` whose ``d`` in-arcs share a probability ``q`` < 1, the head of the
    binomial law of how many of them are taken, for the RR sampler's inversion: ``(P(K = 0),
    P(K ≤ 1), P(K = 1), q / (1 - q))`` with ``P(K = 0) = (1 - q)^d`` (``P(K = 1)`` computed as
    the sampler's recurrence would, so the draws do not depend on the table). ``P(K = 0)`` is
    -1 where it is below ``_INVERSION_FLOOR`` or the arcs do not share a probability < 1
    (geometric gaps, all arcs, or one coin per arc)."""
    return _subset_rows(graph.in_indptr, graph.in_uniform, _INVERSION_FLOOR)  # type: ignore[no-any-return]


@numba.njit(cache=True, nogil=True)
def _subset_rows(in_indptr, in_uniform, floor):  # type: ignore[no-untyped-def]  # pragma: no cover
    """:func:`_subset_table`, compiled (numpy took 2 ms on enron's 36,692 nodes)."""
    n = in_uniform.size
    table = np.zeros((n, 4))
    for v in range(n):
        q = in_uniform[v]
        table[v, 0] = -1.0
        if q >= 0.0 and q < 1.0:
            d = float(in_indptr[v + 1] - in_indptr[v])
            none = (1.0 - q) ** d
            ratio = q / (1.0 - q)
            one = none * (d / 1.0 * ratio)
            table[v, 0] = none if none >= floor else -1.0
            table[v, 1] = none + one
            table[v, 2] = one
            table[v, 3] = ratio
    return table


class _Pool:
    """A growing flat pool of RR sets: set ``i`` is ``nodes[indptr[i]:indptr[i + 1]]``."""

    def __init__(
        self, graph: InfluenceGraph, lt: bool, in_none: NDArray[np.float64] | None = None
    ) -> None:
        self.graph = graph
        self.lt = lt
        self.in_none = _subset_table(graph) if in_none is None else in_none
        self.sets = 0
        self.size = 0
        self.indptr = np.zeros(1025, dtype=np.int64)
        self.nodes = np.empty(4096, dtype=np.int32)
        # Inverted index of the first ``indexed`` sets, in ``chunks`` chunks (see
        # :func:`_index_chunk`): the rows ``rows[:chunks]`` index into ``inv``, which lies
        # alongside ``nodes``; ``degree[x]``: how many of the sets contain ``x``.
        self.indexed = 0
        self.degree = np.zeros(graph.n, dtype=np.int64)
        self.chunks = 0
        self.rows = np.zeros((4, graph.n + 1), dtype=np.int64)
        self.inv = np.empty(0, dtype=np.int32)

    def add(self, count: int, seed: int) -> None:
        if self.sets + count + 1 > self.indptr.size:
            bigger = np.zeros(max(2 * self.indptr.size, self.sets + count + 1), dtype=np.int64)
            bigger[: self.sets + 1] = self.indptr[: self.sets + 1]
            self.indptr = bigger
        g = self.graph
        self.nodes, self.size = _rr_append(
            self.indptr,
            self.nodes,
            self.sets,
            self.size,
            int(count),
            g.n,
            g.in_indptr,
            g.in_src,
            g.in_p,
            g.in_uniform,
            self.in_none,
            int(seed) % (2**32),
            self.lt,
        )
        self.sets += int(count)

    def arrays(self) -> tuple[NDArray[np.int64], NDArray[np.int32]]:
        return self.indptr[: self.sets + 1], self.nodes[: self.size]

    def grow(self, count: int, seed: int, *more: tuple[int, int]) -> None:
        """Add ``count`` RR sets (then those of each ``(count, seed)`` of ``more``, each drawn from
        its own seed) and index them as a new chunk: the sets indexed before are neither copied
        nor re-sorted. Only while the pool is small (its rows would outweigh its entries:
        ``chunks · (n + 1) > size``) is the whole index rebuilt as one chunk instead, which
        bounds the rows' memory by the pool's."""
        self.add(count, seed)
        for part, part_seed in more:
            self.add(part, part_seed)
        n = self.graph.n
        if self.inv.size < self.nodes.size:
            bigger = np.empty(self.nodes.size, dtype=np.int32)
            used = int(self.indptr[self.indexed])  # the entries indexed so far
            bigger[:used] = self.inv[:used]
            self.inv = bigger
        start = self.indexed
        if (self.chunks + 1) * (n + 1) > self.size:
            start, self.chunks = 0, 0
            self.degree[:] = 0
        if self.chunks == self.rows.shape[0]:
            rows = np.zeros((2 * self.chunks, n + 1), dtype=np.int64)
            rows[: self.chunks] = self.rows
            self.rows = rows
        indptr, nodes = self.arrays()
        _index_chunk(
            n, indptr, nodes, start, self.sets, self.degree, self.rows[self.chunks], self.inv
        )
        self.chunks += 1
        self.indexed = self.sets

    def index(self) -> _Indexed:
        """The pool with its inverted index, as :func:`_greedy` takes it (after :meth:`grow`)."""
        assert self.indexed == self.sets
        return (*self.arrays(), self.rows[: self.chunks], self.inv, self.degree)


# A pool for :func:`_greedy`: (indptr, nodes, index rows, inv, degree).
_Indexed = tuple[
    NDArray[np.int64], NDArray[np.int32], NDArray[np.int64], NDArray[np.int32], NDArray[np.int64]
]


def _no_pool(n: int) -> _Indexed:
    """An empty pool with its (empty) index: the second pool of a one-pool greedy."""
    return (
        np.zeros(1, dtype=np.int64),
        np.empty(0, dtype=np.int32),
        np.zeros((0, n + 1), dtype=np.int64),
        np.empty(0, dtype=np.int32),
        np.zeros(n, dtype=np.int64),
    )


# From pools of this many RR sets, the two pools grow (and run their greedy) at once: one on the
# call's helper thread (see :func:`_helper_thread`), the kernel releasing the GIL. A task to the
# live helper and back costs 30-50 µs; a round at OPIM-C's θ0 (460-580 RR sets per pool on the
# research graphs) 0.2-0.4 ms of draws and greedy per pool (until 2026-12-07 the threshold was
# 2,048 and the first round ran on one thread; until 2026-12-06 16,384, and on enron, where θ
# stops near 25,000, everything ran on one thread).
_PARALLEL_FROM = 256


def rr_sets(
    graph: InfluenceGraph, count: int, *, model: Model = "ic", seed: int = 0
) -> tuple[NDArray[np.int64], NDArray[np.int32]]:
    """``count`` random RR sets as ``(indptr, nodes)``: set ``i`` is
    ``nodes[indptr[i]:indptr[i + 1]]``, its first node the random root."""
    _check_model(model)
    pool = _Pool(graph, model == "lt")
    pool.add(int(count), seed)
    indptr, nodes = pool.arrays()
    return indptr.copy(), nodes.copy()


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
    empty = _no_pool(n)
    degree = np.zeros(n, dtype=np.int64)
    rows = np.zeros((1, n + 1), dtype=np.int64)
    inv = np.empty(nodes.size, dtype=np.int32)
    _index_chunk(n, indptr, nodes, 0, indptr.size - 1, degree, rows[0], inv)
    seeds, total, _ = _greedy(n, int(k), mask, indptr, nodes, rows, inv, degree, *empty, False)
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
    tolerance: float = TOLERANCE,
) -> SeedSelection:
    """Seed selection with OPIM-C's certified stopping (see the module docstring).

    With probability at least ``1 - n^-ell`` the seeds' expected spread is at least
    ``(1 - 1/e - epsilon)`` times the best possible over allowed nodes. ``tolerance`` is the
    precision rule that usually sets the number of RR sets: stop only once the standard error
    with which the two pools' greedy seed sets are compared (their cross-fit) is at most a
    fraction ``tolerance`` of the seeds' coverage (see the module docstring). ``exclude`` lists
    nodes never chosen. ``rr_sets`` in the result counts all three pools."""
    _check_model(model)
    n = graph.n
    if k < 1:
        raise ValueError("k must be at least 1")
    if not 0 < epsilon < 1:
        raise ValueError("epsilon must lie in (0, 1)")
    if not tolerance > 0:
        raise ValueError("tolerance must be positive")
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
    delta = float(max(n, 2)) ** -ell
    log_binom = _log_binomial(candidates, k)
    c = 1.0 - 1.0 / math.e
    log6 = math.log(6.0 / delta)
    theta_max = (
        2.0 * n * (c * math.sqrt(log6) + math.sqrt(c * (log_binom + log6))) ** 2 / (epsilon**2 * k)
    )
    theta_0 = max(theta_max * epsilon**2 * k / n, 1.0)
    # Rounds grow the pools by at least _MIN_GROWTH, so this many rounds reach θmax; one more
    # event (the check of the final seeds on R3) joins the union bound of the lower bounds.
    i_max = max(math.ceil(math.log(max(theta_max / theta_0, 2.0), _MIN_GROWTH)), 1) + 1
    a1 = math.log(3.0 * i_max / delta) + log_binom
    a2 = math.log(3.0 * (i_max + 1) / delta)
    lt = model == "lt"
    in_none = _subset_table(graph)
    with _helper_thread() as helper:
        one, two = _Pool(graph, lt, in_none), _Pool(graph, lt, in_none)
        targets = [math.ceil(theta_0)]
        previous: tuple[int, float] | None = None
        for _round in range(i_max):
            # One growth step per target, each with its own seeds (as if each were a round).
            parts_one: list[tuple[int, int]] = []
            parts_two: list[tuple[int, int]] = []
            for start, end in zip([one.sets, *targets], targets, strict=False):
                parts_one.append((end - start, int(rng.integers(2**32))))
                parts_two.append((end - start, int(rng.integers(2**32))))
            # Each pool grows and runs its greedy in one task, one pool per thread: one hand-off
            # per round fewer, and no wait between the two steps.
            picked = _both(
                functools.partial(_grow_and_pick, one, parts_one, k, allowed, True),
                functools.partial(_grow_and_pick, two, parts_two, k, allowed, False),
                helper,
                targets[-1] >= _PARALLEL_FROM,
            )
            theta = one.sets
            fit = _cross_fit(n, one, two, k, allowed, helper, picked)
            seeds, checked = fit.seeds, fit.checked
            sigma_upper = (math.sqrt(fit.upper + a1 / 2.0) + math.sqrt(a1 / 2.0)) ** 2 * n / theta
            certified = _lower_bound(checked, theta, n, a2) >= (c - epsilon) * sigma_upper
            # The precision rule: the cross-fit's resolution, the standard error with which the two
            # pools compare their two seed sets, relative to the seeds' coverage (see the module
            # docstring); it falls at least as fast as 1/√θ.
            resolution = fit.noise / fit.level
            if (certified and resolution <= tolerance) or theta >= theta_max:
                break
            factor = _growth(theta, resolution, previous, tolerance) if certified else _MAX_GROWTH
            previous = (theta, resolution)
            targets = [min(math.ceil(theta * factor), math.ceil(theta_max))]
            # Skip the rounds that would only double again (see _SKIP_ABOVE): their growth steps
            # join this one, drawn as they would have been.
            while targets[-1] < theta_max and resolution * theta / targets[-1] >= (
                _SKIP_ABOVE * tolerance
            ):
                targets.append(min(math.ceil(targets[-1] * _MAX_GROWTH), math.ceil(theta_max)))
        # Final seeds: greedy on both pools together (2θ RR sets, about the precision of one more
        # doubling round for the price of one greedy), checked on a third independent pool R3.
        check = _Pool(graph, lt, in_none)
        count = max(math.ceil(theta * _CHECK_SHARE), 1)
        seed_check = int(rng.integers(2**32))
        (final, _, _), _ = _both(
            lambda: _greedy(n, k, allowed, *one.index(), *two.index(), False),
            functools.partial(check.add, count, seed_check),
            helper,
            theta >= _PARALLEL_FROM,
        )
        final_checked = _covers(check, final)
        rr_total = 2 * theta + check.sets
        if (
            theta >= theta_max
            or _lower_bound(final_checked, check.sets, n, a2) >= (c - epsilon) * sigma_upper
        ):
            # Certified on R3 (or at θmax, where greedy on ≥ θmax sets is guaranteed on its own).
            return SeedSelection(final, n * final_checked / check.sets, rr_total, model)
        return SeedSelection(seeds, n * checked / theta, rr_total, model)


def _growth(
    theta: int, resolution: float, previous: tuple[int, float] | None, tolerance: float
) -> float:
    """The growth of a certified round whose ``resolution`` at ``theta`` RR sets per pool is
    above ``tolerance``: what the resolution asks for, were it to go on falling as ``θ^-α``,
    ``α`` its decay since the ``previous`` round evaluated (``(θ, resolution)``; clamped to
    [0.5, 1]: it falls at least as fast as ``1/√θ``, and faster than ``1/θ`` only between
    the first rounds), 0.5 without one; between ``_MIN_GROWTH`` and ``_MAX_GROWTH``."""
    alpha = 0.5
    if previous is not None and previous[1] > resolution and theta > previous[0]:
        alpha = math.log(previous[1] / resolution) / math.log(theta / previous[0])
        alpha = min(max(alpha, 0.5), 1.0)
    need = float((resolution / tolerance) ** (1.0 / alpha))
    return min(max(need, _MIN_GROWTH), _MAX_GROWTH)


@dataclasses.dataclass(frozen=True)
class _CrossFit:
    """One round's greedy on both pools: ``seeds`` chosen on R1 (``covered`` of its sets,
    ``upper`` the greedy's bound of the best coverage there) and their coverage ``checked`` of
    R2; ``optimism`` estimates how many more sets of its own pool a pool's greedy seeds cover
    than of an independent one, ``noise`` is its standard error, ``level`` the seeds' coverage
    of a pool they were not chosen on (the mean over the two seed sets). The precision rule
    stops on ``noise / level`` (the resolution); ``optimism`` no longer enters it and is kept
    for diagnosis (``tests/influence`` check it; the benchmark's notes compare the two)."""

    seeds: NDArray[np.int64]
    covered: int
    upper: int
    checked: int
    optimism: float
    noise: float
    level: float


# A greedy's result: seeds, how many RR sets they cover, the bound of the best coverage.
_Picked = tuple[NDArray[np.int64], int, int]


def _grow_and_pick(
    pool: _Pool,
    parts: list[tuple[int, int]],
    k: int,
    allowed: NDArray[np.bool_],
    bounded: bool,
) -> _Picked:
    """Grow ``pool`` by ``parts`` (``(count, seed)`` each, :meth:`_Pool.grow`), then greedy on
    it alone (with its upper bound where ``bounded``): one round's work on one pool, for one
    thread."""
    pool.grow(*parts[0], *parts[1:])
    n = pool.graph.n
    return _greedy(n, k, allowed, *pool.index(), *_no_pool(n), bounded)  # type: ignore[no-any-return]


def _cross_fit(
    n: int,
    one: _Pool,
    two: _Pool,
    k: int,
    allowed: NDArray[np.bool_],
    helper: concurrent.futures.Executor | None = None,
    picked: tuple[_Picked, _Picked] | None = None,
) -> _CrossFit:
    """Greedy on each pool (on two threads for large pools; ``picked``: their results where
    they were run already, see :func:`_grow_and_pick`) and the cross-fitted optimism.

    With ``S1`` chosen on R1 and ``S2`` on R2, ``c1``/``c2`` the coverage of a pool:
    ``c1(S1) - c2(S1)`` and ``c2(S2) - c1(S2)`` both estimate the greedy's optimism without bias
    (a pool plays no part in choosing the other's seeds), but each has a noise of about
    ``√(2Λ)``. Their mean regroups as ``(c1(S1) - c1(S2)) + (c2(S2) - c2(S1))`` over 2: the RR
    sets covered by both seed sets, most of them, cancel within each pool, so only the sets
    covered by exactly one of ``S1``, ``S2`` add noise — ``√(their number) / 2`` is the
    standard error."""
    if picked is None:
        nothing = _no_pool(n)
        picked = _both(
            lambda: _greedy(n, k, allowed, *one.index(), *nothing, True),
            lambda: _greedy(n, k, allowed, *two.index(), *nothing, False),
            helper,
            one.sets >= _PARALLEL_FROM,
        )
    (seeds, covered, upper), (seeds_two, covered_two, _) = picked
    # Through the inverted indexes (cost: the seeds' degrees), one pool per thread: c1(S1),
    # c1(S2), both on R1, and c2(S1) (unbiased: R2 played no part in choosing S1), c2(S2), both
    # on R2.
    on_one, on_two = _both(
        lambda: _cover_pair(one.sets, *one.index()[2:4], seeds, seeds_two),
        lambda: _cover_pair(two.sets, *two.index()[2:4], seeds, seeds_two),
        helper,
        one.sets >= _PARALLEL_FROM,
    )
    _, crossed, both_one = map(int, on_one)
    checked, _, both_two = map(int, on_two)
    # RR sets covered by one of S1, S2 only, over both pools.
    alone = covered + crossed - 2 * both_one + checked + covered_two - 2 * both_two
    return _CrossFit(
        seeds=seeds,
        covered=int(covered),
        upper=int(upper),
        checked=checked,
        optimism=(int(covered) - crossed + int(covered_two) - checked) / 2.0,
        noise=math.sqrt(max(alone, 0)) / 2.0,
        level=max((checked + crossed) / 2.0, 1.0),
    )


def _lower_bound(covered: int, theta: int, n: int, a: float) -> float:
    """OPIM-C's lower confidence bound of σ(S) from ``covered`` of ``theta`` independent RR sets
    (failure probability ``e^-a``)."""
    return ((math.sqrt(covered + 2.0 * a / 9.0) - math.sqrt(a / 2.0)) ** 2 - a / 18.0) * n / theta


def _covers(pool: _Pool, seeds: NDArray[np.int64]) -> int:
    """How many RR sets of ``pool`` contain one of ``seeds``."""
    is_seed = np.zeros(pool.graph.n, dtype=np.bool_)
    is_seed[seeds] = True
    return int(_coverage(*pool.arrays(), is_seed))


def _helper_thread() -> contextlib.AbstractContextManager[concurrent.futures.Executor | None]:
    """The helper thread of one call of :func:`imm` (made per call, so forked job workers never
    inherit a dead pool; started by its first task, joined at the end of the call), or ``None``
    where ``NUMBA_NUM_THREADS=1`` keeps everything on the calling thread."""
    if int(getattr(numba.config, "NUMBA_NUM_THREADS", 1)) < 2:
        return contextlib.nullcontext(None)
    return concurrent.futures.ThreadPoolExecutor(max_workers=1)


def _both(
    first: Callable[[], _A],
    second: Callable[[], _B],
    helper: concurrent.futures.Executor | None,
    parallel: bool,
) -> tuple[_A, _B]:
    """``(first(), second())``, the second on the ``helper`` thread when there is one and
    ``parallel``. The kernels release the GIL; the result is the same either way."""
    if helper is None or not parallel:
        return first(), second()
    later = helper.submit(second)
    return first(), later.result()


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
