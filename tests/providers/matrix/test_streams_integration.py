"""The inbox's stream for Matrix against a real Synapse: another person writes in the room and
the message is in the inbox within seconds, with no periodic poll due (the tick polls once a
day here), because the long-polling ``/sync`` woke the poller. On committed data, with a real
worker thread and the stream runner, on SQLite and PostgreSQL.
"""

from __future__ import annotations

import datetime as dt
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import func, select

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
from dialogo.providers.errors import TransientError
from dialogo.providers.matrix.provider import MatrixProvider
from dialogo.providers.registry import ProviderRegistry
from dialogo.worker.runner import Worker, run_in_thread
from tests.factories import make_user, make_workspace
from tests.providers.matrix.synapse import SynapseServer
from tests.providers.matrix.test_integration import HttpUser
from tests.worker.support import LiveDb, streaming_live_db, wait_for

pytestmark = [pytest.mark.integration, pytest.mark.slow]

#: Far below the tick's period (a day): only a stream can bring a message in this soon.
ARRIVAL_DEADLINE = 15.0


class FlakyMatrix(MatrixProvider):
    """The Matrix provider, whose stream breaks once when the test asks: right when news
    arrives, before it could wake anyone."""

    break_next = threading.Event()

    def watch(self, stop: threading.Event) -> Iterator[None]:
        first = True
        for _ in super().watch(stop):
            if not first and FlakyMatrix.break_next.is_set():
                FlakyMatrix.break_next.clear()
                raise TransientError("the stream broke (test)", network="matrix")
            first = False
            yield


@pytest.fixture
def live(fresh_database: str, tmp_path: Path) -> Iterator[LiveDb]:
    yield from streaming_live_db(fresh_database, tmp_path)


def test_a_message_arrives_in_seconds_through_the_stream(
    synapse: SynapseServer, live: LiveDb
) -> None:
    suffix = uuid.uuid4().hex[:6]
    a_login = synapse.register(f"astream{suffix}")
    alice = HttpUser(synapse, a_login)
    bob = HttpUser(synapse, synapse.register(f"bstream{suffix}"))
    room_id = alice.create_room(invite=[bob.user_id])
    bob.join(room_id)

    registry = ProviderRegistry({"matrix": FlakyMatrix}, outbound=live.settings.outbound_policy)
    cipher = CredentialCipher.from_settings(live.settings)
    with live.write() as session:
        owner = make_user(session)
        workspace = make_workspace(session, owner)
        channel = channels.connect_channel(
            session,
            accounts.Principal.for_user(owner),
            workspace.id,
            ChannelConnect(
                network="matrix",
                credentials=ChannelCredentialsIn(access_token=a_login.access_token),
                config={"homeserver": synapse.url, "room_id": room_id},
            ),
            registry=registry,
            cipher=cipher,
        )
        channel_id = channel.id

    tick_every = dt.timedelta(days=1)
    task_registry = TaskRegistry()
    tasks.register(task_registry, providers=lambda _s: registry, every=tick_every)
    worker = Worker(live.settings, live.factory, task_registry, clock=SystemClock())
    runner = StreamRunner(
        live.settings, live.factory, providers=lambda _s: registry, backoff_base=0.1
    )
    threads = [run_in_thread(worker), runner.start()]

    def stored() -> list[str]:
        with live.factory() as session:
            return list(
                session.scalars(select(Message.remote_id).where(Message.channel_id == channel_id))
            )

    def ingest_jobs() -> int:
        with live.factory() as session:
            return int(
                session.scalar(
                    select(func.count())
                    .select_from(Job)
                    .where(Job.unique_key.like(f"{tasks.INGEST_TASK}:{channel_id}:%"))
                )
                or 0
            )

    def cursor() -> str | None:
        with live.factory() as session:
            row = session.get(IngestCursor, channel_id)
            return row.cursor if row is not None else None

    try:
        # The tick's one poll, and the poll the stream's start woke, set the cursor.
        wait_for(
            lambda: channel_id in runner.streams() and cursor() is not None,
            timeout=60,
            message="the stream or the first poll never started",
        )
        assert stored() == []
        assert ingest_jobs() <= 2

        # Bob writes: the stream's long poll returns, the poller is woken, the message is in.
        started = time.monotonic()
        first = bob.send(room_id, {"msgtype": "m.text", "body": "Ciao! Siete aperti domani?"})
        wait_for(
            lambda: first in stored(),
            timeout=ARRIVAL_DEADLINE,
            message="the message never reached the inbox through the stream",
        )
        latency = time.monotonic() - started
        print(f"matrix stream: message in the inbox {latency:.2f} s after it was sent")
        # No periodic poll was due: every ingest job after the first one came from the stream.
        with live.factory() as session:
            keys = list(
                session.scalars(
                    select(Job.unique_key).where(
                        Job.unique_key.like(f"{tasks.INGEST_TASK}:{channel_id}:%")
                    )
                )
            )
        assert sum(":stream:" not in (k or "") for k in keys) == 1

        # The stream breaks right when the next message arrives: it is restarted, its restart
        # wakes the poller, and the message is stored once.
        FlakyMatrix.break_next.set()
        second = bob.send(room_id, {"msgtype": "m.text", "body": "E dopodomani?"})
        wait_for(
            lambda: second in stored(),
            timeout=ARRIVAL_DEADLINE,
            message="the message sent as the stream broke never arrived",
        )
        state = runner.streams()[channel_id]
        assert state.restarts == 1
        assert state.last_error == "the stream broke (test)"
        third = bob.send(room_id, {"msgtype": "m.text", "body": "Grazie!"})
        wait_for(
            lambda: third in stored(),
            timeout=ARRIVAL_DEADLINE,
            message="the restarted stream did not bring the next message",
        )
        assert sorted(stored()) == sorted([first, second, third])

        # Stopping abandons the 30-second long poll at once.
        stopping = time.monotonic()
        runner.stop()
        assert runner.join(10.0)
        print(f"matrix stream: stopped {time.monotonic() - stopping:.2f} s after stop()")
    finally:
        FlakyMatrix.break_next.clear()
        runner.stop()
        worker.stop()
        for thread in threads:
            thread.join(15)
        alice.http.close()
        bob.http.close()
    assert sorted(stored()) == sorted([first, second, third])
