"""Benchmark of the sandbox simulation: building worlds, generating history, forecasting.

    python benchmarks/simulation.py                  # 10,000 (baseline), 20,000, 100,000 people
    python benchmarks/simulation.py --sizes 5000 50000 --days 30

Each world runs in a fresh child process, so "peak MB" is that process's own peak resident
memory (interpreter and numpy included). The first size is the named baseline: the "× base"
columns divide each run's total time (build + history) and peak memory by the baseline's, so a
simulation that scales linearly with people shows a time factor close to the size factor.
Prints a table; it is not a timed test.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
GRAPHS = ROOT.parent / "shared" / "data" / "graphs"


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: kilobytes


def run_world(people: int, days: int, seed: int) -> dict[str, float]:
    from dialogo.simulation import Message, World, WorldConfig

    started = time.perf_counter()
    world = World(WorldConfig(seed=seed, population=people, history_days=days))
    built = time.perf_counter() - started
    started = time.perf_counter()
    events = messages = 0
    for event in world.history():
        events += 1
        messages += isinstance(event, Message)
    history = time.perf_counter() - started
    started = time.perf_counter()
    truth = json.dumps(world.ground_truth())
    truth_s = time.perf_counter() - started
    return {
        "people": people,
        "arcs": world.graph.m,
        "days": days,
        "build_s": built,
        "events": events,
        "messages": messages,
        "history_s": history,
        "truth_s": truth_s,
        "truth_mb": len(truth) / 1e6,
        "peak_mb": _peak_mb(),
    }


def run_whatif(people: int, seed: int, runs: int) -> dict[str, float]:
    from dialogo.simulation import Campaign, PlannedPost, World, WorldConfig, forecast

    world = World(WorldConfig(seed=seed, population=people))
    at = world.config.start + dt.timedelta(days=30, hours=7)
    campaign = Campaign(
        posts=tuple(
            PlannedPost(at=at + dt.timedelta(days=k), topic=t, media=True)
            for k, t in enumerate(("coffee", "running", "sustainability"))
        ),
        budget_eur=60.0,
        advocates=tuple(range(10)),
    )
    started = time.perf_counter()
    result = forecast(world, campaign, runs=runs)
    elapsed = time.perf_counter() - started
    reach = result.totals["reach"]
    return {
        "people": people,
        "runs": runs,
        "posts": len(campaign.posts),
        "seconds": elapsed,
        "reach_p10": reach.low,
        "reach_p50": reach.median,
        "reach_p90": reach.high,
        "peak_mb": _peak_mb(),
    }


def run_cascades(runs: int) -> list[dict[str, float | str]]:
    import numpy as np

    from dialogo.simulation import load_edge_list, spread, weighted_cascade

    rows: list[dict[str, float | str]] = []
    for path in sorted(GRAPHS.glob("*.txt.gz")):
        graph = load_edge_list(path)
        p = weighted_cascade(graph)
        seeds = np.argsort(-graph.out_degree())[:50]
        started = time.perf_counter()
        sizes = spread(graph, p, seeds, np.random.default_rng(0), runs=runs)
        elapsed = time.perf_counter() - started
        rows.append(
            {
                "graph": path.name.removesuffix(".txt.gz"),
                "nodes": graph.n,
                "arcs": graph.m,
                "ms_per_cascade": 1000 * elapsed / runs,
                "mean_spread": float(sizes.mean()),
            }
        )
    return rows


def _child(kind: str, *args: str) -> dict[str, float]:
    code = (
        "import json, sys; sys.path.insert(0, sys.argv[1]);"
        "import simulation as b;"
        f"print(json.dumps(b.{kind}(*map(int, sys.argv[2:]))))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code, str(Path(__file__).parent), *args],
        check=True,
        capture_output=True,
        text=True,
    )
    result: dict[str, float] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def _table(rows: list[dict[str, float | str]], columns: list[tuple[str, str, str]]) -> None:
    cells = [
        [f"{row[key]:{fmt}}" if fmt else str(row[key]) for key, _, fmt in columns] for row in rows
    ]
    widths = [
        max(len(title), *(len(line[c]) for line in cells))
        for c, (_, title, _) in enumerate(columns)
    ]
    print(" | ".join(title.rjust(w) for (_, title, _), w in zip(columns, widths, strict=True)))
    print("-+-".join("-" * w for w in widths))
    for line in cells:
        print(" | ".join(cell.rjust(w) for cell, w in zip(line, widths, strict=True)))
    print()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 20_000, 100_000])
    parser.add_argument("--days", type=int, default=90)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--forecast-runs", type=int, default=200)
    parser.add_argument("--cascade-runs", type=int, default=200)
    args = parser.parse_args()

    print(f"Sandbox simulation benchmark ({args.days} days of history, seed {args.seed})\n")
    worlds = [_child("run_world", str(n), str(args.days), str(args.seed)) for n in args.sizes]
    base = worlds[0]
    base_total = base["build_s"] + base["history_s"]
    for row in worlds:
        row["events_per_s"] = row["events"] / row["history_s"]
        row["label"] = "baseline" if row is base else f"{row['people'] / base['people']:g}× people"
        row["time_x"] = (row["build_s"] + row["history_s"]) / base_total
        row["memory_x"] = row["peak_mb"] / base["peak_mb"]
        row["us_per_person_day"] = (
            1e6 * (row["build_s"] + row["history_s"]) / (row["people"] * row["days"])
        )
    print(f"Baseline: the same run at {base['people']:,.0f} people\n")
    _table(
        worlds,  # type: ignore[arg-type]
        [
            ("label", "run", ""),
            ("people", "world size", ",.0f"),
            ("arcs", "follow arcs", ",.0f"),
            ("build_s", "build s", ".2f"),
            ("events", "events", ",.0f"),
            ("messages", "messages", ",.0f"),
            ("history_s", "history s", ".2f"),
            ("events_per_s", "events/s", ",.0f"),
            ("truth_s", "truth s", ".2f"),
            ("truth_mb", "truth JSON MB", ".1f"),
            ("peak_mb", "peak MB", ".0f"),
            ("us_per_person_day", "µs/person-day", ".2f"),
            ("time_x", "time × base", ".1f"),
            ("memory_x", "memory × base", ".1f"),
        ],
    )
    print("What-if forecast (3 posts, €60 budget, 10 advocates)\n")
    whatif = [_child("run_whatif", str(args.sizes[0]), str(args.seed), str(args.forecast_runs))]
    _table(
        whatif,  # type: ignore[arg-type]
        [
            ("people", "world size", ",.0f"),
            ("runs", "runs", ".0f"),
            ("seconds", "seconds", ".2f"),
            ("reach_p10", "reach p10", ",.0f"),
            ("reach_p50", "reach p50", ",.0f"),
            ("reach_p90", "reach p90", ",.0f"),
            ("peak_mb", "peak MB", ".0f"),
        ],
    )
    if GRAPHS.exists():
        runs = args.cascade_runs
        print(f"Independent cascade (weighted cascade, 50 top-degree seeds, {runs} runs)\n")
        _table(
            run_cascades(args.cascade_runs),
            [
                ("graph", "graph", ""),
                ("nodes", "nodes", ",.0f"),
                ("arcs", "arcs", ",.0f"),
                ("ms_per_cascade", "ms/cascade", ".2f"),
                ("mean_spread", "mean spread", ",.0f"),
            ],
        )
    else:
        print(f"(no real graphs at {GRAPHS}: cascade rows skipped)")


if __name__ == "__main__":
    main()
