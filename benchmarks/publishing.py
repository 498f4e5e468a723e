"""Benchmark of the publishing dispatcher: posts due over many channels, dispatched by the real
worker code (periodic tick → publishing lanes claiming batches) against an in-process fake network
that records every call, so the figure measures the dispatcher and the database, not HTTP.

    python benchmarks/publishing.py                      # 100,000 posts, 1,000 channels
    python benchmarks/publishing.py --posts 5000 --channels 100 --workers 1,4 \
        --postgres postgresql+psycopg://postgres@127.0.0.1:54329/postgres

SQLite runs one worker (what ``dialogo serve`` runs in-process); PostgreSQL runs each count in
``--workers`` as separate processes. Every worker process has its own copy of the fake network
(the same accounts and tokens) and reports what it published; duplicates and lost posts are
counted over all of them by idempotency key. The baseline is the database's bare rate of the
same state transition (claim with ``SKIP LOCKED``, mark published) with no dispatcher, one
at a time and in batches of 50, in one process. Prints a table; it is not a timed test.
"""

from __future__ import annotations

import argparse
import datetime as dt
import multiprocessing as mp
import statistics
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import create_engine, func, insert, make_url, select, text, update

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
from dialogo.worker.runner import Worker

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


def remaining(factory: Any) -> int:
    with factory() as session:
        return int(
            session.scalar(
                select(func.count())
                .select_from(PostVariant)
                .where(PostVariant.status.not_in(["published", "failed", "cancelled"]))
            )
            or 0
        )


def worker_process(url: str, data_dir: str, channels: int, index: int, out: Any) -> None:
    install()
    settings = settings_for(url, Path(data_dir))
    engine = make_engine(settings)
    factory = make_session_factory(engine)
    network = make_network(channels)
    providers = ProviderRegistry({"fakenet": network.provider_class()})
    registry = TaskRegistry()
    tasks.register(registry, providers=lambda _s: providers, http=httpx.Client())
    worker = Worker(settings, factory, registry, worker_id=f"bench:{index}:{uuid.uuid4().hex[:6]}")
    thread = threading.Thread(target=worker.run, daemon=True)
    thread.start()
    while remaining(factory):
        time.sleep(0.2)
    worker.stop()
    thread.join(timeout=60)
    out.put([(p.idempotency_key, p.remote_id) for p in network.posts])
    engine.dispose()


def dispatch(url: str, data_dir: Path, posts: int, channels: int, workers: int) -> dict[str, Any]:
    settings = settings_for(url, data_dir)
    due = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=3)
    populate(settings, posts, channels, due)
    ctx = mp.get_context("fork")
    out = ctx.Queue()
    procs = [
        ctx.Process(target=worker_process, args=(url, str(data_dir), channels, n, out))
        for n in range(workers)
    ]
    for proc in procs:
        proc.start()
    published: list[tuple[str | None, str]] = []
    for _ in procs:
        published.extend(out.get())
    for proc in procs:
        proc.join()
    engine = make_engine(settings)
    with engine.connect() as conn:
        rows = conn.execute(
            select(PostVariant.due_at, PostVariant.published_at, PostVariant.status)
        ).all()
    engine.dispose()
    done = [r for r in rows if r.status == "published" and r.published_at is not None]
    first = due
    last = max(_aware(r.published_at) for r in done) if done else due
    lateness = sorted((_aware(r.published_at) - _aware(r.due_at)).total_seconds() for r in done)
    keys = [k for k, _ in published]
    duplicates = len(keys) - len(set(keys))
    lost = posts - len(set(keys))
    elapsed = max((last - first).total_seconds(), 1e-9)
    return {
        "posts_s": len(done) / elapsed,
        "p50": _pct(lateness, 50),
        "p99": _pct(lateness, 99),
        "duplicates": duplicates,
        "lost": lost,
        "not_published_rows": posts - len(done),
    }


def baseline(url: str, data_dir: Path, posts: int, channels: int, batch: int) -> float:
    """The bare state transition: claim due variants with SKIP LOCKED, mark them published."""
    settings = settings_for(url, data_dir)
    populate(settings, posts, channels, dt.datetime.now(dt.UTC))
    engine = make_engine(settings)
    pg = engine.dialect.name == "postgresql"
    started = time.perf_counter()
    done = 0
    while True:
        with engine.begin() as conn:
            inner = (
                select(PostVariant.id)
                .where(PostVariant.status == "scheduled")
                .order_by(PostVariant.due_at, PostVariant.id)
                .limit(batch)
            )
            if pg:
                inner = inner.with_for_update(skip_locked=True)
            ids = conn.execute(
                update(PostVariant)
                .where(PostVariant.id.in_(inner.scalar_subquery()))
                .values(status="published", published_at=func.now())
                .returning(PostVariant.id)
            ).all()
        if not ids:
            break
        done += len(ids)
    elapsed = time.perf_counter() - started
    engine.dispose()
    return done / elapsed


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
        f"{'p99 s':>7} {'dups':>5} {'lost':>5} {'bare 1/s':>9} {'bare 50/s':>10}"
    )
    print(f"{args.posts:,} posts due over {args.channels:,} channels")
    print(header)
    print("-" * len(header))
    for backend, workers, admin in runs:
        with Scratch(admin, tmp) as url:
            result = dispatch(url, tmp, args.posts, args.channels, workers)
        bare = []
        for batch in (1, 50):
            with Scratch(admin, tmp) as url:
                bare.append(baseline(url, tmp, min(args.posts, 20_000), args.channels, batch))
        print(
            f"{backend:<11} {workers:>7} {args.posts:>8,} {result['posts_s']:>9.0f} "
            f"{result['p50']:>7.2f} {result['p99']:>7.2f} {result['duplicates']:>5} "
            f"{result['lost']:>5} {bare[0]:>9.0f} {bare[1]:>10.0f}",
            flush=True,
        )
    sys.exit(0)


if __name__ == "__main__":
    main()
