"""The request deadline (the dispatcher's lease) bounds every request made under it."""

from __future__ import annotations

import asyncio
import socket
import threading
import time
import types
from collections.abc import Iterator
from typing import Any

import aiohttp
import httpx
import pytest
import requests
from urllib3.connection import HTTPConnection

from dialogo.providers import deadline
from dialogo.providers.errors import OutcomeUnknown, TransientError
from dialogo.providers.mastodon.client import MastodonClient, RecordingSession
from dialogo.providers.matrix.client import MatrixClient
from dialogo.providers.netpolicy import OutboundPolicy
from dialogo.providers.pinning import pin_session


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
    server.settimeout(0.05)  # closing the socket does not wake a blocked accept: poll
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                conn, _ = server.accept()
            except TimeoutError:
                continue
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
        stop.set()
        thread.join(timeout=10)
        server.close()


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


def _held_after_connecting(monkeypatch: pytest.MonkeyPatch, target: Any, name: str) -> list[float]:
    """The deadline's clock jumps 5 s once ``target.name`` (a connect) has run: the request
    was built in time and its worker was held (a slow connect, a frozen process) past the
    deadline before writing anything. Returns the offset (set it back to 0 between requests)."""
    offset = [0.0]
    monkeypatch.setattr(
        deadline, "time", types.SimpleNamespace(monotonic=lambda: time.monotonic() + offset[0])
    )
    original = getattr(target, name)

    if asyncio.iscoroutinefunction(original):

        async def held_async(*args: Any, **kwargs: Any) -> Any:
            result = await original(*args, **kwargs)
            offset[0] = 5.0
            return result

        monkeypatch.setattr(target, name, held_async)
    else:

        def held(*args: Any, **kwargs: Any) -> Any:
            result = original(*args, **kwargs)
            offset[0] = 5.0
            return result

        monkeypatch.setattr(target, name, held)
    return offset


def _first_bytes(received: list[bytes], count: int) -> list[bytes]:
    """The first bytes of the first ``count`` connections, once the server has read them."""
    for _ in range(1000):
        if len(received) >= count:
            break
        time.sleep(0.01)
    return received[:count]


@pytest.mark.parametrize("pinned", [False, True], ids=["session", "pinned"])
def test_the_mastodon_session_checks_the_deadline_again_just_before_the_first_byte(
    loopback: tuple[str, list[bytes]], monkeypatch: pytest.MonkeyPatch, pinned: bool
) -> None:
    """``requests`` (Mastodon.py's HTTP): the request passes the check when it is built, then
    its connection is held past the deadline; its connection refuses to write it, so the
    server receives nothing, and the Mastodon client says it was not sent (transient, not a
    lost answer)."""
    url, received = loopback
    session = RecordingSession()
    if pinned:
        pin_session(session, OutboundPolicy(allow_private=True))
    with deadline.request_deadline(time.monotonic() + 2):  # in time: sent as usual
        assert session.post(f"{url}/in-time", data=b"post").text == "ok"
    offset = _held_after_connecting(monkeypatch, HTTPConnection, "connect")
    with deadline.request_deadline(time.monotonic() + 2):
        with pytest.raises(requests.exceptions.ConnectTimeout, match="deadline"):
            session.post(f"{url}/late", data=b"post")
        offset[0] = 0.0
        client = MastodonClient(url, "token", session=session)
        with pytest.raises(TransientError, match="deadline") as caught:
            client.post_status("late")
    assert not isinstance(caught.value, OutcomeUnknown)
    session.close()
    first = _first_bytes(received, 3)
    assert first[0].startswith(b"POST /in-time")
    assert first[1:] == [b"", b""]  # connections, and not a byte of either request


@pytest.mark.parametrize("pinned", [False, True], ids=["session", "pinned"])
def test_the_matrix_client_checks_the_deadline_again_when_aiohttp_hands_over_the_connection(
    loopback: tuple[str, list[bytes]], monkeypatch: pytest.MonkeyPatch, pinned: bool
) -> None:
    """aiohttp (matrix-nio's HTTP): the call passes the check when it starts, then its
    connection takes past the deadline to open; the connector refuses to hand it to the
    request, so the homeserver receives nothing, and the call was not sent (transient)."""
    url, received = loopback
    _held_after_connecting(monkeypatch, aiohttp.TCPConnector, "_create_connection")
    policy = OutboundPolicy(allow_private=True) if pinned else None
    client = MatrixClient(url, access_token="token", user_id="@brand:example.org", policy=policy)
    try:
        with (
            deadline.request_deadline(time.monotonic() + 2),
            pytest.raises(TransientError, match="deadline") as caught,
        ):
            client.send_event("!room:example.org", {"msgtype": "m.text", "body": "late"})
        assert not isinstance(caught.value, OutcomeUnknown)
    finally:
        client.close()
    assert _first_bytes(received, 1) == [b""]  # a connection, and not a byte of the request
