"""Matrix calls honour the request deadline (the dispatcher's lease) like every httpx provider:
a slow homeserver is given up at the deadline, not after nio's own 20 s, and no call starts
once the deadline has passed."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator

import pytest

from dialogo.providers import deadline
from dialogo.providers.errors import OutcomeUnknown, TransientError
from dialogo.providers.matrix.client import DEFAULT_TIMEOUT, MatrixClient


class SlowHomeserver:
    """A loopback server that reads each request and never answers it (a homeserver stuck
    behind its load balancer); counts the connections it was sent."""

    def __init__(self) -> None:
        self._sock = socket.socket()
        self._sock.bind(("127.0.0.1", 0))
        self._sock.listen()
        self._sock.settimeout(0.05)
        self.url = f"http://127.0.0.1:{self._sock.getsockname()[1]}"
        self.requests = 0
        self._held: list[socket.socket] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self._sock.accept()
            except TimeoutError:
                continue
            conn.settimeout(1)
            try:
                if conn.recv(65536):
                    self.requests += 1
            except OSError:
                pass
            self._held.append(conn)  # kept open, never answered

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=2)
        for conn in self._held:
            conn.close()
        self._sock.close()


@pytest.fixture
def slow() -> Iterator[SlowHomeserver]:
    server = SlowHomeserver()
    yield server
    server.close()


def test_a_slow_homeserver_is_given_up_at_the_request_deadline(slow: SlowHomeserver) -> None:
    client = MatrixClient(slow.url, access_token="t")
    assert client.timeout == DEFAULT_TIMEOUT  # nio's own limit stays far beyond the deadline
    try:
        started = time.monotonic()
        with (
            deadline.request_deadline(started + 0.4),
            pytest.raises(OutcomeUnknown),  # the write left: its outcome is unknown
        ):
            client.send_event("!room:example.org", {"msgtype": "m.text", "body": "hi"})
        elapsed = time.monotonic() - started
        assert 0.3 < elapsed < 2.0, elapsed
        assert slow.requests == 1
        started = time.monotonic()
        with deadline.request_deadline(started + 0.3), pytest.raises(TransientError) as caught:
            client.whoami()  # a read cut short is a plain transient error
        assert not isinstance(caught.value, OutcomeUnknown)
        assert time.monotonic() - started < 2.0
    finally:
        client.close()


def test_no_call_starts_after_the_deadline(slow: SlowHomeserver) -> None:
    client = MatrixClient(slow.url, access_token="t")
    try:
        with (
            deadline.request_deadline(time.monotonic() - 0.1),
            pytest.raises(TransientError, match="deadline") as caught,
        ):
            client.send_event("!room:example.org", {"msgtype": "m.text", "body": "late"})
        assert not isinstance(caught.value, OutcomeUnknown)  # nothing was sent: safe to retry
        time.sleep(0.1)  # let the server thread see a connection, were there one
        assert slow.requests == 0
    finally:
        client.close()


def test_without_a_deadline_the_clients_own_timeout_applies(slow: SlowHomeserver) -> None:
    client = MatrixClient(slow.url, access_token="t", timeout=0.3)
    try:
        started = time.monotonic()
        with pytest.raises(OutcomeUnknown):
            client.send_event("!room:example.org", {"msgtype": "m.text", "body": "hi"})
        assert 0.2 < time.monotonic() - started < 2.0
        # a deadline later than the client's own timeout does not lengthen it
        started = time.monotonic()
        with deadline.request_deadline(started + 30), pytest.raises(OutcomeUnknown):
            client.send_event("!room:example.org", {"msgtype": "m.text", "body": "hi"})
        assert time.monotonic() - started < 2.0
    finally:
        client.close()
