"""Benchmark of advocate selection (influence maximisation) on the research graphs.

    pip install -e '.[bench]'          # pynetim and cynetdiff, for this script only
    python benchmarks/influence.py                     # the five graphs, k = 50, 3 runs
    python benchmarks/influence.py --graphs nethept --runs 5

Independent cascade with weighted-cascade probabilities (p(u, v) = 1 / in-degree(v)), k = 50.
For each graph: Dialogo's IMM (ε = 0.1, median wall time of ``--runs`` runs after one warm-up
run that also compiles the numba kernels) and pynetim's IMMAlgorithm (ε = 0.1, one run; the
named baseline). The spread of each seed set is measured by cynetdiff (an independent
simulator) over 10,000 cascades, and Dialogo's own simulator is run on Dialogo's seeds as a
cross-check. "best" and the C++ times are the numbers quoted in ../shared/data/README.md.
Graph loading is excluded from every time. The graphs are read from ../shared/data/graphs and
never copied. Prints a table; it is not a timed test.
"""

from __future__ import annotations

import argparse
import array
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


def pynetim_imm(graph: InfluenceGraph, k: int) -> tuple[list[int], float]:
    from pynetim.algorithms.ris import IMMAlgorithm
    from pynetim.graph import IMGraph

    src, dst, p = graph.arcs()
    edges = list(zip(src.tolist(), dst.tolist(), strict=True))
    im_graph = IMGraph(edges, weights=p.tolist(), directed=True, renumber=False)
    started = time.perf_counter()
    seeds = IMMAlgorithm(im_graph, model="IC", epsilon=0.1, l=1, random_seed=1).run(k)
    return sorted(int(s) for s in seeds), time.perf_counter() - started


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
        f"{'graph':9} {'nodes':>7} {'arcs':>8} | {'ours s':>7} {'spread':>8} {'own MC':>8} "
        f"{'%best':>6} | {'pynetim s':>9} {'spread':>8} | {'speed-up':>8} {'vs C++':>7}"
    )
    print(header)
    print("-" * len(header))
    for name in args.graphs:
        best, subsim, opimc, _quoted = QUOTED[name]
        graph = load_edge_list(GRAPHS / f"{name}.txt.gz")
        imm(graph, args.k, epsilon=0.1, seed=1000)  # warm-up (compiles or loads the kernels)
        times = []
        selection = None
        for run in range(args.runs):
            started = time.perf_counter()
            selection = imm(graph, args.k, epsilon=0.1, seed=run)
            times.append(time.perf_counter() - started)
        assert selection is not None
        ours_t = statistics.median(times)
        seeds = selection.seeds.tolist()
        ours = cynetdiff_spread(graph, seeds, args.simulations)
        own = monte_carlo_spread(graph, seeds, runs=args.simulations, seed=3).mean
        if args.no_pynetim:
            base_t, base_spread = float("nan"), float("nan")
        else:
            base_seeds, base_t = pynetim_imm(graph, args.k)
            base_spread = cynetdiff_spread(graph, base_seeds, args.simulations)
        fastest_cpp = min(subsim, opimc)
        print(
            f"{name:9} {graph.n:>7} {graph.m:>8} | {ours_t:>7.3f} {ours:>8.1f} {own:>8.1f} "
            f"{100 * ours / best:>5.1f}% | {base_t:>9.2f} {base_spread:>8.1f} | "
            f"{base_t / ours_t:>7.1f}× {ours_t / fastest_cpp:>6.1f}×",
            flush=True,
        )
    print(
        "\nspread: cynetdiff, mean of "
        f"{args.simulations:,} cascades; own MC: dialogo.influence.imm.monte_carlo_spread; "
        "%best: of the best spread known; speed-up: pynetim time / ours; vs C++: ours / the "
        "faster of SUBSIM and OPIM-C as quoted in ../shared/data/README.md"
    )


if __name__ == "__main__":
    main()
