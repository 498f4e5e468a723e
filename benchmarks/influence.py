"""Benchmark of advocate selection (influence maximisation) on the research graphs.

    pip install -e '.[bench]'          # pynetim and cynetdiff, for this script only
    python benchmarks/influence.py                     # the five graphs, k = 50, 3 runs
    python benchmarks/influence.py --graphs nethept --runs 5

Independent cascade with weighted-cascade probabilities (p(u, v) = 1 / in-degree(v)), k = 50.
For each graph: Dialogo's ``imm`` (OPIM-C stopping plus the precision rule, see
``dialogo.influence.imm``; ε = 0.1, median wall and CPU time of ``--runs`` runs after one
warm-up run that also compiles or loads the numba kernels) and pynetim's IMMAlgorithm
(ε = 0.1, one run; the named baseline). ``--compare path/to/imm.py`` times another version of
the module (e.g. the committed one: ``git archive HEAD | tar -x -C /tmp/imm_old``, then
``--compare /tmp/imm_old/src/dialogo/influence/imm.py``) on a row
of its own, its runs interleaved with ours so that both share the machine's load. The spread
of each seed set is measured by cynetdiff (an independent simulator) over 10,000 cascades, and
Dialogo's own simulator is run on the same seeds as a cross-check. "best" and the C++ times
are the numbers quoted in ../shared/data/README.md. Graph loading is excluded from every time.
The graphs are read from ../shared/data/graphs and never copied. Prints a table; it is not a
timed test.

On the idle machine, this tree (committed), 2026-12-06 17:10-17:14 UTC, ``python
benchmarks/influence.py --runs 3`` (load average 1.5 at the start, 1.0 at the end); wall
seconds first (the C++ figures are wall), CPU beside them::

    graph     ours s  cpu s  RR sets  %best | pynetim s | speed-up (wall/cpu) | vs C++ (wall/cpu)
    nethept    0.246  0.419  621,248  99.7% |      2.35 |      9.5x /   5.6x  |     6.2x / 10.5x
    facebook   0.191  0.269  178,226  99.6% |      5.49 |     28.8x /  20.4x  |    31.8x / 44.8x
    wikivote   0.068  0.097  277,440  99.6% |      2.05 |     30.2x /  21.1x  |     6.2x /  8.8x
    enron      0.067  0.072   43,656  99.1% |     14.74 |    218.9x / 205.6x  |     4.5x /  4.8x
    netphy     0.310  0.538  874,480  99.8% |     13.94 |     44.9x /  25.9x  |     3.9x /  6.7x

Against the last stop's idle run (same machine, load 0.5-2.1): nethept 0.304 -> 0.246 s wall
(8.0x -> 9.5x pynetim), netphy 0.410 -> 0.310 s (5.1x -> 3.9x C++), enron 3.3x -> 4.5x C++ (0.050
-> 0.067 s: noise at this scale), facebook and wikivote unchanged within noise. Goals on the
idle machine, wall: spread >= 99 % of the best known holds on all five; >= 10x pynetim holds on
four, nethept 9.5x; within 5x of the faster C++ tool holds on enron and netphy, not on
nethept (6.2x), wikivote (6.2x) or facebook (31.8x).

Final run, this tree against the committed module, 2026-12-06 16:48-17:05 UTC, ``python
benchmarks/influence.py --runs 5 --compare /tmp/imm_old/src/dialogo/influence/imm.py`` (``git
archive HEAD | tar -x -C /tmp/imm_old``; "before" rows: its runs interleaved with ours). The
machine was never quiet this afternoon: load average 13.1 at the start, 1.8 at the
end (2 cores shared with ~8 engineers), so wall time is inflated 2-4× and the CPU column is
the one to compare; ratios are side by side in the same run. Spread: the *lowest* of the 5
runs' seed sets (cynetdiff, 10,000 cascades); RR sets: median, all pools; ns/RR: CPU per RR
set, greedy and checks included; ×pyn: pynetim / ours (wall, cpu); ×C++: ours / the faster of
SUBSIM and OPIM-C as quoted in ../shared/data/README.md (wall, cpu)::

  graph     wall s cpu s RR sets ns/RR  spread %best |pyn. wall   cpu |×pyn wall/cpu |×C++ wall/cpu
  nethept    1.587 0.362  621248   591   962.2  99.7 |     9.12  3.28 |  5.7×/ 9.1×|  39.7×/ 9.0×
    before   1.925 0.552  657792   709   960.5  99.5 |                |  4.7×/ 5.9×|  48.1×/13.8×
  facebook   1.474 0.313  157760  1945  1216.6  99.5 |    48.36 14.29 | 32.8×/45.7×| 245.6×/52.1×
    before   2.138 0.435  201290  2140  1216.6  99.5 |                | 22.6×/32.8×| 356.3×/72.6×
  wikivote   0.167 0.080  276754   313   670.0  99.6 |     2.96  1.67 | 17.7×/20.9×|  15.2×/ 7.2×
    before   0.244 0.119  312127   361   670.0  99.6 |                | 12.1×/14.0×|  22.2×/10.8×
  enron      0.228 0.087   43656  1815 11723.6  99.1 |    34.13 15.42 |149.6×/177.9×|  15.2×/ 5.8×
    before   0.267 0.102   46224  1868 11723.6  99.1 |                |128.0×/151.2×|  17.8×/ 6.8×
  netphy     0.304 0.522  699584   702  1395.4  99.0 |    12.12 12.09 | 39.8×/23.2×|   3.8×/ 6.5×
    before   0.488 0.754  925920   856  1397.1  99.2 |                | 24.8×/16.0×|   6.1×/ 9.4×

In the quietest window found (17:05-17:07 UTC, load average 0.9 at the start, 3.2 at the end),
the same command with ``--graphs nethept wikivote``: nethept 0.471 s wall / 0.441 s CPU
(before 0.533 / 0.540), pynetim 2.19 s: 4.7× (before 4.1×), 11.8× the C++ wall time;
wikivote 0.073 / 0.066 (before 0.090 / 0.094), pynetim 1.44 s: 19.7×, 6.6× the C++ wall time.
Spreads as above (same seeds). Nethept's wall time was about its CPU time in that window (the
two threads did not overlap; not investigated).

What changed (same run, "before" = committed module):

1. RR sets actually needed (lever 1). Greedy seeds on N RR sets of one pool (``rr_sets`` +
   ``greedy_cover``), spread by cynetdiff (10,000 cascades), % of the best known, the *lowest*
   of 5 seeds (2026-12-06 15:53-16:28 UTC, loaded machine; enron's run was stopped after
   12,500 for time)::

       N          12.5k   25k    50k    100k   200k   400k   800k   1.6M
       nethept      -      -    94.53  97.44  98.97  99.61  99.77  100.03
       facebook     -    97.96  99.03  99.32  99.54    -      -      -
       wikivote     -      -    98.21  98.98  99.54  99.71    -      -
       enron      98.25    -      -      -      -      -      -      -
       netphy       -      -    92.95  96.27  98.32  99.12  99.27  99.72

   The committed rule's final greedy sees 2θ ≈ 585k (nethept), 179k (facebook), 261k
   (wikivote), 658k (netphy) sets: 2.3×, ~3×, ~2× and 1.6× the floor (N where the worst of 5
   reaches 99 %). Enron stops at the first certified round (≈ 41k) either way. A rule that
   stopped at half the round's optimism (tolerance 1.5 % on the final seeds' predicted
   optimism) gave 98.5-99.0 % worst-of-5 (RR-set estimate on an independent pool of 2 M);
   1 % gave ≥ 99.0 % everywhere with that estimate but, in a full run of this script
   (16:28-16:50 UTC, load 13), netphy's worst run was 1394.5 = 98.97 % (wikivote 99.03 %,
   nethept 99.5 %, facebook 99.3 %, enron 99.1 %) at 700k, 621k, 210k, 130k and 44k RR sets.
   Netphy's curve is flat (99.12 % at 400k, 99.27 % at 800k for the worst seed) and one
   tolerance has to serve every graph, so the default is 0.8 % of the final seeds' predicted
   optimism — about the committed rule's stopping point (1.6 % of the round's). The rule's
   statistic is now about the seeds returned (chosen on 2θ sets, optimism predicted as half the
   round's, the 1/θ law checked by ``tests/influence``), but the RR sets drawn stay 1.5-3× the
   worst-of-5 floor on four graphs: what the optimism says about the loss differs by graph
   (netphy loses more at the same relative optimism), and no statistic tried here tells them
   apart.
2. Greedy and checks (lever 2). Each pool keeps its inverted index (node → RR sets) and extends
   it as it grows (old lists copied, only new sets counting-sorted; ``_index_extend``); the
   final greedy runs over both pools' indexes as they are (no join, no rebuild); the cross-fit's
   coverage counts walk the seeds' lists (``_cover_pair``: cost = the seeds' degrees, not a pass
   over the pools). The second greedy per round stays (the cross-fit needs it) but costs a
   heap and the covered sets only. R3, the independent pool that certifies the final seeds, is
   θ/8 (was θ/4): the certificate (ratio ≥ 1 - 1/e - ε) passes with far fewer sets. Thread CPU
   time per kernel on nethept (5 runs, loaded machine): drawing RR sets 81 %, greedy 9 %,
   index extension 6 %, coverage counts < 1 % (before: RR 69 %, greedy with index rebuild
   18 %, coverage passes 8 %, join 1 %).
3. Both cores (lever 3): already so — the two pools grow on two threads, each extending its
   own index; the two greedy runs of a round likewise; the final greedy runs beside R3's
   growth. One ``_none_taken`` per call instead of one per pool.
4. pynetim (lever 4): run once per graph, ε = 0.1, ℓ = 1, ``random_seed=1``, the same way on
   every graph (``pynetim_imm``). On nethept its time is mostly Python work and follows the
   load: 2.44 s wall on the idle machine (14:49 UTC), 9.29 and 9.12 s wall (CPU 2.32 and 3.28 s) in
   this afternoon's two loaded runs; the README quotes 1.35 s.

Goals of issue #8, honestly: spread ≥ 99 % of the best known — holds for the
worst of 5 runs on every graph, thinly on netphy (1395.4 = 99.03 %) and enron (99.06 %);
the committed module had 99.2 % on netphy with 32 % more RR sets. ≥ 10× faster than pynetim's
IMM — holds on facebook, wikivote, enron and netphy; not on nethept (5.7× wall, 9.1× CPU here,
before 4.7× / 5.9×; 4.7× wall in the quiet window, where pynetim took 2.19 s).
Within 5× of the faster C++ tool — not met in CPU time on any graph (closest: enron 5.8×,
netphy 6.5×, wikivote 7.2×); in wall time netphy's 3.8× came at the quiet end of the run
(load ≈ 2), the other graphs ran at load 10-13 (wikivote 6.6× in the quiet window). Facebook
(52× CPU) is out of reach at 99 %: the floor above is ≈ 50k-70k RR sets at ≈ 2 µs CPU each
against SUBSIM's 0.006 s for 96 %. Gains of this change, same run: CPU −34 % nethept, −28 %
facebook, −33 % wikivote, −15 % enron, −31 % netphy; RR sets −6 % to −24 %, CPU per RR set
−3 % to −18 %.
Left to do: a stopping statistic whose link to the loss transfers between graphs (the RR-set
floor above is 1.5-3× below what the rule draws on four graphs), and cheaper RR sets (81 % of
the time).
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
