"""Influence maximisation: graph files, RR sets, IMM under IC and LT, Monte Carlo spread,
and the sandbox's ground truth."""

from __future__ import annotations

import dataclasses
import gzip
import math
from pathlib import Path

import numba
import numpy as np
import pytest

from dialogo.influence import imm as imm_module
from dialogo.influence.graph import (
    GraphFormatError,
    InfluenceGraph,
    load_edge_list,
    parse_edge_list,
)
from dialogo.influence.imm import greedy_cover, imm, monte_carlo_spread, rr_sets

GRAPHS = Path(__file__).resolve().parents[3] / "shared" / "data" / "graphs"


def two_stars() -> InfluenceGraph:
    """Hub 0 reaches 1..20 for sure, hub 21 reaches 22..26 for sure, 27..29 are isolated."""
    src = [0] * 20 + [21] * 5
    dst = list(range(1, 21)) + list(range(22, 27))
    return InfluenceGraph.from_arcs(30, np.array(src), np.array(dst), np.ones(25))


def test_weighted_cascade_is_the_default_and_duplicates_and_loops_are_dropped() -> None:
    graph = parse_edge_list(b"4 6\n0 2\n1 2\n3 2\n0 2\n2 2\n2 3\n")
    assert graph.m == 4
    assert graph.in_p[graph.in_indptr[2] : graph.in_indptr[3]].tolist() == [1 / 3] * 3
    assert graph.in_uniform[2] == pytest.approx(1 / 3)
    src, dst, p = graph.arcs()
    assert sorted(zip(src.tolist(), dst.tolist(), strict=True)) == [(0, 2), (1, 2), (2, 3), (3, 2)]
    assert p.sum() == pytest.approx(2.0)


@pytest.mark.parametrize(
    ("data", "line", "words"),
    [
        (b"", 1, "empty"),
        (b"3\n0 1\n", 1, "header"),
        (b"3 2\n0 1\n1 x\n", 3, "numbers"),
        (b"3 2\n0 1\n1 2 5\n", 3, "2 fields"),
        (b"3 2\n# comment\n0 1\n\n1 3\n", 5, "outside"),
        (b"3 3\n0 1\n1 2\n", 4, "3 arcs"),
        (b"3 1\n0 1\n1 2\n", 3, "1 arcs"),
    ],
)
def test_malformed_graph_files_are_reported_by_line(data: bytes, line: int, words: str) -> None:
    with pytest.raises(GraphFormatError) as caught:
        parse_edge_list(data)
    assert caught.value.line == line
    assert words in str(caught.value)


def test_weighted_files_check_probabilities(tmp_path: Path) -> None:
    path = tmp_path / "g.txt.gz"
    path.write_bytes(gzip.compress(b"3 2\n0 1 0.5\n1 2 1.5\n"))
    with pytest.raises(GraphFormatError) as caught:
        load_edge_list(path, weighted=True)
    assert caught.value.line == 3
    path.write_bytes(gzip.compress(b"3 2\n0 1 0.5\n1 2 0.25\n"))
    assert sorted(load_edge_list(path, weighted=True).in_p.tolist()) == [0.25, 0.5]


def test_rr_sets_follow_certain_arcs_backwards() -> None:
    graph = two_stars()
    indptr, nodes = rr_sets(graph, 2000, seed=1)
    for r in range(200):
        members = set(nodes[indptr[r] : indptr[r + 1]].tolist())
        root = nodes[indptr[r]]
        expected = (
            {root} | ({0} if 1 <= root <= 20 else set()) | ({21} if 22 <= root <= 26 else set())
        )
        assert members == expected
    seeds, _ = greedy_cover(graph.n, indptr, nodes, 2)
    assert seeds.tolist() == [0, 21]


def three_fans() -> tuple[InfluenceGraph, list[tuple[int, list[int], float]]]:
    """Hubs fed by leaves that have no in-arcs, one hub per path of the IC sampler: 60 leaves
    at 1/60 (weighted cascade: binomial subset sampling), 40 at 0.7 (geometric gaps: P(none
    taken) = 0.3^40 is too small to invert) and 6 at 0.5 (binomial with several arcs taken)."""
    fans = [(0, list(range(1, 61)), 1 / 60), (61, list(range(62, 102)), 0.7)]
    fans.append((102, list(range(103, 109)), 0.5))
    src = [leaf for _, leaves, _ in fans for leaf in leaves]
    dst = [hub for hub, leaves, _ in fans for _ in leaves]
    p = [q for _, leaves, q in fans for _ in leaves]
    return InfluenceGraph.from_arcs(109, np.array(src), np.array(dst), np.array(p)), fans


@pytest.mark.parametrize("sampler", ["subset", "coin"])
def test_rr_sets_take_each_in_arc_independently_with_its_probability(sampler: str) -> None:
    """Both IC samplers against the exact law: in an RR set rooted at a hub with ``d`` in-arcs
    of probability ``q``, each leaf appears with probability ``q`` and the number of leaves is
    Binomial(d, q). ``coin`` forgets that the in-arcs share a probability (one coin per arc)."""
    graph, fans = three_fans()
    if sampler == "coin":
        graph = dataclasses.replace(graph, in_uniform=np.full(graph.n, -1.0))
    indptr, nodes = rr_sets(graph, 300_000, seed=11)
    roots = nodes[indptr[:-1]]
    sizes = np.diff(indptr)
    for hub, leaves, q in fans:
        rooted = np.flatnonzero(roots == hub)
        assert rooted.size > 2000
        members = np.concatenate([nodes[indptr[r] + 1 : indptr[r + 1]] for r in rooted])
        seen = np.bincount(members, minlength=graph.n)[leaves] / rooted.size
        error = math.sqrt(q * (1 - q) / rooted.size)
        assert np.abs(seen - q).max() <= 4.5 * error, (hub, seen.min(), seen.max())
        taken = np.bincount(sizes[rooted] - 1, minlength=len(leaves) + 1)
        expected = rooted.size * np.array(
            [
                math.comb(len(leaves), j) * q**j * (1 - q) ** (len(leaves) - j)
                for j in range(len(leaves) + 1)
            ]
        )
        big = expected >= 30
        assert (np.abs(taken[big] - expected[big]) <= 5 * np.sqrt(expected[big])).all(), hub
        assert taken[~big].sum() <= expected[~big].sum() + 5 * math.sqrt(expected[~big].sum() + 1)
    leaves_alone = np.setdiff1d(np.arange(graph.n), [hub for hub, _, _ in fans])
    assert (sizes[np.isin(roots, leaves_alone)] == 1).all()


@pytest.mark.parametrize("model", ["ic", "lt"])
def test_rr_sets_do_not_depend_on_the_pool_buffer_or_on_how_they_are_split(model: str) -> None:
    """The sampler fills the pool while it has room for ``n`` more nodes and the buffer is
    grown in between: the generator's state and the visited stamps carry over, so a pool that
    starts tiny and grows many times holds exactly the sets drawn into a buffer large enough
    from the start."""
    rng = np.random.default_rng(9)
    graph = InfluenceGraph.from_arcs(500, rng.integers(0, 500, 6000), rng.integers(0, 500, 6000))
    lt = model == "lt"
    roomy = imm_module._Pool(graph, lt)
    roomy.nodes = np.empty(4_000_000, dtype=np.int32)
    roomy.add(50_000, 3)
    tiny = imm_module._Pool(graph, lt)
    tiny.nodes = np.empty(1, dtype=np.int32)
    tiny.add(50_000, 3)
    assert tiny.nodes.size < roomy.nodes.size
    (roomy_indptr, roomy_nodes), (tiny_indptr, tiny_nodes) = roomy.arrays(), tiny.arrays()
    assert np.array_equal(roomy_indptr, tiny_indptr)
    assert np.array_equal(roomy_nodes, tiny_nodes)
    # Grown on in steps, each from its own seed: the buffer grows again, the sets stay the same.
    steps = [(3_000, 4), (20_000, 5), (1_000, 6), (40_000, 7)]
    before = tiny.nodes.size
    for pool in (roomy, tiny):
        for count, seed in steps:
            pool.add(count, seed)
    assert tiny.nodes.size > before
    assert np.array_equal(roomy.arrays()[0], tiny.arrays()[0])
    assert np.array_equal(roomy.arrays()[1], tiny.arrays()[1])
    indptr, nodes = roomy.arrays()
    for r in range(0, 50_000, 97):  # no node twice in a set (the stamps of a set are its own)
        members = nodes[indptr[r] : indptr[r + 1]]
        assert np.unique(members).size == members.size


@pytest.mark.parametrize("n", [60, 5000])
def test_a_pool_indexed_in_chunks_lists_every_set_of_every_node(n: int) -> None:
    """Each growth of a pool indexes only its new sets, as a chunk of its own (n = 60: many
    chunks), unless the rows would outweigh the entries, where the whole index is rebuilt as
    one (n = 5000: a few sets per node). Either way every node lists exactly the sets that
    contain it, and greedy over the chunks picks what greedy over one fresh index picks."""
    rng = np.random.default_rng(4)
    graph = InfluenceGraph.from_arcs(n, rng.integers(0, n, 8 * n), rng.integers(0, n, 8 * n))
    pool = imm_module._Pool(graph, False)
    for count, seed in [(10, 1), (30, 2), (200, 3), (1000, 4), (1700, 5), (3000, 6)]:
        pool.grow(count, seed)
    indptr, nodes, rows, inv, degree = pool.index()
    assert (rows.shape[0] == 6) == (n == 60)  # one chunk per growth, or rebuilt
    owner = np.repeat(np.arange(indptr.size - 1), np.diff(indptr))
    assert np.array_equal(degree, np.bincount(nodes, minlength=n))
    for x in rng.choice(n, 40, replace=False):
        listed = np.concatenate([inv[rows[c, x] : rows[c, x + 1]] for c in range(rows.shape[0])])
        assert np.array_equal(np.sort(listed), owner[nodes == x])
    nothing = imm_module._no_pool(n)
    allowed = np.ones(n, dtype=np.bool_)
    seeds, covered, _ = imm_module._greedy(n, 5, allowed, *pool.index(), *nothing, True)
    fresh, fresh_covered = greedy_cover(n, indptr, nodes, 5)
    assert seeds.tolist() == fresh.tolist() and covered == fresh_covered


def test_subset_and_coin_samplers_agree_with_the_simulator_on_weighted_cascade() -> None:
    rng = np.random.default_rng(2)
    graph = InfluenceGraph.from_arcs(300, rng.integers(0, 300, 3000), rng.integers(0, 300, 3000))
    coin = dataclasses.replace(graph, in_uniform=np.full(graph.n, -1.0))
    seeds = [3, 50, 120]
    simulated = monte_carlo_spread(graph, seeds, runs=20_000, seed=3)
    for sampled in (graph, coin):
        indptr, nodes = rr_sets(sampled, 100_000, seed=4)
        is_seed = np.zeros(graph.n, dtype=np.bool_)
        is_seed[seeds] = True
        hit = np.logical_or.reduceat(is_seed[nodes], indptr[:-1])
        estimate = graph.n * hit.mean()
        error = graph.n * math.sqrt(hit.mean() * (1 - hit.mean()) / hit.size)
        assert abs(estimate - simulated.mean) <= 4 * error + 2 * (simulated.high - simulated.low)


@pytest.mark.parametrize("model", ["ic", "lt"])
def test_imm_finds_the_hubs_and_respects_exclusions(model: str) -> None:
    graph = two_stars()
    chosen = imm(graph, 2, model=model, seed=3)  # type: ignore[arg-type]
    assert sorted(chosen.seeds.tolist()) == [0, 21]
    assert chosen.estimated_spread == pytest.approx(27, rel=0.1)
    other = imm(graph, 2, model=model, exclude=[0], seed=3)  # type: ignore[arg-type]
    assert 0 not in other.seeds.tolist() and 21 in other.seeds.tolist()
    spread = monte_carlo_spread(graph, chosen.seeds, model=model, runs=200)  # type: ignore[arg-type]
    assert spread.mean == 27 and spread.low == spread.high == 27


def test_imm_is_reproducible_for_a_seed_and_its_estimate_matches_simulation() -> None:
    rng = np.random.default_rng(0)
    graph = InfluenceGraph.from_arcs(
        2000, rng.integers(0, 2000, 12_000), rng.integers(0, 2000, 12_000)
    )
    first = imm(graph, 10, seed=5, tolerance=0.01)
    again = imm(graph, 10, seed=5, tolerance=0.01)
    # Both pools grew at once (two threads) at least once.
    assert first.rr_sets >= 4 * imm_module._PARALLEL_FROM
    assert first.seeds.tolist() == again.seeds.tolist()
    assert first.rr_sets == again.rr_sets
    simulated = monte_carlo_spread(graph, first.seeds, runs=20_000, seed=1)
    assert abs(first.estimated_spread - simulated.mean) <= 0.03 * simulated.mean
    other = imm(graph, 10, seed=6, tolerance=0.01)
    assert monte_carlo_spread(graph, other.seeds, runs=20_000, seed=1).mean >= 0.97 * simulated.mean


def test_a_round_grown_and_picked_pool_by_pool_gives_the_cross_fit_of_the_grown_pools() -> None:
    """A round grows each pool and runs its greedy in one task (one pool per thread): the
    cross-fit from those greedy results is the one computed on the grown pools afterwards."""
    rng = np.random.default_rng(3)
    graph = InfluenceGraph.from_arcs(1500, rng.integers(0, 1500, 9000), rng.integers(0, 1500, 9000))
    allowed = np.ones(graph.n, dtype=np.bool_)
    pools = [imm_module._Pool(graph, False) for _ in range(4)]
    parts = [[(300, 1), (900, 2)], [(300, 3), (900, 4)]]
    picked = (
        imm_module._grow_and_pick(pools[0], parts[0], 10, allowed, True),
        imm_module._grow_and_pick(pools[1], parts[1], 10, allowed, False),
    )
    for pool, steps in zip(pools[2:], parts, strict=True):
        pool.grow(*steps[0], *steps[1:])
    assert [pool.sets for pool in pools] == [1200] * 4
    fused = imm_module._cross_fit(graph.n, pools[0], pools[1], 10, allowed, None, picked)
    apart = imm_module._cross_fit(graph.n, pools[2], pools[3], 10, allowed)
    assert fused.seeds.tolist() == apart.seeds.tolist()
    assert dataclasses.astuple(fused)[1:] == dataclasses.astuple(apart)[1:]


def test_cross_fitted_optimism_is_unbiased_and_less_noisy_than_a_single_difference() -> None:
    """The precision rule's statistic: over independent pairs of pools, its mean must match
    that of ``covered - checked`` (the seeds' coverage of the pool they were chosen on minus
    that of an independent pool, an unbiased estimate of the greedy's optimism), its spread
    must be smaller, and its standard error must be of the size of its actual spread."""
    rng = np.random.default_rng(8)
    graph = InfluenceGraph.from_arcs(1500, rng.integers(0, 1500, 9000), rng.integers(0, 1500, 9000))
    allowed = np.ones(graph.n, dtype=np.bool_)
    single, crossed, noise = [], [], []
    for repeat in range(60):
        one, two = imm_module._Pool(graph, False), imm_module._Pool(graph, False)
        one.grow(4000, 2 * repeat)
        two.grow(4000, 2 * repeat + 1)
        fit = imm_module._cross_fit(graph.n, one, two, 10, allowed)
        single.append(fit.covered - fit.checked)
        crossed.append(fit.optimism)
        noise.append(fit.noise)
    gap = abs(np.mean(single) - np.mean(crossed))
    assert gap <= 4 * math.sqrt(np.var(single) / len(single)), (np.mean(single), np.mean(crossed))
    assert np.mean(crossed) > 0  # greedy seeds do fit their own pool better
    assert np.std(crossed) < 0.8 * np.std(single)
    assert 0.5 < np.std(crossed) / np.mean(noise) < 2.0


def test_the_resolution_of_the_cross_fit_falls_at_least_as_one_over_root_theta() -> None:
    """The precision rule stops on the cross-fit's resolution (its standard error over the seeds'
    coverage) and, once certified, grows the pools by ``(resolution / tolerance)²``: that
    assumes it falls at least as fast as ``1/√θ``. Four times the RR sets must halve it at
    least (the two seed sets also come to agree, so it falls faster), and never reverse."""
    rng = np.random.default_rng(8)
    graph = InfluenceGraph.from_arcs(1500, rng.integers(0, 1500, 9000), rng.integers(0, 1500, 9000))
    allowed = np.ones(graph.n, dtype=np.bool_)
    means = []
    for size in (1000, 4000):
        resolutions = []
        for repeat in range(12):
            one, two = imm_module._Pool(graph, False), imm_module._Pool(graph, False)
            one.grow(size, 2 * repeat)
            two.grow(size, 2 * repeat + 1)
            fit = imm_module._cross_fit(graph.n, one, two, 10, allowed)
            resolutions.append(fit.noise / fit.level)
        means.append(float(np.mean(resolutions)))
    assert means[1] <= means[0] / 2, means
    assert means[1] >= means[0] / 8, means  # and not by accident: it stays an error of θ


def test_skipped_rounds_change_nothing_but_the_number_of_greedy_runs(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A round whose resolution would still be ``_SKIP_ABOVE`` times the tolerance, were it to
    fall as fast as ``1/θ``, cannot stop and is skipped: its RR sets are drawn with the next
    round's, from the same seeds. Where such a round would have doubled the pools anyway (here,
    where the resolution falls slower than ``1/θ``), the search gives the same seeds, estimate
    and RR sets as with every round evaluated, in fewer rounds. (Since its growth follows the
    resolution's own decay, :func:`_growth`, an evaluated round that cannot stop may also ask
    for less than doubling: skipping it then only adds RR sets.)"""
    rng = np.random.default_rng(5)
    graph = InfluenceGraph.from_arcs(
        3000, rng.integers(0, 3000, 20_000), rng.integers(0, 3000, 20_000)
    )
    real = imm_module._cross_fit

    def run() -> tuple[imm_module.SeedSelection, list[tuple[int, float]]]:
        rounds: list[tuple[int, float]] = []

        def logged(n: int, one: imm_module._Pool, *rest: object) -> imm_module._CrossFit:
            fit = real(n, one, *rest)  # type: ignore[arg-type]
            rounds.append((one.sets, fit.noise / fit.level))
            return fit

        monkeypatch.setattr(imm_module, "_cross_fit", logged)
        return imm(graph, 10, seed=1), rounds

    skipping, fewer = run()
    monkeypatch.setattr(imm_module, "_SKIP_ABOVE", math.inf)
    every, rounds = run()
    assert skipping.seeds.tolist() == every.seeds.tolist()
    assert (skipping.rr_sets, skipping.estimated_spread) == (every.rr_sets, every.estimated_spread)
    assert set(fewer) <= set(rounds)  # the rounds kept are rounds of the full search
    assert len(fewer) < len(rounds) - 1
    assert fewer[-1] == rounds[-1]  # the same stopping round, same resolution


def test_a_certified_round_grows_by_what_the_resolution_asks_at_its_own_rate_of_decay() -> None:
    """The growth after a certified round lands where the resolution, falling on as it fell
    since the round before (``θ^-α``, ``α`` clamped to [0.5, 1]), meets the tolerance: by
    ``(res / tol)²`` without a round before or where it fell as ``1/√θ`` or slower (or rose),
    by ``res / tol`` where it fell as ``1/θ`` or faster; between 1.1 and 2."""
    growth, tol = imm_module._growth, 0.003
    assert growth(1000, 0.0036, None, tol) == pytest.approx(1.44)
    assert growth(1000, 0.0036, (250, 0.0072), tol) == pytest.approx(1.44)  # 1/√θ
    assert growth(1000, 0.0036, (250, 0.0050), tol) == pytest.approx(1.44)  # slower
    assert growth(1000, 0.0036, (250, 0.0030), tol) == pytest.approx(1.44)  # it rose
    assert growth(1000, 0.0036, (500, 0.0072), tol) == pytest.approx(1.2)  # 1/θ
    assert growth(1000, 0.0036, (500, 0.0144), tol) == pytest.approx(1.2)  # faster: as 1/θ
    alpha = math.log(0.0072 / 0.0036) / math.log(1000 / 400)  # between the two
    assert growth(1000, 0.0036, (400, 0.0072), tol) == pytest.approx(1.2 ** (1 / alpha))
    assert growth(1000, 0.0031, (500, 0.0062), tol) == pytest.approx(1.1)  # the least
    assert growth(1000, 0.0090, None, tol) == pytest.approx(2.0)  # the most


def test_top_sum_is_the_sum_of_the_k_largest_usable_degrees() -> None:
    """The greedy's upper bound adds the ``k`` largest marginal coverages of usable nodes (a
    min-heap of size ``k``): against sorting, with ties, unusable nodes and fewer usable nodes
    than ``k``."""
    rng = np.random.default_rng(9)
    for trial in range(200):
        n = int(rng.integers(1, 300))
        degree = rng.integers(0, 1 + int(rng.integers(1, 50)), n).astype(np.int64)
        usable = rng.random(n) < rng.random()
        k = int(rng.integers(1, 60))
        expected = int(np.sort(degree[usable])[::-1][:k].sum())
        assert int(imm_module._top_sum(degree, usable, k)) == expected, trial


def test_final_seeds_fall_back_to_the_certified_ones_when_the_third_pool_cannot_certify(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """With a single RR set in R3 the check of the joined pools' seeds fails: the seeds of R1,
    certified on R2, come back with R2's estimate."""
    graph = two_stars()
    monkeypatch.setattr(imm_module, "_CHECK_SHARE", 1e-12)
    chosen = imm(graph, 2, seed=3)
    assert sorted(chosen.seeds.tolist()) == [0, 21]
    assert chosen.rr_sets % 2 == 1  # two equal pools and one set in R3
    assert chosen.estimated_spread == pytest.approx(27, rel=0.1)


def test_one_thread_gives_the_same_seeds(monkeypatch: pytest.MonkeyPatch) -> None:
    """``NUMBA_NUM_THREADS=1`` keeps all the work on the calling thread, same result."""
    rng = np.random.default_rng(1)
    graph = InfluenceGraph.from_arcs(
        2000, rng.integers(0, 2000, 12_000), rng.integers(0, 2000, 12_000)
    )
    both = imm(graph, 10, seed=2)
    # Large enough for the pools to grow on two threads.
    assert both.rr_sets >= 2 * imm_module._PARALLEL_FROM
    monkeypatch.setattr(numba.config, "NUMBA_NUM_THREADS", 1)
    alone = imm(graph, 10, seed=2)
    assert alone.seeds.tolist() == both.seeds.tolist() and alone.rr_sets == both.rr_sets


def test_monte_carlo_interval_covers_the_exact_spread_of_a_chain() -> None:
    # 0 → 1 → 2 with p = 0.5: expected spread 1 + 0.5 + 0.25.
    graph = InfluenceGraph.from_arcs(3, np.array([0, 1]), np.array([1, 2]), np.array([0.5, 0.5]))
    estimate = monte_carlo_spread(graph, [0], runs=20_000, seed=4)
    assert estimate.low < 1.75 < estimate.high
    assert estimate.high - estimate.low < 0.03
    lt = monte_carlo_spread(graph, [0], model="lt", runs=20_000, seed=4)
    assert lt.low < 1.75 < lt.high  # on a chain LT and IC coincide


def test_bad_arguments_are_refused() -> None:
    graph = two_stars()
    with pytest.raises(ValueError, match="model"):
        imm(graph, 2, model="sir")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="excluded"):
        imm(graph, 2, exclude=[99])
    with pytest.raises(ValueError, match="tolerance"):
        imm(graph, 2, tolerance=0.0)
    with pytest.raises(ValueError, match="seed node"):
        monte_carlo_spread(graph, [99])
    with pytest.raises(ValueError, match="probabilities"):
        InfluenceGraph.from_arcs(2, np.array([0]), np.array([1]), np.array([1.5]))
    assert imm(graph, 5, exclude=range(30)).seeds.size == 0


@pytest.mark.slow
@pytest.mark.skipif(not GRAPHS.is_dir(), reason="../shared/data/graphs is absent")
def test_imm_on_wikivote_reaches_the_best_known_spread() -> None:
    graph = load_edge_list(GRAPHS / "wikivote.txt.gz")
    chosen = imm(graph, 50, epsilon=0.1, seed=1)
    spread = monte_carlo_spread(graph, chosen.seeds, runs=5000, seed=2)
    assert spread.mean >= 0.99 * 673  # best known, ../shared/data/README.md


@pytest.mark.slow
def test_advocates_from_observed_graph_reach_95_percent_of_the_oracle_on_the_sandbox() -> None:
    """The product sees the follower graph, not the true probabilities: it picks advocates with
    weighted-cascade probabilities; the oracle picks with the true ones. Both are scored by
    Monte Carlo under the true probabilities."""
    from dialogo.simulation import World, WorldConfig

    world = World(WorldConfig(seed=7, population=5000))
    g = world.graph
    truth = InfluenceGraph.from_arcs(g.n, g.src, g.dst, world.influence.astype(np.float64))
    observed = InfluenceGraph.from_arcs(g.n, g.src, g.dst)  # weighted cascade
    k = 20
    ours = imm(observed, k, seed=1).seeds
    oracle = imm(truth, k, seed=1).seeds
    ours_spread = monte_carlo_spread(truth, ours, runs=5000, seed=3).mean
    oracle_spread = monte_carlo_spread(truth, oracle, runs=5000, seed=3).mean
    assert ours_spread >= 0.95 * oracle_spread, (ours_spread, oracle_spread)
