"""Benchmark of the publishing dispatcher: posts due over many channels, dispatched by the real
worker code (periodic tick → publishing lanes claiming batches) against an in-process fake network
that records every call, so the figure measures the dispatcher and the database, not HTTP.

    python benchmarks/publishing.py --postgres postgresql+psycopg://postgres@127.0.0.1:54329/postgres
    python benchmarks/publishing.py --posts 5000 --channels 100 --workers 1,4 \
        --postgres postgresql+psycopg://postgres@127.0.0.1:54329/postgres

Defaults: 100,000 posts over 1,000 channels. SQLite runs one worker, as ``dialogo serve`` runs
it (a thread, ``run_in_thread``); PostgreSQL runs each count in ``--workers`` as separate
processes. The lanes get no shared HTTP client, so each channel's client is built as in
production. Every worker process has its own copy of the fake network (the same accounts and
tokens) and reports what it published; duplicates and lost posts are counted over all of them
by idempotency key. All posts fall due at one moment a few seconds after they are written, so
lateness (the claim's time minus ``due_at``) is mostly the time to drain that backlog: p99 is
about posts / (posts/s), and "p99 < 1 s" can only be met by 100,000 posts due at once at
100,000 posts/s. posts/s is posts over (last one out − due).

The baseline, right after each row with the same number of processes: the database's bare
rate of the same state transition (claim the earliest due with ``SKIP LOCKED``, mark
published) with no dispatcher, one at a time ("bare 1/s") and in batches of 50 ("bare 50/s"),
on ``--bare-posts`` rows for at most ``--bare-seconds``; "vs 50" is posts/s over bare 50/s.
Prints a table; it is not a timed test.

Measured on 2026-12-06, 2 cores shared by about 8 engineers, the load average between 3 and 20
(quoted per run; compare rows of one run only: the issue's bare 38,000/s in batches of 50 with
4 processes measured 5,420/s at load 17 and 13,029/s at load 5 here):

Run 1, full size, before the claim index of migration 0015 (06:55-07:20 UTC; load average
16.2 at the start, 14.4-20.3 during the rows, 17.4 at the end)::

    database   workers    posts posts/s  p50 s  p99 s dups lost bare 1/s bare 50/s vs 50
    sqlite           1  100,000     491 151.96 202.93    0    0       79      2593  0.19
    postgresql       1  100,000     255 212.37 389.43    0    0       16       817  0.31
    postgresql       4  100,000     306 191.45 324.49    0    0       94      5420  0.06

Run 2, full size, with the index (07:26-07:39 UTC, PostgreSQL rows; load average 12.2 at the
start, 12.7-16.8 and 13.3-11.6 during the rows, 12.0 at the end)::

    database   workers    posts posts/s  p50 s  p99 s dups lost bare 1/s bare 50/s vs 50
    postgresql       1  100,000     349 132.08 283.38    0    0       34      1627  0.21
    postgresql       4  100,000     843  70.75 117.11    0    0      564      5266  0.16

Run 3, full size, with the index, SQLite (07:40-07:42 UTC; the machine had quietened: load
average 10.7 at the start, 9.3-6.6 during the row, 6.3 at the end)::

    database   workers    posts posts/s  p50 s  p99 s dups lost bare 1/s bare 50/s vs 50
    sqlite           1  100,000    2072  28.14  47.73    0    0      237     11829  0.18

Run 4, full size, with the index, PostgreSQL again on the quieter machine (07:44-07:49 UTC;
load average 3.1 at the start, 4.6-6.1 and 5.1-4.6 during the rows, 4.1 at the end)::

    database   workers    posts posts/s  p50 s  p99 s dups lost bare 1/s bare 50/s vs 50
    postgresql       1  100,000    1048  53.18  93.97    0    0      382      5621  0.19
    postgresql       4  100,000    2436  29.70  40.52    0    0     1193     13029  0.19

The goal (10,000 posts/s with 4 workers on PostgreSQL) is not met: 2,436 posts/s, a fifth of
the bare batched rate measured beside it. Most likely left, from a cProfile of one lane: the
per-post Python work (outcome objects, parameter arrays, the roll-up) and claims serialised by
the advisory lock; not measured further.
"""

from __future__ import annotations

import argparse
import datetime as dt
import multiprocessing as mp
import os
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

from sqlalchemy import any_, create_engine, func, insert, make_url, select, text, update

from dialogo.accounts import service as accounts
from dialogo.accounts.audit import install
from dialogo.accounts.schemas import UserCreate, WorkspaceCreate
from dialogo.channels.crypto import CredentialCipher
from dialogo.channels.models import Channel
from dialogo.core.config import Environment, Settings, load_settings
from dialogo.core.db import make_engine, make_session_factory, transaction
from dialogo.db import migrate
from dialogo.jobs.registry import TaskRegistry
from dialogo.providers.base import Credentials
from dialogo.providers.registry import ProviderRegistry
from dialogo.providers.testing import FakeNetwork
from dialogo.publishing import tasks
from dialogo.publishing.models import Post, PostVariant
from dialogo.worker.runner import Worker, run_in_thread

SECRET = "benchmark-secret-" + "z" * 40


def settings_for(url: str, data_dir: Path) -> Settings:
    return load_settings(
        env=Environment.test,
        data_dir=data_dir,
        database_url=url,
        secret_key=SECRET,
        worker_poll_seconds=0.05,
        worker_lease_seconds=60,
    )


def make_network(channels: int) -> FakeNetwork:
    """The same accounts and tokens in every process."""
    network = FakeNetwork("fakenet", token_lifetime=None)
    for n in range(channels):
        account = network.add_account(f"acct{n}")
        account.access_token = f"token-{n}"
    return network


def populate(settings: Settings, posts: int, channels: int, due: dt.datetime) -> None:
    engine = make_engine(settings)
    migrate.upgrade(engine)
    factory = make_session_factory(engine)
    cipher = CredentialCipher.from_settings(settings)
    network = make_network(channels)
    with transaction(factory) as session:
        owner = accounts.create_user(
            session, UserCreate(email="bench@example.com", password="x" * 16, name="Bench")
        )
        workspace = accounts.create_workspace(
            session, accounts.Principal.for_user(owner), WorkspaceCreate(name="Bench")
        )
        ws = workspace.id
        rows = []
        for n, account in enumerate(network.accounts.values()):
            rows.append(
                {
                    "workspace_id": ws,
                    "network": "fakenet",
                    "name": f"acct{n}",
                    "account_remote_id": account.remote_id,
                    "account_handle": account.handle,
                    "config": {},
                    "credentials": cipher.encrypt(
                        Credentials(access_token=account.access_token, account_id=account.handle)
                    ),
                    "status": "ok",
                }
            )
        session.execute(insert(Channel), rows)
        channel_ids = list(session.scalars(select(Channel.id).order_by(Channel.id)))
    now = dt.datetime.now(dt.UTC)
    chunk = 5000
    with engine.begin() as conn:
        for start in range(0, posts, chunk):
            count = min(chunk, posts - start)
            ids = conn.execute(
                insert(Post).returning(Post.id),
                [
                    {
                        "workspace_id": ws,
                        "status": "scheduled",
                        "scheduled_at": due,
                        "approval_step": 0,
                        "created_at": now,
                        "updated_at": now,
                    }
                    for _ in range(count)
                ],
            ).scalars()
            conn.execute(
                insert(PostVariant),
                [
                    {
                        "post_id": post_id,
                        "workspace_id": ws,
                        "channel_id": channel_ids[(start + i) % len(channel_ids)],
                        "network": "fakenet",
                        "text": f"post {start + i}",
                        "media": [],
                        "thread": [],
                        "thread_ids": [],
                        "status": "scheduled",
                        "due_at": due,
                        "idempotency_key": f"bench-{start + i}",
                        "dispatch_round": 0,
                        "needs_check": False,
                        "attempts": 0,
                        "updated_at": now,
                    }
                    for i, post_id in enumerate(ids)
                ],
            )
    engine.dispose()


_OPEN = ["scheduled", "queued", "unconfirmed", "waiting_channel"]


def unfinished(conn: Any) -> bool:
    """Whether a variant is still to be sent (an index look-up, cheap enough to poll)."""
    return (
        conn.execute(select(PostVariant.id).where(PostVariant.status.in_(_OPEN)).limit(1)).first()
        is not None
    )


def worker_process(url: str, data_dir: str, channels: int, index: int, done: Any, out: Any) -> None:
    """One worker as ``dialogo serve`` runs it (a thread of the process), on the fake network.

    No shared ``http`` client is given: the lanes make each channel's client as production
    does (one per channel for the lane's life), so that cost is measured too."""
    install()
    settings = settings_for(url, Path(data_dir))
    engine = make_engine(settings)
    factory = make_session_factory(engine)
    network = make_network(channels)
    providers = ProviderRegistry({"fakenet": network.provider_class()})
    registry = TaskRegistry()
    tasks.register(registry, providers=lambda _s: providers)
    worker = Worker(settings, factory, registry, worker_id=f"bench:{index}:{uuid.uuid4().hex[:6]}")
    thread = run_in_thread(worker)
    done.wait()
    worker.stop()
    thread.join(timeout=120)
    out.put([(p.idempotency_key, p.remote_id) for p in network.posts])
    engine.dispose()


def dispatch(url: str, data_dir: Path, posts: int, channels: int, workers: int) -> dict[str, Any]:
    settings = settings_for(url, data_dir)
    populate(settings, posts, channels, dt.datetime.now(dt.UTC) + dt.timedelta(days=1))
    engine = make_engine(settings)
    # Due a few seconds from now, once everything is written: the first tick sees them
    # coming and queues the lanes for that moment, as it does for posts scheduled ahead.
    due = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=4)
    with engine.begin() as conn:
        conn.execute(update(PostVariant).values(due_at=due))
        conn.execute(update(Post).values(scheduled_at=due))
    ctx = mp.get_context("fork")
    out = ctx.Queue()
    done = ctx.Event()
    procs = [
        ctx.Process(target=worker_process, args=(url, str(data_dir), channels, n, done, out))
        for n in range(workers)
    ]
    for proc in procs:
        proc.start()
    load_before = os.getloadavg()[0]
    with engine.connect() as conn:
        while True:
            time.sleep(0.25)
            if not unfinished(conn):
                break
            conn.rollback()
    finished = dt.datetime.now(dt.UTC)
    load_after = os.getloadavg()[0]
    done.set()
    published: list[tuple[str | None, str]] = []
    for _ in procs:
        published.extend(out.get())
    for proc in procs:
        proc.join()
    with engine.connect() as conn:
        rows = conn.execute(
            select(PostVariant.due_at, PostVariant.published_at, PostVariant.status)
        ).all()
    engine.dispose()
    done_rows = [r for r in rows if r.status == "published" and r.published_at is not None]
    # ``published_at`` is the moment the batch was claimed (its posts go out right after).
    lateness = sorted(
        (_aware(r.published_at) - _aware(r.due_at)).total_seconds() for r in done_rows
    )
    keys = [k for k, _ in published]
    elapsed = max((finished - due).total_seconds(), 1e-9)
    return {
        "posts_s": len(done_rows) / elapsed,
        "p50": _pct(lateness, 50),
        "p99": _pct(lateness, 99),
        "duplicates": len(keys) - len(set(keys)),
        "lost": posts - len(set(keys)),
        "not_published_rows": posts - len(done_rows),
        "load": (load_before, load_after),
    }


def _bare_process(url: str, batch: int, seconds: float, out: Any) -> None:
    engine = create_engine(url)
    pg = engine.dialect.name == "postgresql"
    done = 0
    started = time.perf_counter()
    while time.perf_counter() - started < seconds:
        with engine.begin() as conn:
            inner = (
                select(PostVariant.id)
                .where(PostVariant.status == "scheduled")
                .order_by(PostVariant.due_at, PostVariant.id)
                .limit(batch)
            )
            if pg:
                inner = inner.with_for_update(skip_locked=True)
                picked = PostVariant.id == any_(func.array(inner.scalar_subquery()))
            else:
                picked = PostVariant.id.in_(inner.scalar_subquery())
            ids = conn.execute(
                update(PostVariant)
                .where(picked)
                .values(status="published", published_at=func.now())
                .returning(PostVariant.id)
            ).all()
        if not ids:
            break
        done += len(ids)
    out.put((done, time.perf_counter() - started))
    engine.dispose()


def baseline(
    url: str, data_dir: Path, posts: int, channels: int, batch: int, procs: int, seconds: float
) -> float:
    """The bare state transition with no dispatcher: claim due variants with SKIP LOCKED and
    mark them published, ``batch`` per transaction, in ``procs`` processes for ``seconds``
    (or until none is left)."""
    settings = settings_for(url, data_dir)
    populate(settings, posts, channels, dt.datetime.now(dt.UTC))
    ctx = mp.get_context("fork")
    out = ctx.Queue()
    workers = [
        ctx.Process(target=_bare_process, args=(url, batch, seconds, out)) for _ in range(procs)
    ]
    started = time.perf_counter()
    for proc in workers:
        proc.start()
    done = sum(out.get()[0] for _ in workers)
    elapsed = time.perf_counter() - started
    for proc in workers:
        proc.join()
    return float(done) / elapsed


def _aware(value: dt.datetime) -> dt.datetime:
    return value if value.tzinfo else value.replace(tzinfo=dt.UTC)


def _pct(values: list[float], p: int) -> float:
    if not values:
        return float("nan")
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[p - 1]


class Scratch:
    """A database of its own: a SQLite file, or a PostgreSQL database dropped afterwards."""

    def __init__(self, pg_admin_url: str | None, tmp: Path) -> None:
        self.pg_admin_url, self.tmp = pg_admin_url, tmp

    def __enter__(self) -> str:
        if not self.pg_admin_url:
            self.name = str(self.tmp / f"bench-{uuid.uuid4().hex[:8]}.sqlite3")
            return f"sqlite:///{self.name}"
        self.name = f"dialogo_bench_{uuid.uuid4().hex[:10]}"
        admin = create_engine(self.pg_admin_url, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{self.name}"'))
        admin.dispose()
        return make_url(self.pg_admin_url).set(database=self.name).render_as_string(False)

    def __exit__(self, *exc: object) -> None:
        if self.pg_admin_url:
            admin = create_engine(self.pg_admin_url, isolation_level="AUTOCOMMIT")
            with admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)'))
            admin.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--posts", type=int, default=100_000)
    parser.add_argument("--channels", type=int, default=1_000)
    parser.add_argument("--workers", default="1,4", help="PostgreSQL worker processes")
    parser.add_argument("--postgres", default=None, help="admin URL of a PostgreSQL server")
    parser.add_argument("--no-sqlite", action="store_true")
    parser.add_argument(
        "--bare-posts", type=int, default=20_000, help="rows of each bare baseline run"
    )
    parser.add_argument(
        "--bare-seconds", type=float, default=15.0, help="time limit of each bare baseline run"
    )
    args = parser.parse_args()
    install()
    tmp = Path(tempfile.mkdtemp(prefix="dialogo-bench-"))
    runs: list[tuple[str, int, str | None]] = []
    if not args.no_sqlite:
        runs.append(("sqlite", 1, None))
    if args.postgres:
        runs += [("postgresql", int(n), args.postgres) for n in args.workers.split(",")]
    header = (
        f"{'database':<11} {'workers':>7} {'posts':>8} {'posts/s':>9} {'p50 s':>7} "
        f"{'p99 s':>7} {'dups':>5} {'lost':>5} {'bare 1/s':>9} {'bare 50/s':>10} "
        f"{'vs 50':>6} {'load':>10}"
    )
    print(f"{args.posts:,} posts due over {args.channels:,} channels", flush=True)
    print(f"load average at start: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    print(header)
    print("-" * len(header), flush=True)
    for backend, workers, admin in runs:
        with Scratch(admin, tmp) as url:
            result = dispatch(url, tmp, args.posts, args.channels, workers)
        # The baseline with the same number of processes, right after (same machine load).
        bare = []
        for batch in (1, 50):
            with Scratch(admin, tmp) as url:
                bare.append(
                    baseline(
                        url,
                        tmp,
                        min(args.posts, args.bare_posts),
                        args.channels,
                        batch,
                        workers,
                        args.bare_seconds,
                    )
                )
        load = f"{result['load'][0]:.1f}-{result['load'][1]:.1f}"
        print(
            f"{backend:<11} {workers:>7} {args.posts:>8,} {result['posts_s']:>9.0f} "
            f"{result['p50']:>7.2f} {result['p99']:>7.2f} {result['duplicates']:>5} "
            f"{result['lost']:>5} {bare[0]:>9.0f} {bare[1]:>10.0f} "
            f"{result['posts_s'] / bare[1]:>6.2f} {load:>10}",
            flush=True,
        )
    print(f"load average at end: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    sys.exit(0)


if __name__ == "__main__":
    main()
