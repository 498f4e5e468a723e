"""Chaos: worker processes are killed with SIGKILL at random moments while posts are
dispatched, and the network sometimes times out after accepting a post. At the end every
post is on the network exactly once and every unknown outcome was reconciled.

The network is :class:`SharedFakeNetwork`, a SQLite file every worker process writes to, so
what reached the network survives the kills. 1,000 posts by default (about a minute);
``DIALOGO_CHAOS_POSTS=10000`` for the issue's 10,000. Runs on both backends: SQLite too,
since several processes on one SQLite file with SIGKILLs is exactly what it must survive.

Run as a script (``python tests/publishing/test_chaos.py URL NETWORK``), it is one worker.

The issue's 10,000, run on 2026-12-06 (2 cores shared, load average 13-17)::

    PG=postgresql+psycopg://postgres@127.0.0.1:54329/dialogo_full_pub
    DIALOGO_CHAOS_POSTS=10000 DIALOGO_TEST_DATABASE_URL=$PG \
        .venv/bin/pytest -q -s tests/publishing/test_chaos.py
    DIALOGO_CHAOS_POSTS=10000 .venv/bin/pytest -q -s tests/publishing/test_chaos.py

- PostgreSQL: passed in 166 s, "10000 posts, 12 kills, 317 lost answers, 367 checks";
- SQLite: passed in 112 s, "10000 posts, 12 kills, 274 lost answers, 274 checks".

An earlier PostgreSQL run (before the lane's sending deadline was measured from the claim's
start, see ``publishing/tasks.py``) failed once: one post of 10,000 was published twice
(``chaos-1167``); the run after it passed. The lease here is 3 s, so a claim or a publish
slowed by about 2 s on a loaded machine was enough for another worker to take a variant over
while its request was still out. Since then no request may outlive two thirds of its lease
(:mod:`dialogo.providers.deadline`; the test that failed without it is
``test_a_request_never_outlives_its_lease_so_a_slow_network_is_not_posted_twice``), and
the 10,000 were run again on PostgreSQL on 2026-12-06 at 11:06 UTC, load average 15-18 with
the benchmark and other suites running beside it: passed in 143 s, "10000 posts, 12 kills,
294 lost answers, 294 checks".

That bound was not enough: on SQLite one run in three at load average 32 still published a
post twice (``chaos-225``). A worker stalled for more than the last third of its lease
between its last check and its request reaching the network (here: waiting for the
network's write lock, which this fake took *after* the check) was overtaken by a takeover
that asked the network at once, found nothing and sent again. Made deterministic by
``test_a_worker_frozen_after_its_last_check_past_its_lease_is_not_followed_by_a_repost``
(``test_dispatcher.py``). Since then the deadline is checked last just before the request's
first byte (here: under the network's write lock, :meth:`SharedFakeNetwork.publish`), and a
claim holds its variants a takeover fence longer than its lane works
(``dispatcher.TAKEOVER_FENCE``, where the exact guarantee is stated).

A second cause showed once the dispatcher got faster (2026-12-06, 16:39-16:42 UTC, two runs
of five doubled 3 and 2 posts): a check that came 6-8 s after a lost answer listed the
account's 50 most recent posts, but 54-57 had been posted on that account since, so the
lost post was not among them and was sent again. A check now reads further back while
every post listed is newer than the attempt (``dispatcher._find_on_network``).

With both, 2026-12-06 16:44-16:52 UTC, load average 10-14 (other suites beside them):
SQLite passed three times in 107 s, 67 s and 118 s ("10000 posts, 12 kills, 274 lost
answers, 286 checks"; "299, 301"; "313, 332"), PostgreSQL once in 116 s ("279 lost
answers, 289 checks").

Listing requests ("checks") per lost answer, 10,000 posts, 2026-12-06 22:05-22:23 UTC, load
average 3-6, each run's pace (and so how busy an account is when a check comes) varying with
the load: asking for 50, then 200, 800, 1,000 posts, each asking from the newest page (the
commit before ``recent_posts(since=…)``): 9.0, 21.9, 3.4 on SQLite, 4.3, 3.2, 22.1 on
PostgreSQL; one asking back to 5 minutes before the attempt (the clock skew; here an account
makes its 500 posts in well under that, so it read whole accounts): 20.2, 15.4 and 16.9,
14.6; back to the attempt, then to the skew only when that proves nothing (as now,
``dispatcher._find_on_network``): 7.9, 1.7 on SQLite, 1.8, 1.5 on PostgreSQL. Every run
passed.
"""

from __future__ import annotations

import datetime as dt
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sqlalchemy import func, insert, select

from dialogo.accounts.audit import install
from dialogo.channels.crypto import CredentialCipher
from dialogo.channels.models import Channel
from dialogo.core.config import Environment, load_settings
from dialogo.core.db import make_engine, make_session_factory, transaction
from dialogo.providers.base import Credentials
from dialogo.providers.registry import ProviderRegistry
from dialogo.providers.testing import SharedFakeNetwork
from dialogo.publishing.models import Post, PostVariant

NETWORK = "chaosnet"
CHANNELS = 20
LOSE_RATIO = 0.03
SETTINGS = {
    "worker_lease_seconds": 3,
    "worker_heartbeat_seconds": 0.3,
    "worker_poll_seconds": 0.05,
    "worker_backoff_base_seconds": 0.5,
}


def run_worker(url: str, network_path: str) -> None:  # pragma: no cover - a subprocess
    import httpx

    from dialogo.jobs.registry import TaskRegistry
    from dialogo.publishing import dispatcher, tasks
    from dialogo.worker.runner import Worker

    install()
    settings = load_settings(database_url=url)
    factory = make_session_factory(make_engine(settings))
    network = SharedFakeNetwork(network_path, NETWORK, lose_ratio=LOSE_RATIO)
    providers = ProviderRegistry({NETWORK: network.provider_class()})
    registry = TaskRegistry()
    tasks.register(
        registry,
        providers=lambda _s: providers,
        http=httpx.Client(),
        every=dt.timedelta(seconds=1),
        batch=50,
    )
    dispatcher.RECONCILE_DELAY = dt.timedelta(seconds=0.5)
    worker = Worker(settings, factory, registry)
    signal.signal(signal.SIGTERM, lambda *_: worker.stop())
    worker.run()


def populate(factory, settings, posts: int) -> None:  # type: ignore[no-untyped-def]
    from dialogo.accounts import service as accounts
    from dialogo.accounts.schemas import UserCreate, WorkspaceCreate

    cipher = CredentialCipher.from_settings(settings)
    with transaction(factory) as session:
        owner = accounts.create_user(
            session, UserCreate(email="chaos@example.com", password="x" * 16, name="Chaos")
        )
        ws = accounts.create_workspace(
            session, accounts.Principal.for_user(owner), WorkspaceCreate(name="Chaos")
        ).id
        handles = [f"acct{n}" for n in range(CHANNELS)]
        session.execute(
            insert(Channel),
            [
                {
                    "workspace_id": ws,
                    "network": NETWORK,
                    "name": h,
                    "account_remote_id": h,
                    "account_handle": h,
                    "config": {},
                    "credentials": cipher.encrypt(
                        Credentials(access_token=SharedFakeNetwork.token(h), account_id=h)
                    ),
                    "status": "ok",
                }
                for h in handles
            ],
        )
        channel_ids = list(session.scalars(select(Channel.id).order_by(Channel.id)))
        now = dt.datetime.now(dt.UTC)
        for start in range(0, posts, 2000):
            count = min(2000, posts - start)
            ids = session.scalars(
                insert(Post).returning(Post.id),
                [
                    {
                        "workspace_id": ws,
                        "status": "scheduled",
                        "scheduled_at": now,
                        "approval_step": 0,
                        "created_at": now,
                        "updated_at": now,
                    }
                    for _ in range(count)
                ],
            ).all()
            session.execute(
                insert(PostVariant),
                [
                    {
                        "post_id": post_id,
                        "workspace_id": ws,
                        "channel_id": channel_ids[(start + i) % CHANNELS],
                        "network": NETWORK,
                        # Same text on many posts: only the idempotency key tells them apart.
                        "text": f"chaos {(start + i) % 7}",
                        "media": [],
                        "thread": [],
                        "thread_ids": [],
                        "status": "scheduled",
                        "due_at": now,
                        "idempotency_key": f"chaos-{start + i}",
                        "dispatch_round": 0,
                        "needs_check": False,
                        "attempts": 0,
                        "updated_at": now,
                    }
                    for i, post_id in enumerate(ids)
                ],
            )


@pytest.mark.integration
@pytest.mark.slow
def test_killed_workers_and_lost_answers_publish_every_post_exactly_once(
    fresh_database: str, tmp_path: Path
) -> None:
    from tests.worker.support import worker_env

    posts = int(os.environ.get("DIALOGO_CHAOS_POSTS", "1000"))
    env = worker_env(fresh_database, **SETTINGS)
    settings = load_settings(
        env=Environment.test,
        database_url=fresh_database,
        data_dir=tmp_path,
        secret_key=env["DIALOGO_SECRET_KEY"],
    )
    engine = make_engine(settings)
    factory = make_session_factory(engine)
    net_path = str(tmp_path / "network.sqlite3")
    network = SharedFakeNetwork(net_path, NETWORK)
    populate(factory, settings, posts)
    rng = random.Random(int(os.environ.get("DIALOGO_CHAOS_SEED", "4")))
    procs: list[subprocess.Popen[bytes]] = []
    logs = tmp_path / "logs"
    logs.mkdir()

    def start() -> None:
        with open(logs / f"w{len(procs)}.log", "wb") as log:
            procs.append(
                subprocess.Popen(
                    [sys.executable, __file__, fresh_database, net_path],
                    cwd=tmp_path,
                    env=env,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                )
            )

    def unfinished() -> int:
        with factory() as session:
            return int(
                session.scalar(
                    select(func.count())
                    .select_from(PostVariant)
                    .where(PostVariant.status != "published")
                )
                or 0
            )

    kills = 0
    try:
        for _ in range(3):
            start()
        deadline = time.monotonic() + 60 + posts / 20
        while unfinished() and time.monotonic() < deadline:
            time.sleep(rng.uniform(0.3, 1.5))
            live = [p for p in procs if p.poll() is None]
            if kills < 12 and live and unfinished():
                victim = rng.choice(live)
                victim.send_signal(signal.SIGKILL)
                victim.wait(timeout=10)
                kills += 1
                start()
        left = unfinished()
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in procs:
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
    output = "\n".join(p.read_text(errors="replace")[-2000:] for p in sorted(logs.iterdir()))
    assert left == 0, f"{left} posts not published\n{output}"
    assert kills >= 3, "the workers finished before enough of them were killed"
    doubled = network.rows("SELECT key, count(*) FROM posts GROUP BY key HAVING count(*) > 1")
    assert doubled == [], f"published more than once: {doubled[:10]}"
    on_network = dict(network.rows("SELECT key, 's' || id FROM posts"))
    assert len(on_network) == posts
    with factory() as session:
        variants = session.execute(
            select(PostVariant.idempotency_key, PostVariant.remote_id, PostVariant.status)
        ).all()
    assert {v.status for v in variants} == {"published"}
    assert all(on_network[v.idempotency_key] == v.remote_id for v in variants)
    lost = [key for (key,) in network.rows("SELECT key FROM posts WHERE lost = 1")]
    assert lost, "the network never lost an answer"
    checks = network.rows("SELECT count(*) FROM calls WHERE op = 'recent_posts'")[0][0]
    assert checks >= len(lost)  # every unknown outcome was reconciled by asking the network
    print(f"chaos: {posts} posts, {kills} kills, {len(lost)} lost answers, {checks} checks")
    engine.dispose()


if __name__ == "__main__":  # pragma: no cover
    run_worker(sys.argv[1], sys.argv[2])
