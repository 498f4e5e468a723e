"""Matrix error answers and transport failures become the shared provider errors."""

from __future__ import annotations

import asyncio
import dataclasses
import socket
from typing import Any

import aiohttp
import nio
import pytest

from dialogo.providers.errors import (
    Disconnected,
    InvalidPayload,
    OutcomeUnknown,
    ProviderError,
    RateLimited,
    ReauthRequired,
    TransientError,
)
from dialogo.providers.http import DEFAULT_RETRY_AFTER
from dialogo.providers.matrix.client import (
    MatrixClient,
    error_for,
    error_from_exception,
    error_from_nio,
)


@dataclasses.dataclass
class FakeTransport:
    """What nio keeps of the aiohttp response: its status and headers."""

    status: int
    headers: dict[str, str] = dataclasses.field(default_factory=dict)


def nio_error(
    cls: type[Any], body: dict[str, Any], status: int, headers: dict[str, str] | None = None
) -> Any:
    extra = ("!room:x.org",) if cls is nio.RoomSendError else ()
    response = cls.from_dict(body, *extra)
    response.transport_response = FakeTransport(status, headers or {})
    return response


@pytest.mark.parametrize(
    ("status", "body", "error"),
    [
        (
            401,
            {"errcode": "M_UNKNOWN_TOKEN", "error": "Invalid access token passed."},
            ReauthRequired,
        ),
        (401, {"errcode": "M_MISSING_TOKEN", "error": "Missing access token"}, ReauthRequired),
        (403, {"errcode": "M_USER_DEACTIVATED", "error": "deactivated"}, Disconnected),
        (413, {"errcode": "M_TOO_LARGE", "error": "event too large"}, InvalidPayload),
        (400, {"errcode": "M_BAD_JSON", "error": "bad"}, InvalidPayload),
        (500, {"errcode": "M_UNKNOWN", "error": "Internal server error"}, TransientError),
        (502, {}, TransientError),
        (403, {"errcode": "M_FORBIDDEN", "error": "not in room"}, ProviderError),
        (404, {"errcode": "M_NOT_FOUND", "error": "no such event"}, ProviderError),
    ],
)
def test_error_answers_map_to_shared_errors(
    status: int, body: dict[str, str], error: type[ProviderError]
) -> None:
    mapped = error_from_nio(nio_error(nio.RoomSendError, body, status))
    assert type(mapped) is error
    if error is ProviderError:
        assert mapped.code == f"matrix_{body['errcode'].lower()}"
        assert not mapped.transient


def test_a_soft_logout_is_reported_with_the_reauth() -> None:
    body = {"errcode": "M_UNKNOWN_TOKEN", "error": "expired", "soft_logout": True}
    mapped = error_from_nio(nio_error(nio.WhoamiError, body, 401))
    assert isinstance(mapped, ReauthRequired)
    assert mapped.details["soft_logout"] is True


def test_limit_exceeded_waits_what_the_homeserver_says() -> None:
    body = {"errcode": "M_LIMIT_EXCEEDED", "error": "Too Many Requests", "retry_after_ms": 2500}
    mapped = error_from_nio(nio_error(nio.RoomSendError, body, 429))
    assert isinstance(mapped, RateLimited)
    assert mapped.retry_after == 2.5
    assert mapped.transient


def test_limit_exceeded_falls_back_to_retry_after_then_to_the_default() -> None:
    body = {"errcode": "M_LIMIT_EXCEEDED", "error": "Too Many Requests"}
    with_header = error_from_nio(nio_error(nio.RoomSendError, body, 429, {"Retry-After": "7"}))
    assert isinstance(with_header, RateLimited)
    assert with_header.retry_after == 7
    bare = error_for(status=429, errcode=None, message="")
    assert isinstance(bare, RateLimited)
    assert bare.retry_after == DEFAULT_RETRY_AFTER


def test_an_unreadable_answer_is_transient() -> None:
    response = nio.RoomSendError.from_dict({}, "!room:x.org")  # a proxy's HTML page: no errcode
    assert type(error_from_nio(response)) is TransientError


def _exc(kind: type[Exception]) -> Exception:
    if kind is aiohttp.ClientConnectorError:
        key = aiohttp.client_reqrep.ConnectionKey("127.0.0.1", 1, False, True, None, None, None)
        return aiohttp.ClientConnectorError(key, OSError(111, "refused"))
    return kind()


@pytest.mark.parametrize(
    ("failure", "write", "error"),
    [
        (aiohttp.ClientConnectorError, True, TransientError),  # never left
        (aiohttp.ConnectionTimeoutError, True, TransientError),  # never left
        (aiohttp.ServerDisconnectedError, True, OutcomeUnknown),
        (TimeoutError, True, OutcomeUnknown),
        (aiohttp.ServerTimeoutError, True, OutcomeUnknown),
        (aiohttp.ServerDisconnectedError, False, TransientError),
        (TimeoutError, False, TransientError),
    ],
)
def test_transport_failures(failure: type[Exception], write: bool, error: type[Exception]) -> None:
    mapped = error_from_exception(_exc(failure), write=write)
    assert type(mapped) is error
    assert mapped.transient


def test_the_client_maps_failures_raised_while_it_runs() -> None:
    client = MatrixClient("http://127.0.0.1:1", access_token="t")

    async def cut() -> None:
        raise aiohttp.ServerDisconnectedError()

    try:
        with pytest.raises(OutcomeUnknown):
            client._run(cut(), write=True)
        with pytest.raises(TransientError) as caught:
            client._run(cut(), write=False)
        assert not isinstance(caught.value, OutcomeUnknown)
    finally:
        client.close()


def test_the_client_gives_up_at_its_deadline_instead_of_waiting() -> None:
    client = MatrixClient("http://127.0.0.1:1", access_token="t", timeout=0.05)

    async def hang() -> None:
        await asyncio.Event().wait()

    try:
        with pytest.raises(OutcomeUnknown):
            client._run(hang(), write=True)
    finally:
        client.close()


def test_an_unreachable_homeserver_is_transient() -> None:
    with socket.socket() as sock:  # a loopback port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    client = MatrixClient(f"http://127.0.0.1:{port}", access_token="t")
    try:
        with pytest.raises(TransientError) as caught:
            client.send_event("!room:x.org", {"msgtype": "m.text", "body": "hi"})
        assert not isinstance(caught.value, OutcomeUnknown)
    finally:
        client.close()


def test_the_client_refuses_to_block_inside_an_event_loop() -> None:
    client = MatrixClient("http://127.0.0.1:1", access_token="t")

    async def inside() -> None:
        with pytest.raises(RuntimeError, match="worker thread"):
            client.whoami()

    try:
        asyncio.run(inside())
    finally:
        client.close()
