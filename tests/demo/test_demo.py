"""``dialogo demo --no-serve`` on a small world: what it creates, that it is idempotent and
deterministic (two databases, same seed and end → same rows), that each registered domain step
left rows, that a scheduled demo post goes out through the real dispatcher against the sandbox,
and that bad options fail cleanly without creating anything."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import pytest
from click.testing import Result
from sqlalchemy import DateTime, Engine, inspect, select
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from dialogo.accounts.models import Membership, User, Workspace
from dialogo.channels.crypto import CredentialCipher
from dialogo.channels.models import Channel
from dialogo.channels.service import open_provider
from dialogo.cli.main import app
from dialogo.core.clock import FrozenClock
from dialogo.core.config import load_settings
from dialogo.core.db import Base, make_engine, make_session_factory
from dialogo.db import models as _all_models  # noqa: F401 (every table in Base.metadata)
from dialogo.demo.service import DEMO_EMAIL, DEMO_PASSWORD, DEMO_SLUG
from dialogo.demo.steps import DEMO_STEPS
from dialogo.jobs.registry import TaskRegistry
from dialogo.providers.registry import ProviderRegistry
from dialogo.providers.sandbox.provider import HISTORY_PREFIX, POST_PREFIX, SandboxProvider
from dialogo.publishing import tasks as publishing_tasks
from dialogo.publishing.models import Post, PostStatus, PostVariant, VariantStatus
from dialogo.worker.runner import Worker
from tests.conftest import PG_URL, TEST_SECRET, _scratch_postgres_database

pytestmark = pytest.mark.integration

END = "2026-03-02T11:00:00+00:00"  # the history ends here: fixed, so the test is repeatable
ARGS = ["demo", "--no-serve", "--population", "1500", "--seed", "7", "--end", END]
#: Domains whose demo step, once registered in DEMO_STEPS, must leave rows in their tables.
DOMAINS = ("inbox", "listening", "audience", "influence", "analytics", "nlp")
#: Columns that hold secrets, random keys or per-install paths: not part of "the same data".
VOLATILE = {"credentials", "password_hash", "token_hash", "idempotency_key", "config", "key"}
#: What the demo itself creates (the rest is the domains' steps' work).
DEMO_TABLES = (
    "users",
    "workspaces",
    "memberships",
    "channels",
    "campaigns",
    "posts",
    "post_variants",
    "post_approvals",
    "workspace_publishing_settings",
)
#: Tables written by the machinery (audit trail, sessions, jobs) rather than by the demo's data.
MACHINERY = {"audit_log", "web_sessions", "login_attempts", "jobs", "worker_heartbeats"}


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in list(os.environ):
        if name.startswith("DIALOGO_") and name != "DIALOGO_TEST_DATABASE_URL":
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)


class Demo:
    """One demo installation: a database of its own and a data folder."""

    def __init__(self, url: str, data_dir: Path) -> None:
        self.url = url
        self.env = {
            "DIALOGO_ENV": "test",
            "DIALOGO_SECRET_KEY": TEST_SECRET,
            "DIALOGO_DATA_DIR": str(data_dir),
            "DIALOGO_DATABASE_URL": url,
        }
        self.settings = load_settings(
            env="test", secret_key=TEST_SECRET, data_dir=data_dir, database_url=url
        )
        self.engine: Engine = make_engine(self.settings)

    def run(self, *args: str) -> Result:
        return CliRunner().invoke(app, list(args), env=self.env)

    def ok(self, *args: str) -> Result:
        result = self.run(*args)
        assert result.exit_code == 0, (result.output, result.exception)
        return result

    def session(self) -> Session:
        return make_session_factory(self.engine)()


@pytest.fixture
def demos(tmp_path: Path, database_url: str | None) -> Iterator[list[Demo]]:
    """Two installations; ``database_url`` marks the tests as database tests, so they run in
    the PostgreSQL pass too (each installation gets a scratch database of its own)."""
    made: list[Demo] = []
    with ExitStack() as stack:
        for n in range(2):
            if PG_URL:
                url = stack.enter_context(_scratch_postgres_database())
            else:
                url = f"sqlite:///{tmp_path / f'demo{n}.sqlite3'}"
            demo = Demo(url, tmp_path / f"data{n}")
            stack.callback(demo.engine.dispose)
            made.append(demo)
        yield made


def _normal(value: Any, window: tuple[dt.datetime, dt.datetime]) -> Any:
    """A value with wall-clock stamps (made while the demo ran) replaced by a marker."""
    if isinstance(value, dt.datetime):
        aware = value if value.tzinfo else value.replace(tzinfo=dt.UTC)
        return "<now>" if window[0] <= aware <= window[1] else aware.isoformat()
    if isinstance(value, bytes):
        return hashlib.sha256(value).hexdigest()
    return value


def snapshot(demo: Demo, window: tuple[dt.datetime, dt.datetime]) -> dict[str, tuple[int, str]]:
    """Per table: the row count and a hash of the rows' content (ordered by primary key)."""
    out: dict[str, tuple[int, str]] = {}
    with demo.engine.connect() as connection:
        inspector = inspect(connection)
        present = set(inspector.get_table_names())
        for table in Base.metadata.sorted_tables:
            if table.name in MACHINERY or table.name not in present:
                continue  # a table another domain has modelled but not migrated yet
            migrated = {c["name"] for c in inspector.get_columns(table.name)}
            columns = [c for c in table.columns if c.name not in VOLATILE and c.name in migrated]
            order = [c for c in table.primary_key.columns if c.name in migrated]
            rows = connection.execute(select(*columns).order_by(*order)).all()
            digest = hashlib.sha256()
            for row in rows:
                values = [
                    _normal(v, window) if not isinstance(c.type, DateTime) or v else v
                    for c, v in zip(columns, row, strict=True)
                ]
                digest.update(json.dumps(values, default=str, sort_keys=True).encode())
            out[table.name] = (len(rows), digest.hexdigest())
    return out


def test_the_demo_is_complete_idempotent_and_deterministic(demos: list[Demo]) -> None:
    first, second = demos
    before = dt.datetime.now(dt.UTC)
    output = first.ok(*ARGS).output
    assert f"Sign in as {DEMO_EMAIL} / {DEMO_PASSWORD} " in output

    with first.session() as session:
        workspace = session.scalar(select(Workspace).where(Workspace.slug == DEMO_SLUG))
        assert workspace is not None and workspace.timezone == "Europe/Rome"
        user = session.scalar(select(User).where(User.email == DEMO_EMAIL))
        assert user is not None
        role = session.scalar(
            select(Membership.role).where(
                Membership.workspace_id == workspace.id, Membership.user_id == user.id
            )
        )
        assert role == "owner"
        (channel,) = session.scalars(select(Channel).where(Channel.workspace_id == workspace.id))
        assert channel.network == "sandbox" and channel.status == "ok"
        assert channel.account_handle == "caffeaurora"
        assert channel.config["competitors"] == "vesuviocaffe,mokanera"
        assert "sim_now" not in channel.config  # the clock runs once the demo is built
        assert b"sandbox-demo" not in channel.credentials.encode()  # encrypted like any other
        cipher = CredentialCipher.from_settings(first.settings)
        assert cipher.decrypt(channel.credentials).access_token == "sandbox-demo"

        posts = session.scalars(select(Post).where(Post.workspace_id == workspace.id)).all()
        by_status: dict[str, list[Post]] = {}
        for post in posts:
            by_status.setdefault(post.status, []).append(post)
        published = by_status[PostStatus.published.value]
        end = dt.datetime.fromisoformat(END)
        start = end - dt.timedelta(days=90)
        assert 60 < len(published) < 300  # about 1.6 a day for 90 days
        for post in published:
            (variant,) = post.variants
            assert variant.remote_id is not None and variant.remote_id.startswith(HISTORY_PREFIX)
            assert variant.published_at is not None
            assert start <= variant.published_at.replace(tzinfo=dt.UTC) < end
            assert variant.text.strip()
        scheduled = by_status[PostStatus.scheduled.value]
        assert len(scheduled) == 8
        assert all(
            p.scheduled_at is not None and p.scheduled_at.replace(tzinfo=dt.UTC) > end
            for p in scheduled
        )
        assert len(by_status[PostStatus.pending_approval.value]) == 2
        assert len(by_status[PostStatus.draft.value]) == 2

        # The history's metrics come from the sandbox: the posts were seen and liked.
        registry = ProviderRegistry({"sandbox": SandboxProvider})
        with open_provider(session, channel, registry=registry, cipher=cipher) as provider:
            metrics = provider.fetch_metrics([p.variants[0].remote_id or "" for p in published])
        assert sum(m.impressions for m in metrics) > 0
        assert sum(m.likes for m in metrics) > 0
    after = dt.datetime.now(dt.UTC)

    snap = snapshot(first, (before, after))
    first.ok(*ARGS)  # again: nothing the demo made is made twice
    again = snapshot(first, (before, dt.datetime.now(dt.UTC)))
    assert {t: again[t] for t in DEMO_TABLES} == {t: snap[t] for t in DEMO_TABLES}
    # The domains' steps ran again on a clock that now runs: they may add what happened
    # since (new observations), never lose or duplicate what was there (their own tests).
    assert all(again[t][0] >= snap[t][0] for t in snap)

    second.ok(*ARGS)  # another database, same seed and end: the same data
    assert snapshot(second, (before, dt.datetime.now(dt.UTC))) == snap


@pytest.mark.parametrize("domain", DOMAINS)
def test_each_registered_domain_step_leaves_rows(demos: list[Demo], domain: str) -> None:
    steps = [s for s in DEMO_STEPS if s.startswith(f"dialogo.{domain}.")]
    if not steps:
        pytest.skip(f"no {domain} step in DEMO_STEPS yet")
    demo = demos[0]
    demo.ok(*ARGS)
    tables = [
        mapper.local_table
        for mapper in Base.registry.mappers
        if mapper.class_.__module__.startswith(f"dialogo.{domain}.")
    ]
    assert tables, f"dialogo.{domain} has no tables"
    with demo.engine.connect() as connection:
        filled = {
            t.name: n
            for t in tables
            if (n := len(connection.execute(select(*t.primary_key.columns)).all()))
        }
    assert filled, f"the {domain} step ({steps}) left every table of its domain empty"


def test_a_scheduled_demo_post_goes_out_through_the_dispatcher(demos: list[Demo]) -> None:
    """The publishing jobs (dispatcher tick and publish), run by a real worker whose clock
    reads the first scheduled post's time, publish it on the sandbox."""
    demo = demos[0]
    demo.ok(*ARGS)
    with demo.session() as session:
        variant = session.scalars(
            select(PostVariant)
            .where(PostVariant.status == VariantStatus.scheduled.value)
            .order_by(PostVariant.due_at)
        ).first()
        assert variant is not None and variant.due_at is not None
        variant_id, due = variant.id, variant.due_at.replace(tzinfo=dt.UTC)
    tasks = TaskRegistry()
    publishing_tasks.register(tasks)
    clock = FrozenClock(due + dt.timedelta(minutes=1))
    worker = Worker(demo.settings, make_session_factory(demo.engine), tasks, clock=clock)
    assert worker.run(max_jobs=20, idle_exit=True) >= 2
    registry = ProviderRegistry({"sandbox": SandboxProvider})
    cipher = CredentialCipher.from_settings(demo.settings)
    with demo.session() as session:
        variant = session.get(PostVariant, variant_id)
        assert variant is not None
        assert variant.status == VariantStatus.published.value, variant.last_error
        assert variant.remote_id is not None and variant.remote_id.startswith(POST_PREFIX)
        channel = session.get(Channel, variant.channel_id)
        assert channel is not None
        with open_provider(session, channel, registry=registry, cipher=cipher) as provider:
            assert variant.remote_id in [r.remote_id for r in provider.recent_posts()]
            (metrics,) = provider.fetch_metrics([variant.remote_id])
        assert metrics.remote_id == variant.remote_id


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--population", "10"], "at least 200 simulated people"),
        (["--end", "last tuesday"], "not an ISO 8601"),
        (["--speed", "0"], "speed must be positive"),
    ],
)
def test_bad_options_fail_cleanly_and_create_nothing(
    demos: list[Demo], args: list[str], message: str
) -> None:
    demo = demos[0]
    result = demo.run("demo", "--no-serve", *args)
    assert result.exit_code == 1, result.output
    assert message in result.output
    with demo.engine.connect() as connection:
        if "workspaces" in Base.metadata.tables:
            try:
                count = len(connection.execute(select(Workspace.id)).all())
            except Exception:
                count = 0
    assert count == 0


def test_ground_truth_of_the_demo_world_reads_back(demos: list[Demo], tmp_path: Path) -> None:
    from dialogo.simulation.truthfiles import read_truth

    demo = demos[0]
    demo.ok(*ARGS)
    out = tmp_path / "truth"
    printed = demo.ok("sandbox", "truth", "--out", str(out), "--workspace", DEMO_SLUG).output
    assert "messages.csv" in printed
    truth = read_truth(out)
    assert truth.world["seed"] == 7 and len(truth.people) == 1500
    assert truth.world["end"] == END  # the demo's world, whose history ends at --end
    # The demo's inbound messages are in the truth file: the sandbox's message ids.
    with demo.session() as session:
        channel = session.scalars(select(Channel)).one()
        registry = ProviderRegistry({"sandbox": SandboxProvider})
        cipher = CredentialCipher.from_settings(demo.settings)
        with open_provider(session, channel, registry=registry, cipher=cipher) as provider:
            page = provider.fetch_messages(
                (dt.datetime.fromisoformat(END) - dt.timedelta(days=3)).isoformat()
            )
    sentiment = truth.sentiment_of()
    assert page.messages
    for message in page.messages:
        if message.created_at < dt.datetime.fromisoformat(END):
            assert message.remote_id in sentiment


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--workspace", "nope"], "no workspace 'nope' with a sandbox channel"),
        (["--population", "10"], "at least 200 people"),
        (["--start", "yesterday"], "not an ISO 8601"),
    ],
)
def test_ground_truth_bad_input(
    demos: list[Demo], tmp_path: Path, args: list[str], message: str
) -> None:
    demo = demos[0]
    demo.ok("db", "upgrade")
    result = demo.run("sandbox", "truth", "--out", str(tmp_path / "t"), *args)
    assert result.exit_code == 1, result.output
    assert message in result.output
    assert not (tmp_path / "t").exists()
