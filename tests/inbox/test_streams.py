"""Streams wake the poller: a stream event enqueues the channel's ingest job now; the poll
from the stored cursor stores what came, once. Runs on committed data (the worker and the
streams have their own sessions and threads), on SQLite and PostgreSQL.

The network here is the in-process inbox fake with a scripted stream; the same runner against a
real Synapse is in ``tests/providers/matrix/test_streams_integration.py``.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import queue
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from dialogo.channels.crypto import CredentialCipher
from dialogo.channels.models import Channel, ChannelStatus
from dialogo.core.clock import SystemClock
from dialogo.inbox import tasks
from dialogo.inbox.models import IngestCursor, Message
from dialogo.inbox.streams import StreamRunner
from dialogo.jobs.models import Job, JobStatus
from dialogo.jobs.registry import TaskRegistry
from dialogo.providers.base import Provider
from dialogo.providers.errors import ReauthRequired, TransientError
from dialogo.providers.registry import ProviderRegistry
from dialogo.worker.runner import Worker, run_in_thread
from tests.factories import make_user, make_workspace
from tests.inbox.conftest import InboxNetwork
from tests.publishing.conftest import connect
from tests.worker.support import LiveDb, open_live_db, wait_for

DEADLINE = 20.0


class StreamingNetwork(InboxNetwork):
    """The inbox fake, plus a stream the test drives: put ``"wake"`` on ``stream`` to say
    something arrived, or an exception for the stream to raise."""

    def __init__(self, name: str = "streamnet") -> None:
        super().__init__(name)
        self.stream: queue.Queue[Any] = queue.Queue()
        self.opened = 0
        self.ended = 0
        self.counts = threading.Lock()

    def provider_class(self) -> type[Provider]:
        base = super().provider_class()
        network = self

        class StreamingProvider(base):  # type: ignore[valid-type, misc]
            capabilities = dataclasses.replace(base.capabilities, streams=True)

            def watch(self, stop: threading.Event) -> Iterator[None]:
                with network.counts:
                    network.opened += 1
                try:
                    yield  # (re)started: whatever came meanwhile is fetched by the poll
                    while not stop.is_set():
                        try:
                            action = network.stream.get(timeout=0.02)
                        except queue.Empty:
                            continue
                        if isinstance(action, Exception):
                            raise action
                        yield
                finally:
                    with network.counts:
                        network.ended += 1

        return StreamingProvider


@dataclasses.dataclass
class Rig:
    live: LiveDb
    network: StreamingNetwork
    providers: ProviderRegistry
    channel_id: int
    workspace_id: int
    worker: Worker
    runner: StreamRunner
    threads: list[threading.Thread]

    def messages(self) -> list[Message]:
        with self.live.factory() as session:
            return list(
                session.scalars(select(Message).where(Message.channel_id == self.channel_id))
            )

    def stored(self, remote_id: str) -> bool:
        return any(m.remote_id == remote_id for m in self.messages())

    def ingest_jobs(self, *, stream: bool) -> int:
        marker = Job.unique_key.like(f"{tasks.INGEST_TASK}:{self.channel_id}:stream:%")
        with self.live.factory() as session:
            return int(
                session.scalar(
                    select(func.count())
                    .select_from(Job)
                    .where(
                        Job.task == tasks.INGEST_TASK,
                        Job.unique_key.like(f"{tasks.INGEST_TASK}:{self.channel_id}:%"),
                        marker if stream else ~marker,
                    )
                )
                or 0
            )

    def idle(self) -> bool:
        with self.live.factory() as session:
            return not session.scalar(
                select(func.count())
                .select_from(Job)
                .where(
                    Job.task.in_([tasks.INGEST_TASK, tasks.TICK_TASK]),
                    Job.status.in_([JobStatus.queued.value, JobStatus.running.value]),
                )
            )


def start_rig(live: LiveDb, *, backoff_cap: float = 5.0) -> Rig:
    network = StreamingNetwork()
    providers = ProviderRegistry({network.name: network.provider_class()})
    cipher = CredentialCipher.from_settings(live.settings)
    with live.write() as session:
        owner = make_user(session)
        workspace = make_workspace(session, owner)
        account = network.add_account("caffe_aurora")
        channel = connect(session, owner, workspace.id, network, providers, cipher, account)
        channel_id, workspace_id = channel.id, workspace.id
    registry = TaskRegistry()
    # The periodic tick polls once at start, then not for a day: whatever arrives later in
    # these tests is fetched because a stream woke the poller.
    tasks.register(registry, providers=lambda _s: providers, every=dt.timedelta(days=1))
    worker = Worker(live.settings, live.factory, registry, clock=SystemClock())
    runner = StreamRunner(
        live.settings,
        live.factory,
        providers=lambda _s: providers,
        backoff_base=0.05,
        backoff_cap=backoff_cap,
    )
    rig = Rig(live, network, providers, channel_id, workspace_id, worker, runner, [])
    rig.threads.append(run_in_thread(worker))
    rig.threads.append(runner.start())
    return rig


@pytest.fixture
def live(fresh_database: str, tmp_path: Path) -> Iterator[LiveDb]:
    db = open_live_db(
        fresh_database, tmp_path, worker_poll_seconds=0.05, streams_refresh_seconds=0.1
    )
    try:
        yield db
    finally:
        db.engine.dispose()


@pytest.fixture
def rig(live: LiveDb) -> Iterator[Rig]:
    rig = start_rig(live)
    try:
        yield rig
    finally:
        rig.runner.stop()
        rig.worker.stop()
        for thread in rig.threads:
            thread.join(15)


def wait_streaming(rig: Rig) -> None:
    """Until the channel's stream is up, and the tick's poll and the poll the stream woke at
    its start are done."""

    def started() -> bool:
        state = rig.runner.streams().get(rig.channel_id)
        return state is not None and state.wakeups >= 1

    wait_for(started, timeout=DEADLINE, message="the channel's stream never started")
    wait_for(
        lambda: rig.ingest_jobs(stream=False) == 1 and rig.idle(),
        timeout=DEADLINE,
        message="the first polls never finished",
    )


def test_a_stream_event_gets_the_message_in_without_the_periodic_poll(rig: Rig) -> None:
    wait_streaming(rig)
    with rig.live.factory() as session:
        assert session.get(IngestCursor, rig.channel_id) is not None
    before = rig.ingest_jobs(stream=True)
    rig.network.message("Is the shop open on Sunday?", remote_id="m-1")
    rig.network.stream.put("wake")
    wait_for(lambda: rig.stored("m-1"), timeout=DEADLINE, message="m-1 never reached the inbox")
    assert rig.ingest_jobs(stream=True) == before + 1
    assert rig.ingest_jobs(stream=False) == 1  # the tick's one poll at start, no other
    # A stream event for something the poll already stored stores nothing twice.
    rig.network.stream.put("wake")
    wait_for(
        lambda: rig.ingest_jobs(stream=True) == before + 2 and rig.idle(),
        timeout=DEADLINE,
        message="the second wake-up was never polled",
    )
    assert [m.remote_id for m in rig.messages()] == ["m-1"]


def test_a_stream_that_fails_is_restarted_and_nothing_is_lost_or_doubled(rig: Rig) -> None:
    wait_streaming(rig)
    # The stream breaks, and messages arrive while it is down.
    rig.network.stream.put(TransientError("the stream broke", network=rig.network.name))
    rig.network.message("first", remote_id="m-1")
    rig.network.message("second", remote_id="m-2")
    wait_for(
        lambda: rig.runner.streams()[rig.channel_id].restarts >= 1 and rig.network.opened >= 2,
        timeout=DEADLINE,
        message="the stream was never restarted",
    )
    # Its restart woke the poller, which fetched what came while it was down.
    wait_for(
        lambda: rig.stored("m-1") and rig.stored("m-2"),
        timeout=DEADLINE,
        message="what came while the stream was down never arrived",
    )
    state = rig.runner.streams()[rig.channel_id]
    assert state.last_error == "the stream broke"
    rig.network.message("third", remote_id="m-3")
    rig.network.stream.put("wake")
    wait_for(lambda: rig.stored("m-3"), timeout=DEADLINE, message="m-3 never arrived")
    wait_for(rig.idle, timeout=DEADLINE, message="the polls never finished")
    assert sorted(m.remote_id for m in rig.messages()) == ["m-1", "m-2", "m-3"]
    with rig.network.counts:
        assert rig.network.ended == rig.network.opened - 1  # the broken one ended, one runs


def test_stopping_ends_every_stream_promptly(rig: Rig) -> None:
    wait_streaming(rig)
    [state] = rig.runner.streams().values()
    rig.runner.stop()
    # A stream notices within its provider's stop check (0.02 s here, 0.1 s for Matrix); the
    # generous bound only keeps a loaded machine from failing the test.
    assert rig.runner.join(5.0), "the streams did not stop"
    assert state.thread is not None and not state.thread.is_alive()
    assert rig.runner.streams() == {}
    with rig.network.counts:
        assert rig.network.ended == rig.network.opened


def test_the_channel_list_is_re_read(rig: Rig) -> None:
    wait_streaming(rig)
    [first] = rig.runner.streams().values()
    # A channel flagged for re-authorisation is not streamed any more.
    with rig.live.write() as session:
        channel = session.get(Channel, rig.channel_id)
        assert channel is not None
        channel.status = ChannelStatus.reauth_required.value
    rig.runner.refresh()
    wait_for(
        lambda: rig.channel_id not in rig.runner.streams(),
        timeout=DEADLINE,
        message="the flagged channel kept its stream",
    )
    assert first.thread is not None
    first.thread.join(5.0)
    assert not first.thread.is_alive()
    # Working again: streamed again, by a new stream.
    with rig.live.write() as session:
        channel = session.get(Channel, rig.channel_id)
        assert channel is not None
        channel.status = ChannelStatus.ok.value
    rig.runner.refresh()
    wait_for(
        lambda: rig.channel_id in rig.runner.streams(),
        timeout=DEADLINE,
        message="the channel was not streamed again",
    )
    assert rig.runner.streams()[rig.channel_id] is not first


def test_a_refused_stream_wakes_the_poll_that_flags_the_channel(live: LiveDb) -> None:
    """The stream does not flag the channel itself: the poll it wakes meets the same refusal
    and flags it (with the team's notification), and the stream is then dropped."""
    rig = start_rig(live, backoff_cap=60.0)
    try:
        wait_streaming(rig)
        rig.network.fail_next(ReauthRequired("token revoked", network=rig.network.name))
        rig.network.stream.put(ReauthRequired("token revoked", network=rig.network.name))

        def flagged() -> bool:
            with live.factory() as session:
                channel = session.get(Channel, rig.channel_id)
                return channel is not None and channel.status != ChannelStatus.ok.value

        wait_for(flagged, timeout=DEADLINE, message="the channel was never flagged")
        wait_for(
            lambda: rig.channel_id not in rig.runner.streams(),
            timeout=DEADLINE,
            message="the flagged channel kept its stream",
        )
        assert rig.network.opened == 1  # waited (backoff cap), never knocked again
    finally:
        rig.runner.stop()
        rig.worker.stop()
        for thread in rig.threads:
            thread.join(15)


def test_wakeups_coalesce_while_a_poll_waits(db: Session) -> None:
    owner = make_user(db)
    workspace = make_workspace(db, owner)
    channel = Channel(
        workspace_id=workspace.id,
        network="streamnet",
        name="c",
        account_remote_id="a",
        account_handle="a",
        credentials="x",
    )
    db.add(channel)
    db.flush()
    now = dt.datetime.now(dt.UTC)
    first = tasks.enqueue_wakeup(db, channel.id, workspace.id, now=now)
    assert first is not None
    assert tasks.enqueue_wakeup(db, channel.id, workspace.id, now=now) is None
    # Once that poll runs it may have fetched before the news: a new wake-up counts.
    job = db.get(Job, first)
    assert job is not None
    job.status = JobStatus.running.value
    db.flush()
    second = tasks.enqueue_wakeup(db, channel.id, workspace.id, now=now)
    assert second is not None and second != first
    # A queued job of another channel does not count.
    other = Channel(
        workspace_id=workspace.id,
        network="streamnet",
        name="d",
        account_remote_id="b",
        account_handle="b",
        credentials="x",
    )
    db.add(other)
    db.flush()
    assert tasks.enqueue_wakeup(db, other.id, workspace.id, now=now) is not None


def _streams_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "dialogo-streams"]


@pytest.mark.parametrize("enabled", [True, False])
def test_serve_runs_the_streams_beside_its_worker_unless_turned_off(
    live: LiveDb, enabled: bool
) -> None:
    from fastapi.testclient import TestClient

    from dialogo.core.context import AppContext
    from dialogo.server import create_app

    settings = live.settings.model_copy(update={"streams": enabled})
    ctx = AppContext(settings, live.engine, live.factory, SystemClock())
    before = set(_streams_threads())
    with TestClient(create_app(ctx, run_worker=True)) as client:
        assert client.get("/health").status_code == 200
        started = [t for t in _streams_threads() if t not in before]
        assert len(started) == (1 if enabled else 0)
    for thread in started:  # leaving the lifespan stopped them
        assert not thread.is_alive()
