"""HTTP outcomes become the shared provider errors, with the wait read from the headers."""

from __future__ import annotations

import datetime as dt
from email.utils import format_datetime

import httpx
import pytest

from dialogo.providers import http
from dialogo.providers.errors import (
    InsufficientScopes,
    OutcomeUnknown,
    ProviderError,
    RateLimited,
    ReauthRequired,
    TransientError,
)

NOW = dt.datetime(2026, 11, 23, 12, 0, tzinfo=dt.UTC)


def _client(handler) -> httpx.Client:  # type: ignore[no-untyped-def]
    return httpx.Client(transport=httpx.MockTransport(handler), base_url="https://api.example")


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({"Retry-After": "120"}, 120.0),
        ({"Retry-After": format_datetime(NOW + dt.timedelta(seconds=90), usegmt=True)}, 90.0),
        ({"x-rate-limit-reset": str(int(NOW.timestamp()) + 300)}, 300.0),  # X: epoch seconds
        ({"RateLimit-Reset": "42"}, 42.0),  # IETF draft: delta seconds
        ({"ratelimit-reset": str(int(NOW.timestamp()) + 15)}, 15.0),  # Bluesky: epoch
        ({"X-RateLimit-Reset": (NOW + dt.timedelta(seconds=30)).isoformat()}, 30.0),  # Mastodon
        ({}, None),
        ({"Retry-After": "soon"}, None),
    ],
)
def test_retry_after_reads_every_convention(
    headers: dict[str, str], expected: float | None
) -> None:
    got = http.retry_after(headers, now=NOW)
    if expected is None:
        assert got is None
    else:
        assert got == pytest.approx(expected, abs=1)


def test_rate_limit_state_from_headers() -> None:
    state = http.rate_limit_state(
        {"x-rate-limit-limit": "300", "x-rate-limit-remaining": "7", "x-rate-limit-reset": "60"},
        now=NOW,
    )
    assert (state.limit, state.remaining, state.reset_after) == (300, 7, 60.0)


@pytest.mark.parametrize(
    ("status", "body", "headers", "error"),
    [
        (401, {"error": "invalid_token"}, {}, ReauthRequired),
        (403, {"error": "insufficient scope: write:statuses"}, {}, InsufficientScopes),
        (429, {}, {"Retry-After": "17"}, RateLimited),
        (500, {}, {}, TransientError),
        (502, {}, {}, TransientError),
        (503, {}, {}, TransientError),
        (400, {"message": "text too long"}, {}, ProviderError),
    ],
)
def test_error_statuses_map_to_shared_errors(
    status: int, body: dict[str, str], headers: dict[str, str], error: type[Exception]
) -> None:
    client = _client(lambda request: httpx.Response(status, json=body, headers=headers))
    with pytest.raises(error) as caught:
        http.send(client, client.build_request("POST", "/post"), network="example")
    if isinstance(caught.value, RateLimited):
        assert caught.value.retry_after == 17
        assert caught.value.transient
    if status == 400:
        assert "text too long" in str(caught.value)
        assert not caught.value.transient  # type: ignore[attr-defined]


def test_rate_limited_without_headers_waits_a_default() -> None:
    client = _client(lambda request: httpx.Response(429))
    with pytest.raises(RateLimited) as caught:
        http.send(client, client.build_request("GET", "/x"), network="example")
    assert caught.value.retry_after == http.DEFAULT_RETRY_AFTER


def test_success_is_returned() -> None:
    client = _client(lambda request: httpx.Response(201, json={"id": "1"}))
    response = http.send(client, client.build_request("POST", "/post"), network="example")
    assert response.json() == {"id": "1"}


def test_connect_failure_is_transient_and_safe_to_retry() -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    client = _client(refuse)
    with pytest.raises(TransientError) as caught:
        http.send(client, client.build_request("POST", "/post"), network="example")
    assert not isinstance(caught.value, OutcomeUnknown)


def test_read_timeout_after_a_post_left_is_outcome_unknown() -> None:
    def hang(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("no answer", request=request)

    client = _client(hang)
    with pytest.raises(OutcomeUnknown):
        http.send(client, client.build_request("POST", "/post"), network="example")
    # a read that timed out can simply be retried
    with pytest.raises(TransientError) as caught:
        http.send(client, client.build_request("GET", "/timeline"), network="example")
    assert not isinstance(caught.value, OutcomeUnknown)
