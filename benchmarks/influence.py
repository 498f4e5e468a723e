"""Benchmark of advocate selection (influence maximisation) on the research graphs.

    pip install -e '.[bench]'          # pynetim and cynetdiff, for this script only
    python benchmarks/influence.py                     # the five graphs, k = 50, 3 runs
    python benchmarks/influence.py --graphs nethept --runs 5

Independent cascade with weighted-cascade probabilities (p(u, v) = 1 / in-degree(v)), k = 50.
For each graph: Dialogo's ``imm`` (OPIM-C stopping plus the precision rule, see
``dialogo.influence.imm``; ε = 0.1, median wall and CPU time of ``--runs`` runs after one
warm-up run that also compiles or loads the numba kernels) and pynetim's IMMAlgorithm
(ε = 0.1, one run; the named baseline). The spread of each seed set is measured by cynetdiff
(an independent simulator) over 10,000 cascades, and Dialogo's own simulator is run on
Dialogo's seeds as a cross-check. "best" and the C++ times are the numbers quoted in
../shared/data/README.md. Graph loading is excluded from every time. The graphs are read from
../shared/data/graphs and never copied. Prints a table; it is not a timed test.

Measured 2026-12-06 07:19–07:41 UTC, ``python benchmarks/influence.py`` (one run, 2 cores shared
with other engineers' test runs; load average 12–19 during the run, 11.0 / 13.0 / 14.0 at the
end, so wall times are several times the CPU times and both are shown). spread: cynetdiff;
Dialogo's own simulator agreed within 0.3 %. ×pyn: pynetim time / ours; ×C++: ours / the
faster quoted C++ tool; wall, then CPU::

    graph    ours s cpu s RR sets  spread %best | pynetim s cpu s %best |  ×pyn   cpu |  ×C++  cpu
    nethept   4.175 0.463  584704   962.7  99.8 |     19.49  3.24 100.0 |   4.7   7.0 |   104 11.6
    facebook  1.199 0.280  237568  1216.8  99.5 |     94.16 14.69  99.7 |  78.5  52.5 |   200 46.7
    wikivote  0.334 0.073  261120   671.3  99.7 |     26.77  3.68 100.0 |  80.1  50.6 |  30.4  6.6
    enron     1.047 0.173   82176 11793.5  99.6 |     85.49 19.47 100.0 |  81.6 112.6 |  69.8 11.5
    netphy    1.569 0.515  658432  1398.7  99.3 |     43.11 14.92  99.9 |  27.5  28.9 |  19.6  6.4

Goals of issue #8: spread ≥ 99 % of the best known — holds on all five graphs (netphy with the
least margin). ≥ 10× faster than pynetim's IMM — holds on four graphs, not on nethept (4.7×
wall, 7× CPU: pynetim's IMM is fast there and 99 % needs ~290,000 RR sets per pool). Within
5× of the C++ tools — not met: 6–47× in CPU time, far more in wall time on this loaded machine
(the C++ figures are quoted for an idle one, at their 2–4 % lower spread). The IMM this replaced,
run the same day (``--no-pynetim --runs 1``, same load): cpu 2.17 / 0.62 / 0.41 / 1.09 / 4.06 s
for 99.9 / 99.6 / 99.8 / 100.0 / 100.0 % of best.
"""

from __future__ import annotations

import argparse
import array
import os
import statistics
import time
from pathlib import Path

import numpy as np

from dialogo.influence.graph import InfluenceGraph, load_edge_list
from dialogo.influence.imm import imm, monte_carlo_spread

ROOT = Path(__file__).resolve().parents[1]
GRAPHS = ROOT.parent / "shared" / "data" / "graphs"
# From ../shared/data/README.md: (best spread known, SUBSIM s, OPIM-C s, pynetim s as quoted).
QUOTED = {
    "nethept": (965, 0.11, 0.04, 1.35),
    "facebook": (1223, 0.006, 0.022, 5.2),
    "wikivote": (673, 0.011, 0.014, 0.81),
    "enron": (11835, 0.015, 0.038, 17.5),
    "netphy": (1409, 0.14, 0.08, 13.7),
}


def cynetdiff_spread(graph: InfluenceGraph, seeds: list[int], runs: int) -> float:
    from cynetdiff.models import IndependentCascadeModel

    model = IndependentCascadeModel(
        array.array("I", graph.out_indptr.astype(np.uint32).tolist()),
        array.array("I", graph.out_dst.astype(np.uint32).tolist()),
        activation_probs=array.array("f", graph.out_p.astype(np.float32).tolist()),
        rng=np.random.default_rng(7),
    )
    model.set_seeds(seeds)
    return float(model.compute_marginal_gains(seeds, [], runs)[0])


def pynetim_imm(graph: InfluenceGraph, k: int) -> tuple[list[int], float, float]:
    from pynetim.algorithms.ris import IMMAlgorithm
    from pynetim.graph import IMGraph

    src, dst, p = graph.arcs()
    edges = list(zip(src.tolist(), dst.tolist(), strict=True))
    im_graph = IMGraph(edges, weights=p.tolist(), directed=True, renumber=False)
    started, cpu_started = time.perf_counter(), time.process_time()
    seeds = IMMAlgorithm(im_graph, model="IC", epsilon=0.1, l=1, random_seed=1).run(k)
    elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu_started
    return sorted(int(s) for s in seeds), elapsed, cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--graphs", nargs="*", default=list(QUOTED))
    parser.add_argument("--k", type=int, default=50)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--simulations", type=int, default=10_000)
    parser.add_argument("--no-pynetim", action="store_true", help="skip the baseline")
    args = parser.parse_args()
    if not GRAPHS.is_dir():
        raise SystemExit(f"graphs not found at {GRAPHS}")
    header = (
        f"{'graph':9} {'nodes':>7} {'arcs':>8} | {'ours s':>7} {'cpu s':>6} {'RR sets':>8} "
        f"{'spread':>8} {'own MC':>8} {'%best':>6} | {'pynetim s':>9} {'cpu s':>6} "
        f"{'spread':>8} {'%best':>6} | {'speed-up':>8} {'cpu':>6} {'vs C++':>7} {'cpu':>6}"
    )
    print(header)
    print("-" * len(header))
    for name in args.graphs:
        best, subsim, opimc, _quoted = QUOTED[name]
        graph = load_edge_list(GRAPHS / f"{name}.txt.gz")
        imm(graph, args.k, epsilon=0.1, seed=1000)  # warm-up (compiles or loads the kernels)
        times, cpu_times = [], []
        selection = None
        for run in range(args.runs):
            started, cpu_started = time.perf_counter(), time.process_time()
            selection = imm(graph, args.k, epsilon=0.1, seed=run)
            times.append(time.perf_counter() - started)
            cpu_times.append(time.process_time() - cpu_started)
        assert selection is not None
        ours_t = statistics.median(times)
        ours_cpu = statistics.median(cpu_times)
        seeds = selection.seeds.tolist()
        ours = cynetdiff_spread(graph, seeds, args.simulations)
        own = monte_carlo_spread(graph, seeds, runs=args.simulations, seed=3).mean
        if args.no_pynetim:
            base_t, base_cpu, base_spread = float("nan"), float("nan"), float("nan")
        else:
            base_seeds, base_t, base_cpu = pynetim_imm(graph, args.k)
            base_spread = cynetdiff_spread(graph, base_seeds, args.simulations)
        fastest_cpp = min(subsim, opimc)
        print(
            f"{name:9} {graph.n:>7} {graph.m:>8} | {ours_t:>7.3f} {ours_cpu:>6.3f} "
            f"{selection.rr_sets:>8} {ours:>8.1f} {own:>8.1f} {100 * ours / best:>5.1f}% | "
            f"{base_t:>9.2f} {base_cpu:>6.2f} {base_spread:>8.1f} "
            f"{100 * base_spread / best:>5.1f}% | {base_t / ours_t:>7.1f}× "
            f"{base_cpu / ours_cpu:>5.1f}× {ours_t / fastest_cpp:>6.1f}× "
            f"{ours_cpu / fastest_cpp:>5.1f}×",
            flush=True,
        )
    print(
        "\nspread: cynetdiff, mean of "
        f"{args.simulations:,} cascades; own MC: dialogo.influence.imm.monte_carlo_spread; "
        "%best: of the best spread known; speed-up: pynetim time / ours (wall, then cpu); vs "
        "C++: ours / the faster of SUBSIM and OPIM-C as quoted in ../shared/data/README.md "
        "(wall, then cpu); cpu s: process time, all threads (less sensitive than wall time to a "
        "loaded machine); RR sets: both pools, last "
        f"run; load average now: {' / '.join(f'{x:.1f}' for x in os.getloadavg())}"
    )


if __name__ == "__main__":
    main()
