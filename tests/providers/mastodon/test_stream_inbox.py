"""The inbox's stream for Mastodon against ``mastodon-mock``: bob mentions alice and the
mention is in alice's inbox within seconds, with no periodic poll due (the tick polls once a
day here), because the notification stream woke the poller. On committed data, with a real
worker thread and the stream runner, on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import pytest
from mastodon_mock.testing.server import MockServer
from sqlalchemy import select

from dialogo.accounts import service as accounts
from dialogo.channels import service as channels
from dialogo.channels.crypto import CredentialCipher
from dialogo.channels.schemas import ChannelConnect, ChannelCredentialsIn
from dialogo.core.clock import SystemClock
from dialogo.inbox import tasks
from dialogo.inbox.models import IngestCursor, Message
from dialogo.inbox.streams import StreamRunner
from dialogo.jobs.models import Job
from dialogo.jobs.registry import TaskRegistry
from dialogo.providers.mastodon.provider import MastodonProvider
from dialogo.providers.registry import ProviderRegistry
from dialogo.worker.runner import Worker, run_in_thread
from tests.factories import make_user, make_workspace
from tests.providers.mastodon.conftest import ProviderFor
from tests.worker.support import LiveDb, streaming_live_db, wait_for

#: Far below the tick's period (a day): only a stream can bring a message in this soon.
ARRIVAL_DEADLINE = 15.0


@pytest.fixture
def live(fresh_database: str, tmp_path: Path) -> Iterator[LiveDb]:
    yield from streaming_live_db(fresh_database, tmp_path)


def test_a_mention_arrives_in_seconds_through_the_stream(
    server: MockServer, provider_for: ProviderFor, live: LiveDb
) -> None:
    registry = ProviderRegistry(
        {"mastodon": MastodonProvider}, outbound=live.settings.outbound_policy
    )
    cipher = CredentialCipher.from_settings(live.settings)
    with live.write() as session:
        owner = make_user(session)
        workspace = make_workspace(session, owner)
        channel = channels.connect_channel(
            session,
            accounts.Principal.for_user(owner),
            workspace.id,
            ChannelConnect(
                network="mastodon",
                credentials=ChannelCredentialsIn(access_token="alice_token"),
                config={"instance_url": server.base_url},
            ),
            registry=registry,
            cipher=cipher,
        )
        channel_id = channel.id
    task_registry = TaskRegistry()
    tasks.register(task_registry, providers=lambda _s: registry, every=dt.timedelta(days=1))
    worker = Worker(live.settings, live.factory, task_registry, clock=SystemClock())
    runner = StreamRunner(live.settings, live.factory, providers=lambda _s: registry)
    threads = [run_in_thread(worker), runner.start()]
    bob = provider_for("bob")

    def stored() -> list[str]:
        with live.factory() as session:
            return list(
                session.scalars(select(Message.text).where(Message.channel_id == channel_id))
            )

    def polled() -> bool:
        with live.factory() as session:
            return session.get(IngestCursor, channel_id) is not None

    try:
        wait_for(
            lambda: channel_id in runner.streams() and polled(),
            timeout=30,
            message="the stream or the first poll never started",
        )
        bob.client.post_status("@alice avete la miscela decaffeinata?")
        wait_for(
            lambda: "@alice avete la miscela decaffeinata?" in stored(),
            timeout=ARRIVAL_DEADLINE,
            message="the mention never reached the inbox through the stream",
        )
        bob.client.post_status("@alice e in grani?", visibility="direct")
        wait_for(
            lambda: "@alice e in grani?" in stored(),
            timeout=ARRIVAL_DEADLINE,
            message="the direct message never reached the inbox through the stream",
        )
        with live.factory() as session:
            keys = list(
                session.scalars(
                    select(Job.unique_key).where(
                        Job.unique_key.like(f"{tasks.INGEST_TASK}:{channel_id}:%")
                    )
                )
            )
        assert sum(":stream:" not in (k or "") for k in keys) == 1  # the tick's one poll
        runner.stop()
        assert runner.join(10.0)
    finally:
        runner.stop()
        worker.stop()
        for thread in threads:
            thread.join(15)
    assert sorted(stored()) == ["@alice avete la miscela decaffeinata?", "@alice e in grani?"]
