"""The request deadline (the dispatcher's lease) bounds every request made under it."""

from __future__ import annotations

import socket
import threading
import time
import types
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import requests

from dialogo.providers import deadline
from dialogo.providers.mastodon.client import RecordingSession


def test_requests_under_a_deadline_wait_no_longer_than_it_and_none_starts_after_it() -> None:
    seen: list[dict[str, float]] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(dict(request.extensions["timeout"]))
        return httpx.Response(200)

    client = deadline.enforce(httpx.Client(transport=httpx.MockTransport(answer), timeout=20))
    assert deadline.enforce(client).event_hooks["request"].count(deadline.apply) == 1
    client.get("https://example.org/a")  # no deadline: the client's own timeouts
    assert seen[-1] == {"connect": 20, "read": 20, "write": 20, "pool": 20}
    with deadline.request_deadline(time.monotonic() + 2):
        client.post("https://example.org/b")
    assert all(0 < value <= 2 for value in seen[-1].values())
    with deadline.request_deadline(time.monotonic() - 0.1), pytest.raises(httpx.ConnectTimeout):
        client.post("https://example.org/c")
    assert len(seen) == 2  # the late one never left
    assert deadline.remaining() is None  # the deadline ends with its block


def test_the_mastodon_session_honours_the_deadline_too() -> None:
    session = RecordingSession()
    with (
        deadline.request_deadline(time.monotonic() - 0.1),
        pytest.raises(requests.exceptions.ConnectTimeout, match="deadline"),
    ):
        session.get("https://example.org/api/v1/statuses")


@pytest.fixture
def loopback() -> Iterator[tuple[str, list[bytes]]]:
    """A real HTTP server on loopback; the list holds the first bytes of every connection."""
    received: list[bytes] = []
    server = socket.create_server(("127.0.0.1", 0))
    server.settimeout(10)

    def serve() -> None:
        while True:
            try:
                conn, _ = server.accept()
            except OSError:
                return
            with conn:
                conn.settimeout(2)
                try:
                    data = conn.recv(65536)
                except OSError:
                    data = b""
                received.append(data)
                if data:
                    conn.sendall(
                        b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok"
                    )

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.getsockname()[1]}", received
    finally:
        server.close()
        thread.join(timeout=10)


def test_the_deadline_is_checked_again_just_before_the_first_byte_is_written(
    loopback: tuple[str, list[bytes]], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The request is built in time, then its worker is held (a pool wait, a slow connect, a
    process descheduled) past the deadline before writing: it is refused there, on a real
    connection, and not a byte of it reaches the server."""
    url, received = loopback
    offset = [0.0]
    monkeypatch.setattr(
        deadline, "time", types.SimpleNamespace(monotonic=lambda: time.monotonic() + offset[0])
    )

    def held(request: httpx.Request) -> None:  # runs after deadline.apply
        offset[0] = 5.0

    with deadline.enforce(httpx.Client()) as client:
        client.event_hooks = {"request": [*client.event_hooks["request"], held]}
        with deadline.request_deadline(time.monotonic() + 2):
            with pytest.raises(httpx.ConnectTimeout, match="deadline"):
                client.post(f"{url}/late", content=b"post")
            offset[0] = 0.0
            client.event_hooks = {"request": [deadline.apply]}
            timeouts: list[dict[str, float]] = []

            def trace(event: str, info: dict[str, Any]) -> None:
                if event.endswith("send_request_headers.started"):
                    timeouts.append(dict(info["request"].extensions["timeout"]))

            response = client.post(f"{url}/in-time", content=b"post", extensions={"trace": trace})
    assert response.status_code == 200
    assert received[0] == b""  # the refused request: a connection, no byte of the request
    assert received[1].startswith(b"POST /in-time")
    assert timeouts and all(0 < t <= 2 for t in timeouts[0].values())
