"""Benchmark of advocate selection (influence maximisation) on the research graphs.

    pip install -e '.[bench]'          # pynetim and cynetdiff, for this script only
    python benchmarks/influence.py                     # the five graphs, k = 50, 3 runs
    python benchmarks/influence.py --graphs nethept --runs 5

Independent cascade with weighted-cascade probabilities (p(u, v) = 1 / in-degree(v)), k = 50.
For each graph: Dialogo's ``imm`` (OPIM-C stopping plus the precision rule, see
``dialogo.influence.imm``; ε = 0.1, median wall and CPU time of ``--runs`` runs after one
warm-up run that also compiles or loads the numba kernels) and pynetim's IMMAlgorithm
(ε = 0.1, one run; the named baseline). ``--compare path/to/imm.py`` times another version of
the module (e.g. the committed one, ``git archive HEAD | tar -x -C /tmp/imm_old``) on a row
of its own, its runs interleaved with ours so that both share the machine's load. The spread
of each seed set is measured by cynetdiff (an independent simulator) over 10,000 cascades, and
Dialogo's own simulator is run on the same seeds as a cross-check. "best" and the C++ times
are the numbers quoted in ../shared/data/README.md. Graph loading is excluded from every time.
The graphs are read from ../shared/data/graphs and never copied. Prints a table; it is not a
timed test.

On an idle machine, this tree, 2026-12-06 14:49-14:53 UTC (load average 2.1 at the start,
0.5-1.0 at the end), ``python benchmarks/influence.py --runs 3``; wall seconds (the C++ figures
are wall), CPU beside them; spread is the lowest over the runs' seed sets (cynetdiff, 10,000
cascades); "vs C++" against the faster of SUBSIM and OPIM-C::

    graph     ours s  cpu s  RR sets  %best | pynetim s | speed-up (wall/cpu) | vs C++ (wall/cpu)
    nethept    0.304  0.495  657,792  99.7% |      2.44 |      8.0x /   4.9x  |     7.6x / 12.4x
    facebook   0.186  0.271  201,290  99.5% |      4.53 |     24.4x /  16.7x  |    30.9x / 45.2x
    wikivote   0.057  0.080  293,760  99.6% |      1.13 |     20.0x /  14.1x  |     5.2x /  7.3x
    enron      0.050  0.055   46,224  99.1% |      9.20 |    185.3x / 166.7x  |     3.3x /  3.7x
    netphy     0.410  0.650  740,736  99.8% |     11.83 |     28.9x /  18.2x  |     5.1x /  8.1x

So, wall time on the idle machine: spread >= 99 % of the best known holds on all five graphs;
>= 10x pynetim holds on four (nethept 8.0x); within 5x of the faster C++ tool holds on enron
only (wikivote 5.2x and netphy 5.1x just miss it; nethept 7.6x, facebook 30.9x).

Where the time goes (per-kernel thread CPU time of ``imm``, ``/tmp``-profiled 2026-12-06
14:07 UTC at load average ≈ 20, facebook and nethept, 3 seeds each): drawing RR sets 70–75 %,
the greedy runs (one per pool per round, plus the final one on both pools) 18–22 %, coverage
counts on the pools 5–8 %, joining the two pools for the final greedy 1 %, graph preparation
(``_none_taken``) 0.4–1.7 ms, Python between the kernels 6–30 ms. Fixed costs per process:
importing numba ≈ 0.27 s CPU and loading the cached kernels on the first call ≈ 0.4–0.8 s CPU
(a recompile after a kernel change: 10 s); the warm-up run keeps them out of the timings
below, a job worker pays them once. At the C++ tools' scale (0.006–0.04 s) it is not fixed
costs but the number of RR sets × ≈ 0.3–1.2 µs each that is out of reach: 99 % of the best
spread needs 10–20× more RR sets than SUBSIM/OPIM-C draw for their 96–98 %.

Which C++ figure: the ratios ("vs C++") divide by the *faster* of SUBSIM and OPIM-C as quoted
in ../shared/data/README.md (the strict reading), wall and CPU. The quoted figures are wall
seconds on an idle 2-core machine; ours are measured on a machine shared by ~8 engineers
(load average 15–24 below), where wall time is 3–8× CPU time, so the CPU column is the
fairer of the two and is the one discussed.

Measured 2026-12-06 14:09–14:37 UTC, ``python benchmarks/influence.py --runs 5 --compare
/tmp/imm_old/imm.py`` (one run; "before" is the committed module, ``git show
HEAD:src/dialogo/influence/imm.py``, its runs interleaved with ours; 2 cores shared with
other engineers: load average 24.0 at the start, 1.4 at the end). spread / %best: the
*lowest* of the 5 runs' seed sets (cynetdiff, 10,000 cascades; own MC on the same seeds);
RR sets: median, all pools; ns/RR: CPU per RR set, greedy and checks included; ×pyn:
pynetim CPU / ours; ×C++: our CPU / the faster quoted C++ tool's time (the script also prints
the wall-time ratios)::

    graph     wall s cpu s RR sets ns/RR  spread %best | pyn. wall  cpu %best | ×pyn cpu | ×C++ cpu
    nethept    3.121 0.583  657792   745   960.5  99.5 |     27.37  3.58 100.0 |     6.1× |    14.6×
      before   3.660 0.626 1168670   588   957.9  99.3 |     27.37  3.58 100.0 |     5.7× |    15.7×
    facebook   1.371 0.336  201290  1779  1216.6  99.5 |     43.77 11.98  99.7 |    35.6× |    56.1×
      before   1.247 0.322  237488  1382  1214.1  99.3 |     43.77 11.98  99.7 |    37.2× |    53.6×
    wikivote   0.464 0.127  312127   443   670.0  99.6 |     11.57  3.47 100.0 |    27.3× |    11.6×
      before   0.332 0.087  260860   310   662.9  98.5 |     11.57  3.47 100.0 |    40.0× |     7.9×
    enron      0.378 0.121   46224  2457 11723.6  99.1 |     65.72 22.63 100.0 |   186.3× |     8.1×
      before   0.435 0.144   82066  1842 11729.2  99.1 |     65.72 22.63 100.0 |   157.6× |     9.6×
    netphy     0.558 0.911  925920   973  1397.1  99.2 |     14.02 14.01  99.9 |    15.4× |    11.4×
      before   0.321 0.496  657534   752  1397.0  99.2 |     14.02 14.01  99.9 |    28.3× |     6.2×

What changed (this run's "before" is the committed module): (1) the precision rule decides on
a cross-fitted optimism (greedy on both pools, ``dialogo.influence.imm._cross_fit``) with its
own standard error, instead of ``covered - checked`` whose noise (≈ √(2Λ)) was the size of
the tolerance; (2) once certified, the pools grow by what that statistic asks for (1.25–2×)
instead of doubling past the target; (3) the returned seeds are the greedy's on both pools
together, re-certified on a third pool of θ/4 RR sets (the OPIM-C guarantee is kept); (4)
the two greedy runs of a round run on two threads, like the two pools' growth
(``NUMBA_NUM_THREADS=1``: one thread, same result). The tolerance (1.5 %) was set on 5 seeds
per graph with this module's simulator (4,000 cascades, 13:33–13:52 UTC): min %best 99.45
wikivote, 99.63 nethept, 99.60 facebook, 99.07 enron; 1 % gave ≥ 99.4 % everywhere but
1.9× the RR sets on wikivote and 2× on nethept.

Result, honestly — mixed. Worst-of-5 spread: up on nethept (99.3 → 99.5), facebook (99.3 →
99.5) and wikivote (98.5 → 99.6: the old rule's lowest run was *below* the goal here), equal
on enron (99.1, the thinnest margin: both stop at the first certified round) and netphy (99.2).
RR sets: nethept's median halved (1.17 M → 658 k) and facebook −15 %, enron −44 %; but
wikivote +20 % and netphy +41 % (926 k: the new rule is stricter there than the old one's
lucky stops). CPU per RR set is 20–35 % higher (ns/RR includes the extra greedy runs and
coverage counts, 25–30 % of the time now), so CPU time improved only on nethept (−7 %) and
enron (−16 %), and regressed on facebook (+4 %), wikivote (+46 %) and netphy (+84 %).

Goals of issue #8: spread ≥ 99 % of the best known — holds for the lowest of 5 runs on every
graph. ≥ 10× faster than pynetim's IMM — holds on facebook, wikivote, enron and netphy; not on
nethept (6.1× CPU, 8.8× wall). Within 5× of the faster C++ tool — not met on any graph in CPU
time (8–56×); the old module's 4.5–4.8× on netphy and wikivote in the previous run are 6.2× and
7.9× in this one (load). Facebook needs ≈ 65,000 RR sets per pool for 99 % at ≈ 1.3 µs each
against SUBSIM's 0.006 s for 96 %. Left to do: a cheaper greedy (the inverted index is rebuilt
from scratch each round; it could grow with the pools), and a stopping statistic whose
tolerance transfers between graphs (the optimism/loss ratio differs: enron loses 0.9 % at an
optimism netphy needs to lose 0.5 %).
"""

from __future__ import annotations

import argparse
import array
import dataclasses
import importlib.util
import os
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from dialogo.influence.graph import InfluenceGraph, load_edge_list
from dialogo.influence.imm import SeedSelection, imm, monte_carlo_spread

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


def load_module(path: Path) -> object:
    """Another version of ``dialogo/influence/imm.py`` (e.g. from ``git archive``), for a
    before/after comparison in the same run."""
    spec = importlib.util.spec_from_file_location("imm_compared", path)
    if spec is None or spec.loader is None:
        raise SystemExit(f"cannot load {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules["imm_compared"] = module
    spec.loader.exec_module(module)
    return module


@dataclasses.dataclass
class Timing:
    """``runs`` runs of one implementation (seeds 0, 1, …): every run's selection, median wall
    and CPU seconds, median RR sets, and CPU nanoseconds per RR set over all runs."""

    selections: list[SeedSelection]
    wall: float
    cpu: float
    rr_sets: float
    ns_per_set: float


def timed_imm(
    versions: list[Callable[..., SeedSelection]], graph: InfluenceGraph, k: int, runs: int
) -> list[Timing]:
    """One warm-up run of each version (it compiles or loads the numba kernels), then ``runs``
    runs of each, interleaved so that they share the machine's load."""
    for run_imm in versions:
        run_imm(graph, k, epsilon=0.1, seed=1000)
    walls: list[list[float]] = [[] for _ in versions]
    cpus: list[list[float]] = [[] for _ in versions]
    sets: list[list[int]] = [[] for _ in versions]
    chosen: list[list[SeedSelection]] = [[] for _ in versions]
    for run in range(runs):
        for index, run_imm in enumerate(versions):
            started, cpu_started = time.perf_counter(), time.process_time()
            selection = run_imm(graph, k, epsilon=0.1, seed=run)
            walls[index].append(time.perf_counter() - started)
            cpus[index].append(time.process_time() - cpu_started)
            sets[index].append(selection.rr_sets)
            chosen[index].append(selection)
    return [
        Timing(
            chosen[i],
            statistics.median(walls[i]),
            statistics.median(cpus[i]),
            statistics.median(sets[i]),
            1e9 * sum(cpus[i]) / sum(sets[i]),
        )
        for i in range(len(versions))
    ]


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
    parser.add_argument(
        "--compare",
        type=Path,
        help="another imm.py (e.g. the committed one) timed the same way, on a row of its own",
    )
    args = parser.parse_args()
    if not GRAPHS.is_dir():
        raise SystemExit(f"graphs not found at {GRAPHS}")
    compared: Any = None if args.compare is None else load_module(args.compare)
    header = (
        f"{'graph':9} {'nodes':>7} {'arcs':>8} | {'ours s':>7} {'cpu s':>6} {'RR sets':>8} "
        f"{'ns/RR':>5} {'spread':>8} {'own MC':>8} {'%best':>6} | {'pynetim s':>9} {'cpu s':>6} "
        f"{'spread':>8} {'%best':>6} | {'speed-up':>8} {'cpu':>6} {'vs C++':>7} {'cpu':>6}"
    )
    print(f"load average at the start: {' / '.join(f'{x:.1f}' for x in os.getloadavg())}")
    print(header)
    print("-" * len(header))
    for name in args.graphs:
        best, subsim, opimc, _quoted = QUOTED[name]
        graph = load_edge_list(GRAPHS / f"{name}.txt.gz")
        versions = [imm] if compared is None else [imm, compared.imm]
        timings = timed_imm(versions, graph, args.k, args.runs)
        rows = list(zip([name, "  before"][: len(timings)], timings, strict=True))
        if args.no_pynetim:
            base_t, base_cpu, base_spread = float("nan"), float("nan"), float("nan")
        else:
            base_seeds, base_t, base_cpu = pynetim_imm(graph, args.k)
            base_spread = cynetdiff_spread(graph, base_seeds, args.simulations)
        fastest_cpp = min(subsim, opimc)
        for label, timing in rows:
            ours_t, ours_cpu = timing.wall, timing.cpu
            # Every run's seeds are scored: the row shows the lowest spread of the runs.
            spreads = [
                cynetdiff_spread(graph, chosen.seeds.tolist(), args.simulations)
                for chosen in timing.selections
            ]
            worst = timing.selections[int(np.argmin(spreads))].seeds.tolist()
            ours = min(spreads)
            own = monte_carlo_spread(graph, worst, runs=args.simulations, seed=3).mean
            print(
                f"{label:9} {graph.n:>7} {graph.m:>8} | {ours_t:>7.3f} {ours_cpu:>6.3f} "
                f"{timing.rr_sets:>8.0f} {timing.ns_per_set:>5.0f} {ours:>8.1f} {own:>8.1f} "
                f"{100 * ours / best:>5.1f}% | "
                f"{base_t:>9.2f} {base_cpu:>6.2f} {base_spread:>8.1f} "
                f"{100 * base_spread / best:>5.1f}% | {base_t / ours_t:>7.1f}× "
                f"{base_cpu / ours_cpu:>5.1f}× {ours_t / fastest_cpp:>6.1f}× "
                f"{ours_cpu / fastest_cpp:>5.1f}×",
                flush=True,
            )
    print(
        "\nspread: cynetdiff, mean of "
        f"{args.simulations:,} cascades, the lowest over the runs' seed sets; own MC: "
        "dialogo.influence.imm.monte_carlo_spread on those seeds; "
        "%best: of the best spread known; speed-up: pynetim time / ours (wall, then cpu); vs "
        "C++: ours / the faster of SUBSIM and OPIM-C as quoted in ../shared/data/README.md "
        "(wall, then cpu); cpu s: process time, all threads (less sensitive than wall time to a "
        "loaded machine); RR sets: all pools, median of the runs; ns/RR: CPU time per RR set "
        f"over the runs; load average now: {' / '.join(f'{x:.1f}' for x in os.getloadavg())}"
    )


if __name__ == "__main__":
    main()
