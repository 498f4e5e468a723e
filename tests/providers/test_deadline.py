"""The request deadline (the dispatcher's lease) bounds every request made under it."""

from __future__ import annotations

import time

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
