"""``MastodonProvider.watch`` against ``mastodon-mock``'s streaming API (server-sent events on
``/api/v1/streaming/user/notification``, read with Mastodon.py's ``StreamListener``): it
yields once connected and at each mention, not for other notifications, stops promptly, and
maps a refused token. The inbox's runner around it is tested in ``tests/inbox/test_streams.py``.
"""

from __future__ import annotations

import queue
import threading
import time

import pytest

from dialogo.providers.base import Draft
from dialogo.providers.errors import ReauthRequired, TransientError
from dialogo.providers.mastodon.provider import MastodonProvider
from tests.providers.mastodon.conftest import ProviderFor

DEADLINE = 10.0


class Watcher:
    """Runs ``watch`` in a thread and counts its wake-ups."""

    def __init__(self, provider: MastodonProvider) -> None:
        self.stop = threading.Event()
        self.wakeups: queue.Queue[float] = queue.Queue()
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._run, args=(provider,), daemon=True)
        self.thread.start()

    def _run(self, provider: MastodonProvider) -> None:
        try:
            for _ in provider.watch(self.stop):
                self.wakeups.put(time.monotonic())
        except BaseException as exc:
            self.error = exc

    def next(self) -> float:
        try:
            return self.wakeups.get(timeout=DEADLINE)
        except queue.Empty:
            pytest.fail(f"no wake-up in {DEADLINE} s (error: {self.error!r})")

    def none_within(self, seconds: float) -> bool:
        try:
            self.wakeups.get(timeout=seconds)
        except queue.Empty:
            return True
        return False


def test_the_stream_wakes_on_mentions_only(provider_for: ProviderFor) -> None:
    alice, bob = provider_for("alice"), provider_for("bob")
    alice.verify()
    watcher = Watcher(alice)
    try:
        watcher.next()  # connected
        bob.client.post_status("@alice una domanda: spedite in Svizzera?")
        watcher.next()
        bob.client.post_status("@alice in privato", visibility="direct")
        watcher.next()
        # A favourite is a notification but no message: the poll would fetch nothing.
        post = alice.publish(Draft(text="Nuova miscela"))
        bob.client.call("favourite", lambda: bob.client.api.status_favourite(post.remote_id))
        assert watcher.none_within(1.0)
        # What woke it is what the poll reads.
        assert {m.text for m in alice.fetch_messages(None).messages} >= {
            "@alice una domanda: spedite in Svizzera?",
            "@alice in privato",
        }
    finally:
        watcher.stop.set()
        watcher.thread.join(5.0)
    assert not watcher.thread.is_alive(), "the stream did not stop"
    assert watcher.error is None


def test_stopping_closes_the_stream_promptly(provider_for: ProviderFor) -> None:
    alice = provider_for("alice")
    watcher = Watcher(alice)
    watcher.next()
    stopping = time.monotonic()
    watcher.stop.set()
    watcher.thread.join(5.0)
    assert not watcher.thread.is_alive()
    # Well inside the 15-second heartbeat: the connection was closed, not waited out.
    assert time.monotonic() - stopping < 5.0
    assert watcher.error is None


def test_a_wrong_token_asks_for_reauthentication(provider_for: ProviderFor) -> None:
    stranger = provider_for("nobody")
    with pytest.raises(ReauthRequired):
        next(stranger.watch(threading.Event()))


def test_a_connection_that_breaks_raises_a_transient_error(provider_for: ProviderFor) -> None:
    alice = provider_for("alice")
    stop = threading.Event()
    stream = alice.watch(stop)
    next(stream)  # connected
    # The connection drops under the reader (as when the server or a proxy cuts it).
    frame = stream.gi_frame
    assert frame is not None
    frame.f_locals["response"].raw._fp.fp.raw._sock.shutdown(2)
    with pytest.raises(TransientError):
        next(stream)
    stop.set()
