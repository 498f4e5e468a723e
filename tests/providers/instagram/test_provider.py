"""The Instagram provider against HTTP answers written from Meta's documentation (Content
Publishing, IG Container, Business Login for Instagram, Comments, Insights, Handling errors):
the container dance with its slow path, the token exchange, the documented errors."""

from __future__ import annotations

import json
import urllib.parse

import httpx
import pytest

from dialogo.providers.base import (
    Credentials,
    Draft,
    Media,
    MessageKind,
    PublishResult,
    RemoteRef,
)
from dialogo.providers.errors import (
    InsufficientScopes,
    InvalidPayload,
    OutcomeUnknown,
    RateLimited,
    ReauthRequired,
    TransientError,
)
from dialogo.providers.instagram.provider import InstagramProvider
from tests.providers.x.test_provider import Recorder

IG = "17841405822304914"
V = "/v23.0"
JPEG = b"\xff\xd8\xff\xe0" + b"\0" * 40


def image(name: str, alt: str = "") -> Media:
    return Media(JPEG, "image/jpeg", alt_text=alt, url=f"https://media.dialogo.example/{name}.jpg")


def provider(recorder: Recorder, credentials: Credentials | None = None) -> InstagramProvider:
    return InstagramProvider(
        credentials or Credentials(access_token="ig-token", account_id=IG),
        http=httpx.Client(transport=httpx.MockTransport(recorder)),
        config={"client_id": "990602627938098"},
    )


def form(request: httpx.Request) -> dict[str, str]:
    return dict(urllib.parse.parse_qsl(request.content.decode()))


def graph_error(code: int, message: str, status: int = 400, **extra: object) -> httpx.Response:
    return httpx.Response(
        status,
        json={"error": {"message": message, "type": "OAuthException", "code": code, **extra}},
    )


def status(code: str, reason: str = "") -> httpx.Response:
    return httpx.Response(200, json={"status_code": code, "status": reason, "id": "c"})


def test_one_image_is_a_container_checked_then_published() -> None:
    recorder = Recorder()
    recorder.on("POST", f"{V}/{IG}/media", httpx.Response(200, json={"id": "17889615691921648"}))
    recorder.on("GET", f"{V}/17889615691921648", status("FINISHED"))
    recorder.on(
        "POST", f"{V}/{IG}/media_publish", httpx.Response(200, json={"id": "17920238422030506"})
    )
    recorder.on(
        "GET",
        f"{V}/17920238422030506",
        httpx.Response(
            200, json={"permalink": "https://www.instagram.com/p/C8xyz/", "id": "17920238422030506"}
        ),
    )
    result = provider(recorder).publish(
        Draft(text="Nuova miscela ☕", media=[image("a", alt="una tazza fumante")])
    )
    assert (result.remote_id, result.url, result.pending) == (
        "17920238422030506",
        "https://www.instagram.com/p/C8xyz/",
        False,
    )
    assert form(recorder.sent("POST", f"{V}/{IG}/media")[0]) == {
        "image_url": "https://media.dialogo.example/a.jpg",
        "alt_text": "una tazza fumante",
        "caption": "Nuova miscela ☕",
    }
    assert (
        recorder.sent("GET", f"{V}/17889615691921648")[0].url.params["fields"]
        == "status_code,status"
    )
    assert form(recorder.sent("POST", f"{V}/{IG}/media_publish")[0]) == {
        "creation_id": "17889615691921648"
    }
    assert recorder.requests[0].headers["authorization"] == "Bearer ig-token"
    assert "ig-token" not in str(recorder.requests[0].url)


def test_an_album_makes_child_containers_then_a_carousel() -> None:
    recorder = Recorder()
    recorder.on(
        "POST",
        f"{V}/{IG}/media",
        httpx.Response(200, json={"id": "c1"}),
        httpx.Response(200, json={"id": "c2"}),
        httpx.Response(200, json={"id": "parent"}),
    )
    recorder.on("GET", f"{V}/parent", status("FINISHED"))
    recorder.on("POST", f"{V}/{IG}/media_publish", httpx.Response(200, json={"id": "m1"}))
    recorder.on(
        "GET", f"{V}/m1", httpx.Response(200, json={"permalink": "https://www.instagram.com/p/1/"})
    )
    provider(recorder).publish(Draft(text="Album", media=[image("a"), image("b")]))
    sent = [form(r) for r in recorder.sent("POST", f"{V}/{IG}/media")]
    assert sent == [
        {"image_url": "https://media.dialogo.example/a.jpg", "is_carousel_item": "true"},
        {"image_url": "https://media.dialogo.example/b.jpg", "is_carousel_item": "true"},
        {"media_type": "CAROUSEL", "children": "c1,c2", "caption": "Album"},
    ]


def test_a_reel_still_processing_is_pending_then_checked_and_finalised() -> None:
    recorder = Recorder()
    recorder.on("POST", f"{V}/{IG}/media", httpx.Response(200, json={"id": "reel"}))
    recorder.on(
        "GET", f"{V}/reel", status("IN_PROGRESS"), status("IN_PROGRESS"), status("FINISHED")
    )
    recorder.on("POST", f"{V}/{IG}/media_publish", httpx.Response(200, json={"id": "m9"}))
    recorder.on(
        "GET",
        f"{V}/m9",
        httpx.Response(200, json={"permalink": "https://www.instagram.com/reel/9/"}),
    )
    p = provider(recorder)
    video = Media(b"\0\0\0\x18ftypmp42", "video/mp4", url="https://media.dialogo.example/v.mp4")
    first = p.publish(Draft(text="Dietro le quinte", media=[video]))
    assert first.pending and first.remote_id is None and first.state["container"] == "reel"
    assert form(recorder.sent("POST", f"{V}/{IG}/media")[0])["media_type"] == "REELS"
    assert recorder.sent("POST", f"{V}/{IG}/media_publish") == []
    still = p.check_status(first)
    assert still.pending
    ready = p.check_status(still)
    assert not ready.pending
    done = p.finalise(ready)
    assert (done.remote_id, done.url) == ("m9", "https://www.instagram.com/reel/9/")


@pytest.mark.parametrize("code", ["ERROR", "EXPIRED"])
def test_a_container_that_failed_is_an_invalid_payload(code: str) -> None:
    recorder = Recorder()
    recorder.on("GET", f"{V}/c", status(code, "2207026: unsupported video format"))
    pending = PublishResult(remote_id=None, pending=True, state={"container": "c"})
    with pytest.raises(InvalidPayload, match=code) as caught:
        provider(recorder).check_status(pending)
    assert caught.value.issues == [code.lower()]


def test_validation_refuses_what_instagram_refuses_without_a_request() -> None:
    recorder = Recorder()
    p = provider(recorder)
    no_url = Draft(text="x", media=[Media(JPEG, "image/jpeg")])
    assert [i.code for i in p.validate(no_url)] == ["media_url_required"]
    with pytest.raises(InvalidPayload, match="public https address"):
        p.publish(no_url)
    assert recorder.requests == []


def test_a_reply_answers_the_comment() -> None:
    recorder = Recorder()
    recorder.on(
        "POST",
        f"{V}/17858893269000001/replies",
        httpx.Response(200, json={"id": "17870913679156914"}),
    )
    result = provider(recorder).reply(RemoteRef("17858893269000001"), Draft(text="Grazie Giulia!"))
    assert result.remote_id == "17870913679156914"
    assert form(recorder.requests[0]) == {"message": "Grazie Giulia!"}


@pytest.mark.parametrize(
    ("answer", "error"),
    [
        (
            graph_error(
                190, "Error validating access token: Session has expired", error_subcode=463
            ),
            ReauthRequired,
        ),
        (
            graph_error(10, "Application does not have permission for this action", status=403),
            InsufficientScopes,
        ),
        (graph_error(200, "Permissions error", status=403), InsufficientScopes),
        (graph_error(4, "Application request limit reached", is_transient=True), RateLimited),
        (graph_error(2, "Service temporarily unavailable", status=503), TransientError),
        (
            graph_error(
                9004, "Only photo or video can be accepted as media type.", error_subcode=2207052
            ),
            InvalidPayload,
        ),
    ],
)
def test_graph_errors_map_to_the_shared_ones(
    answer: httpx.Response, error: type[Exception]
) -> None:
    recorder = Recorder()
    recorder.on("POST", f"{V}/{IG}/media", answer)
    with pytest.raises(error):
        provider(recorder).publish(Draft(text="x", media=[image("a")]))


def test_the_daily_publishing_cap_waits_an_hour() -> None:
    recorder = Recorder()
    recorder.on("POST", f"{V}/{IG}/media", httpx.Response(200, json={"id": "c"}))
    recorder.on("GET", f"{V}/c", status("FINISHED"))
    recorder.on(
        "POST",
        f"{V}/{IG}/media_publish",
        graph_error(9, "Application request limit reached", error_subcode=2207042, status=403),
    )
    with pytest.raises(RateLimited) as caught:
        provider(recorder).publish(Draft(text="x", media=[image("a")]))
    assert caught.value.retry_after == 3600.0


def test_rate_limit_waits_what_the_usage_header_estimates() -> None:
    recorder = Recorder()
    usage = {IG: [{"type": "instagram", "call_count": 100, "estimated_time_to_regain_access": 12}]}
    recorder.on(
        "GET",
        f"{V}/{IG}/media",
        httpx.Response(
            400,
            headers={"X-Business-Use-Case-Usage": json.dumps(usage)},
            json={
                "error": {
                    "message": "User request limit reached",
                    "type": "OAuthException",
                    "code": 17,
                }
            },
        ),
    )
    with pytest.raises(RateLimited) as caught:
        provider(recorder).fetch_messages(None)
    assert caught.value.retry_after == 12 * 60


def test_a_lost_answer_to_media_publish_is_an_unknown_outcome() -> None:
    recorder = Recorder()
    recorder.on("POST", f"{V}/{IG}/media", httpx.Response(200, json={"id": "c"}))
    recorder.on("GET", f"{V}/c", status("FINISHED"))
    recorder.on("POST", f"{V}/{IG}/media_publish", httpx.ReadTimeout("no answer"))
    with pytest.raises(OutcomeUnknown):
        provider(recorder).publish(Draft(text="x", media=[image("a")]))


def test_comments_newer_than_the_cursor_become_messages() -> None:
    recorder = Recorder()
    recorder.on(
        "GET",
        f"{V}/{IG}/media",
        httpx.Response(
            200,
            json={
                "data": [
                    {"id": "m2", "caption": "Autunno", "timestamp": "2026-11-21T09:00:00+0000"},
                    {"id": "m1", "caption": "Estate", "timestamp": "2026-08-01T09:00:00+0000"},
                ]
            },
        ),
    )
    recorder.on(
        "GET",
        f"{V}/m2/comments",
        httpx.Response(
            200,
            json={
                "data": [
                    {
                        "id": "c3",
                        "text": "Quando arriva a Milano?",
                        "timestamp": "2026-11-22T10:00:00+0000",
                        "username": "giulia_r",
                        "from": {"id": "1789", "username": "giulia_r"},
                    },
                    {
                        "id": "c2",
                        "text": "Grazie!",
                        "timestamp": "2026-11-22T11:00:00+0000",
                        "from": {"id": IG, "username": "brand"},  # the account itself
                    },
                    {
                        "id": "c1",
                        "text": "vecchio",
                        "timestamp": "2026-11-20T10:00:00+0000",
                        "from": {"id": "1790", "username": "marco"},
                    },
                ]
            },
        ),
    )
    recorder.on("GET", f"{V}/m1/comments", httpx.Response(200, json={"data": []}))
    recorder.on("GET", f"{V}/{IG}/conversations", httpx.Response(200, json={"data": []}))
    page = provider(recorder).fetch_messages("2026-11-21T00:00:00+00:00")
    assert [(m.remote_id, m.kind, m.author.handle) for m in page.messages] == [
        ("c3", MessageKind.comment, "giulia_r")
    ]
    assert page.messages[0].conversation_id == "m2"
    assert page.cursor == "2026-11-22T10:00:00+00:00"


def test_the_code_is_exchanged_for_a_long_lived_token() -> None:
    recorder = Recorder()
    recorder.on(
        "POST",
        "/oauth/access_token",
        httpx.Response(
            200,
            json={
                "data": [
                    {
                        "access_token": "short",
                        "user_id": 17841405822304914,
                        "permissions": "instagram_business_basic",
                    }
                ]
            },
        ),
    )
    recorder.on(
        "GET",
        "/access_token",
        httpx.Response(
            200, json={"access_token": "long", "token_type": "bearer", "expires_in": 5183944}
        ),
    )
    p = provider(recorder, Credentials(extra={"client_secret": "app-secret"}))
    request = p.authorization_url(redirect_uri="https://dialogo.example/cb", state="s")
    assert request.code_verifier is None  # Business Login for Instagram has no PKCE
    assert "instagram_business_content_publish" in urllib.parse.unquote(request.url)
    credentials = p.exchange_code(
        code="AQB", redirect_uri="https://dialogo.example/cb", code_verifier=None
    )
    assert (credentials.access_token, credentials.account_id) == ("long", IG)
    assert credentials.expires_at is not None
    assert form(recorder.requests[0])["grant_type"] == "authorization_code"
    params = recorder.requests[1].url.params
    assert (params["grant_type"], params["access_token"]) == ("ig_exchange_token", "short")


def test_insights_become_metrics() -> None:
    recorder = Recorder()
    recorder.on(
        "GET",
        f"{V}/m1/insights",
        httpx.Response(
            200,
            json={
                "data": [
                    {"name": "views", "period": "lifetime", "values": [{"value": 5400}]},
                    {"name": "reach", "period": "lifetime", "values": [{"value": 3100}]},
                    {"name": "likes", "period": "lifetime", "values": [{"value": 220}]},
                    {"name": "comments", "period": "lifetime", "values": [{"value": 14}]},
                    {"name": "shares", "period": "lifetime", "values": [{"value": 9}]},
                ]
            },
        ),
    )
    [metrics] = provider(recorder).fetch_metrics(["m1"])
    assert (
        metrics.impressions,
        metrics.reach,
        metrics.likes,
        metrics.replies,
        metrics.reposts,
    ) == (
        5400,
        3100,
        220,
        14,
        9,
    )
