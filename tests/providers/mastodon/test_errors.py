"""Mastodon.py's exceptions become the shared provider errors, and Mastodon.py never sleeps
or retries on its own (scripted answers through a requests transport adapter)."""

from __future__ import annotations

import datetime as dt
import time

import pytest

from dialogo.providers.base import Draft, Media
from dialogo.providers.contract import Answer, Responder, ScriptedRequest
from dialogo.providers.errors import (
    Disconnected,
    InsufficientScopes,
    InvalidPayload,
    OutcomeUnknown,
    ProviderError,
    RateLimited,
    ReauthRequired,
    TransientError,
)
from dialogo.providers.mastodon.testing import PNG, rate_limit_answer, scripted_provider

STATUS = {
    "id": "110",
    "url": "https://mastodon.example/@brand/110",
    "visibility": "public",
    "content": "<p>ok</p>",
    "created_at": "2026-03-02T09:00:00.000Z",
    "account": {"id": "1", "acct": "brand"},
    "favourites_count": 3,
    "reblogs_count": 2,
    "replies_count": 1,
}


PATHS = {
    "verify_credentials": "/api/v1/accounts/verify_credentials",
    "statuses": "/api/v1/statuses",
    "media": "/media",
    "notifications": "/api/v1/notifications",
}


def by_path(**answers: Answer) -> tuple[list[ScriptedRequest], Responder]:
    """A responder answering ``answers[name]`` on the endpoint ``PATHS[name]``, else a status."""
    seen: list[ScriptedRequest] = []

    def respond(request: ScriptedRequest) -> Answer:
        seen.append(request)
        for name, answer in answers.items():
            if PATHS[name] in request.url:
                return answer
        return Answer(200, json=STATUS)

    return seen, respond


def test_422_is_invalid_payload() -> None:
    _, respond = by_path(
        statuses=Answer(422, json={"error": "Validation failed: Text character limit exceeded"})
    )
    with pytest.raises(InvalidPayload) as info:
        scripted_provider(respond).publish(Draft(text="ciao"))
    assert "character limit" in info.value.issues[0]


def test_a_missing_account_is_disconnected_and_a_missing_reply_target_invalid() -> None:
    _, respond = by_path(verify_credentials=Answer(404, json={"error": "Record not found"}))
    with pytest.raises(Disconnected):
        scripted_provider(respond).verify()
    _, respond = by_path(statuses=Answer(404, json={"error": "Record not found"}))
    with pytest.raises(InvalidPayload):
        scripted_provider(respond).publish(Draft(text="ciao"))


def test_403_outside_the_scopes_and_a_disabled_account() -> None:
    scopes = Answer(403, json={"error": "This action is outside the authorized scopes"})
    _, respond = by_path(statuses=scopes)
    with pytest.raises(InsufficientScopes):
        scripted_provider(respond).publish(Draft(text="ciao"))
    disabled = Answer(403, json={"error": "Your login is currently disabled"})
    _, respond = by_path(verify_credentials=disabled)
    with pytest.raises(Disconnected):
        scripted_provider(respond).verify()


def test_401_anywhere_is_reauth() -> None:
    _, respond = by_path(notifications=Answer(401, json={"error": "The access token was revoked"}))
    with pytest.raises(ReauthRequired):
        scripted_provider(respond).fetch_messages("5")


def test_a_rate_limit_raises_at_once_with_the_reset_as_wait() -> None:
    seen, respond = by_path(statuses=rate_limit_answer(250))
    started = time.monotonic()
    with pytest.raises(RateLimited) as info:
        scripted_provider(respond).publish(Draft(text="ciao"))
    assert time.monotonic() - started < 2  # Mastodon.py did not sleep until the reset
    assert len(seen) == 1  # nor try again
    assert 248 <= info.value.retry_after <= 250


def test_a_rate_limit_with_retry_after_or_without_any_header() -> None:
    _, respond = by_path(statuses=Answer(429, headers={"Retry-After": "12"}, json={}))
    with pytest.raises(RateLimited) as info:
        scripted_provider(respond).publish(Draft(text="ciao"))
    assert info.value.retry_after == 12
    _, respond = by_path(statuses=Answer(429, json={"error": "Too many requests"}))
    with pytest.raises(RateLimited) as info:
        scripted_provider(respond).publish(Draft(text="ciao"))
    assert info.value.retry_after == 60


def test_server_errors_are_transient() -> None:
    for status in (500, 502, 503, 504):
        _, respond = by_path(statuses=Answer(status, text="oops"))
        with pytest.raises(TransientError) as info:
            scripted_provider(respond).publish(Draft(text="ciao"))
        assert not isinstance(info.value, OutcomeUnknown)


def test_timeouts_on_an_upload_are_transient_on_the_status_unknown() -> None:
    _, respond = by_path(media=Answer(timeout=True))
    draft = Draft(text="ciao", media=[Media(PNG, "image/png", alt_text="x")])
    with pytest.raises(TransientError) as info:
        scripted_provider(respond).publish(draft)
    assert not isinstance(info.value, OutcomeUnknown)  # no status was sent yet
    _, respond = by_path(statuses=Answer(timeout=True))
    with pytest.raises(OutcomeUnknown):
        scripted_provider(respond).publish(draft)


def test_a_connection_refused_is_transient_even_for_a_status() -> None:
    from dialogo.providers.base import Credentials
    from dialogo.providers.mastodon.client import MastodonClient
    from dialogo.providers.mastodon.provider import MastodonProvider

    # nothing listens on port 9 of the loopback interface
    client = MastodonClient("http://127.0.0.1:9", "t", timeout=2)
    provider = MastodonProvider(Credentials(access_token="t"), config={}, client=client)
    with pytest.raises(TransientError) as info:
        provider.publish(Draft(text="ciao"))
    assert not isinstance(info.value, OutcomeUnknown)
    provider.close()


def test_the_idempotency_key_is_sent_as_the_header() -> None:
    from dialogo.providers.base import Credentials
    from dialogo.providers.mastodon.client import MastodonClient, RecordingSession
    from dialogo.providers.mastodon.provider import MastodonProvider
    from dialogo.providers.mastodon.testing import INSTANCE, ScriptedAdapter

    adapter = ScriptedAdapter(lambda request: Answer(200, json=STATUS))
    session = RecordingSession()
    session.mount("https://", adapter)
    provider = MastodonProvider(
        Credentials(access_token="t"),
        config={"instance_url": INSTANCE, "visibility": "private"},
        client=MastodonClient(INSTANCE, "t", session=session),
    )
    provider.publish(Draft(text="ciao", thread=[Draft(text="due")], idempotency_key="k-42"))
    keys = [r.headers.get("Idempotency-Key") for r in adapter.requests]
    assert keys == ["k-42", "k-42:1"]
    assert all("visibility=private" in str(r.body) for r in adapter.requests)
    assert all(r.headers["Authorization"] == "Bearer t" for r in adapter.requests)


def test_metrics_skip_deleted_statuses() -> None:
    def respond(request: ScriptedRequest) -> Answer:
        if request.url.endswith("/gone"):
            return Answer(404, json={"error": "Record not found"})
        return Answer(200, json=STATUS)

    metrics = scripted_provider(respond).fetch_metrics(["110", "gone"])
    assert [(m.remote_id, m.likes, m.reposts, m.replies) for m in metrics] == [("110", 3, 2, 1)]


def test_other_errors_keep_their_status() -> None:
    _, respond = by_path(notifications=Answer(418, json={"error": "teapot"}))
    with pytest.raises(ProviderError) as info:
        scripted_provider(respond).fetch_messages(None)
    assert info.value.code == "mastodon_http_418"


def test_the_rate_limit_wait_comes_from_an_iso_reset() -> None:
    reset = (dt.datetime.now(dt.UTC) + dt.timedelta(seconds=90)).isoformat()
    _, respond = by_path(verify_credentials=Answer(429, headers={"X-RateLimit-Reset": reset}))
    with pytest.raises(RateLimited) as info:
        scripted_provider(respond).verify()
    assert 88 <= info.value.retry_after <= 90


def test_a_publish_with_an_image_sends_only_the_upload_and_the_status() -> None:
    seen, respond = by_path(media=Answer(200, json={"id": "77", "type": "image", "url": "u"}))
    draft = Draft(text="ciao", media=[Media(PNG, "image/png", alt_text="un punto")])
    scripted_provider(respond).publish(draft)
    # no version discovery (``/api/v1/instance``) or anything else of Mastodon.py's own
    assert [(r.method, r.url.split("?")[0]) for r in seen] == [
        ("POST", "https://mastodon.example/api/v2/media"),
        ("POST", "https://mastodon.example/api/v1/statuses"),
    ]
