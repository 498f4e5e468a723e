"""Benchmark of what per-app rate limits cost the dispatcher's claim: the claim of a batch
(``dispatcher.claim_batch``, 200 variants, rolled back after each run so every run sees the
same state) with the app-limit look-up (``app_limits.limited_channel_ids``: one query joining
the live windows to the channels), against the named baseline **the same claim with the
look-up switched off** (patched to return nothing), side by side in one run, and the look-up
alone ("look-up ms", in a transaction of its own).

    python benchmarks/app_limits.py
    python benchmarks/app_limits.py --postgres postgresql+psycopg://postgres@127.0.0.1:54329/postgres

The data: ``--posts`` variants due over ``--channels`` channels spread over ``--apps`` apps
(``config["client_id"]``), set up by ``benchmarks/publishing.py``'s ``populate``. Rows: no
window at all (the common case), and one app limited (its channels skipped by the claim).
Prints medians over ``--runs`` pairs (which of the two goes first alternates) and the load
average; not a timed test.

Measured on 2026-12-06 at 10:55 UTC, 2 cores shared by about 8 engineers, load average 16-18
(so differences below a few milliseconds are noise: the look-up alone is 0.18 ms against
0.05 ms for ``SELECT 1`` on SQLite measured apart)::

    database    windows        claimed    claim ms  baseline ms  ratio look-up ms           load
    sqlite      no window          200       71.77        70.66   1.02       0.85 17.5 17.0 13.0
    sqlite      1 app limited      200       57.26        48.78   1.17       9.74 17.2 17.0 13.0
    postgresql  no window          200      132.69       126.58   1.05       7.59 16.9 16.9 13.1
    postgresql  1 app limited      200      133.38       113.04   1.18      11.93 15.8 16.7 13.1

With no window (the usual case) the claim costs what it did; with a live window, finding the
app's channels by their JSON ``client_id`` reads every channel (no index on it): about a sixth
of a claim here (partial: a stored, indexed app column would remove it).
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sqlalchemy import select, update

from dialogo.channels import app_limits
from dialogo.channels.models import Channel
from dialogo.core.db import make_engine, make_session_factory
from dialogo.publishing import dispatcher
from publishing import Scratch, populate, settings_for  # benchmarks/publishing.py


def _claim_time(factory: Any, now: dt.datetime) -> tuple[float, int]:
    with factory() as session:
        started = time.perf_counter()
        batch = dispatcher.claim_batch(
            session, "bench", now=now, lease=dt.timedelta(seconds=60), limit=200
        )
        elapsed = time.perf_counter() - started
        session.rollback()
    return elapsed, len(batch.variants)


def measure(url: str, tmp: Path, posts: int, channels: int, apps: int, runs: int) -> list[str]:
    settings = settings_for(url, tmp)
    due = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=1)
    populate(settings, posts, channels, due)
    engine = make_engine(settings)
    factory = make_session_factory(engine)
    with factory.begin() as session:
        for channel_id in session.scalars(select(Channel.id)):
            session.execute(
                update(Channel)
                .where(Channel.id == channel_id)
                .values(config={"client_id": f"app-{channel_id % apps}"})
            )
    now = dt.datetime.now(dt.UTC)
    real: Callable[..., set[int]] = app_limits.limited_channel_ids
    rows = []
    for label, window in (("no window", False), ("1 app limited", True)):
        if window:
            with factory.begin() as session:
                app_limits.note(
                    session,
                    [
                        app_limits.Note(
                            "fakenet", "app-1", "app", now + dt.timedelta(hours=1), 100, {}
                        )
                    ],
                    now=now,
                )
        with_lookup, without, alone, claimed = [], [], [], 0
        for run in range(runs):
            # Alternate which goes first: the second claim of a pair finds warmer caches.
            for lookup in (True, False) if run % 2 == 0 else (False, True):
                off: Callable[..., set[int]] = lambda _s, _n: set()  # noqa: E731
                app_limits.limited_channel_ids = real if lookup else off  # type: ignore[assignment]
                elapsed, count = _claim_time(factory, now)
                (with_lookup if lookup else without).append(elapsed)
                claimed = count if lookup else claimed
            with factory() as session:
                started = time.perf_counter()
                real(session, now)
                alone.append(time.perf_counter() - started)
        app_limits.limited_channel_ids = real  # type: ignore[assignment]
        a, b = statistics.median(with_lookup) * 1000, statistics.median(without) * 1000
        c = statistics.median(alone) * 1000
        rows.append(
            f"{engine.dialect.name:<11} {label:<14} {claimed:>7} {a:>11.2f} {b:>12.2f} "
            f"{a / b:>6.2f} {c:>10.2f} {' '.join(f'{x:.1f}' for x in os.getloadavg()):>14}"
        )
    engine.dispose()
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--posts", type=int, default=20_000)
    parser.add_argument("--channels", type=int, default=1_000)
    parser.add_argument("--apps", type=int, default=10)
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--postgres", default=None, help="admin URL of a PostgreSQL server")
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="dialogo-bench-"))
    print(
        f"{args.posts:,} variants due over {args.channels:,} channels of {args.apps} apps; "
        f"medians of {args.runs} claims of 200"
    )
    header = (
        f"{'database':<11} {'windows':<14} {'claimed':>7} {'claim ms':>11} {'baseline ms':>12} "
        f"{'ratio':>6} {'look-up ms':>10} {'load':>14}"
    )
    print(header)
    print("-" * len(header), flush=True)
    for admin in [None] + ([args.postgres] if args.postgres else []):
        with Scratch(admin, tmp) as url:
            for row in measure(url, tmp, args.posts, args.channels, args.apps, args.runs):
                print(row, flush=True)


if __name__ == "__main__":
    main()
