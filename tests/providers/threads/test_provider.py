"""The Threads provider against HTTP answers written from Meta's Threads API documentation:
"Threads Posts" (``POST /{threads-user-id}/threads`` containers, ``threads_publish``, the
500-character limit with emoji counted as UTF-8 bytes, carousels), "Publishing" reference
(``reply_to_id``), "Troubleshooting" (container ``status``: IN_PROGRESS, FINISHED, ERROR,
EXPIRED), "Reply Management" (``/conversation``), "Mentions", "Insights", "Get Access Tokens
and Permissions" and "Long-Lived Access Tokens" (``th_exchange_token``,
``th_refresh_token``)."""

from __future__ import annotations

import urllib.parse

import httpx
import pytest

from dialogo.providers.base import Credentials, Draft, Media, MessageKind, RemoteRef
from dialogo.providers.errors import (
    InvalidPayload,
    OutcomeUnknown,
    RateLimited,
    ReauthRequired,
)
from dialogo.providers.threads.provider import ThreadsProvider, threads_length
from tests.providers.x.test_provider import Recorder

ME = "25000000000000001"
V = "/v1.0"
JPEG = b"\xff\xd8\xff\xe0" + b"\0" * 40


def image(name: str) -> Media:
    return Media(JPEG, "image/jpeg", url=f"https://media.dialogo.example/{name}.jpg")


def provider(recorder: Recorder, credentials: Credentials | None = None) -> ThreadsProvider:
    return ThreadsProvider(
        credentials or Credentials(access_token="th-token", account_id=ME),
        http=httpx.Client(transport=httpx.MockTransport(recorder)),
        config={"client_id": "990602627938098"},
    )


def form(request: httpx.Request) -> dict[str, str]:
    return dict(urllib.parse.parse_qsl(request.content.decode()))


def status(value: str, error: str = "") -> httpx.Response:
    body = {"status": value, "id": "c"}
    if error:
        body["error_message"] = error
    return httpx.Response(200, json=body)


def test_threads_length_counts_emoji_by_their_utf8_bytes() -> None:
    assert threads_length("ciao") == 4
    assert threads_length("caffè") == 5  # é is one character, not its two bytes
    assert threads_length("☕") == 3
    assert threads_length("👍🏽") == 8  # one grapheme: the emoji and its skin tone
    assert threads_length("🇮🇹") == 8


def test_a_text_post_is_a_container_checked_then_published() -> None:
    recorder = Recorder()
    recorder.on("POST", f"{V}/{ME}/threads", httpx.Response(200, json={"id": "1111"}))
    recorder.on("GET", f"{V}/1111", status("FINISHED"))
    recorder.on("POST", f"{V}/{ME}/threads_publish", httpx.Response(200, json={"id": "9001"}))
    recorder.on(
        "GET",
        f"{V}/9001",
        httpx.Response(200, json={"permalink": "https://www.threads.net/@aurora/post/Abc"}),
    )
    result = provider(recorder).publish(Draft(text="Buongiorno ☕"))
    assert (result.remote_id, result.url, result.pending) == (
        "9001",
        "https://www.threads.net/@aurora/post/Abc",
        False,
    )
    assert form(recorder.sent("POST", f"{V}/{ME}/threads")[0]) == {
        "media_type": "TEXT",
        "text": "Buongiorno ☕",
    }
    assert recorder.sent("GET", f"{V}/1111")[0].url.params["fields"] == "status,error_message"
    assert form(recorder.sent("POST", f"{V}/{ME}/threads_publish")[0]) == {"creation_id": "1111"}
    assert recorder.requests[0].headers["authorization"] == "Bearer th-token"


def test_a_carousel_makes_item_containers_then_a_parent() -> None:
    recorder = Recorder()
    recorder.on(
        "POST",
        f"{V}/{ME}/threads",
        httpx.Response(200, json={"id": "i1"}),
        httpx.Response(200, json={"id": "i2"}),
        httpx.Response(200, json={"id": "parent"}),
    )
    recorder.on("GET", f"{V}/parent", status("FINISHED"))
    recorder.on("POST", f"{V}/{ME}/threads_publish", httpx.Response(200, json={"id": "p1"}))
    recorder.on("GET", f"{V}/p1", httpx.Response(200, json={"permalink": "https://t/p1"}))
    video = Media(b"\0\0\0\x18ftypmp42", "video/mp4", url="https://media.dialogo.example/v.mp4")
    provider(recorder).publish(Draft(text="Album", media=[image("a"), video]))
    assert [form(r) for r in recorder.sent("POST", f"{V}/{ME}/threads")] == [
        {
            "media_type": "IMAGE",
            "image_url": "https://media.dialogo.example/a.jpg",
            "is_carousel_item": "true",
        },
        {
            "media_type": "VIDEO",
            "video_url": "https://media.dialogo.example/v.mp4",
            "is_carousel_item": "true",
        },
        {"media_type": "CAROUSEL", "children": "i1,i2", "text": "Album"},
    ]


def test_a_thread_is_a_reply_chain_that_survives_a_slow_container() -> None:
    recorder = Recorder()
    recorder.on(
        "POST",
        f"{V}/{ME}/threads",
        httpx.Response(200, json={"id": "c1"}),
        httpx.Response(200, json={"id": "c2"}),
        httpx.Response(200, json={"id": "c3"}),
    )
    recorder.on("GET", f"{V}/c1", status("FINISHED"))
    recorder.on("GET", f"{V}/c2", status("IN_PROGRESS"), status("FINISHED"))
    recorder.on("GET", f"{V}/c3", status("FINISHED"))
    recorder.on(
        "POST",
        f"{V}/{ME}/threads_publish",
        httpx.Response(200, json={"id": "p1"}),
        httpx.Response(200, json={"id": "p2"}),
        httpx.Response(200, json={"id": "p3"}),
    )
    recorder.on("GET", f"{V}/p1", httpx.Response(200, json={"permalink": "https://t/p1"}))
    p = provider(recorder)
    first = p.publish(Draft(text="1/3", thread=[Draft(text="2/3"), Draft(text="3/3")]))
    assert first.pending and first.state["container"] == "c2"
    ready = p.check_status(first)
    assert not ready.pending
    done = p.finalise(ready)
    assert (done.remote_id, list(done.thread_ids), done.url) == ("p1", ["p2", "p3"], "https://t/p1")
    containers = [form(r) for r in recorder.sent("POST", f"{V}/{ME}/threads")]
    assert containers == [
        {"media_type": "TEXT", "text": "1/3"},
        {"media_type": "TEXT", "text": "2/3", "reply_to_id": "p1"},
        {"media_type": "TEXT", "text": "3/3", "reply_to_id": "p2"},
    ]


def test_a_reply_sets_reply_to_id() -> None:
    recorder = Recorder()
    recorder.on("POST", f"{V}/{ME}/threads", httpx.Response(200, json={"id": "r1"}))
    recorder.on("GET", f"{V}/r1", status("FINISHED"))
    recorder.on("POST", f"{V}/{ME}/threads_publish", httpx.Response(200, json={"id": "rp"}))
    recorder.on("GET", f"{V}/rp", httpx.Response(200, json={"permalink": "https://t/rp"}))
    result = provider(recorder).reply(RemoteRef("18000000000000001"), Draft(text="Grazie!"))
    assert result.remote_id == "rp"
    assert form(recorder.sent("POST", f"{V}/{ME}/threads")[0]) == {
        "media_type": "TEXT",
        "text": "Grazie!",
        "reply_to_id": "18000000000000001",
    }


@pytest.mark.parametrize("value", ["ERROR", "EXPIRED"])
def test_a_failed_container_is_an_invalid_payload(value: str) -> None:
    recorder = Recorder()
    recorder.on("POST", f"{V}/{ME}/threads", httpx.Response(200, json={"id": "c"}))
    recorder.on("GET", f"{V}/c", status(value, "FAILED_DOWNLOADING_VIDEO"))
    with pytest.raises(InvalidPayload, match="FAILED_DOWNLOADING_VIDEO") as caught:
        provider(recorder).publish(Draft(text="x", media=[image("a")]))
    assert caught.value.issues == [value.lower()]
    assert recorder.sent("POST", f"{V}/{ME}/threads_publish") == []


def test_validation_refuses_without_a_request() -> None:
    recorder = Recorder()
    p = provider(recorder)
    long = Draft(text="👍" * 126)  # 504 by Threads' count, 126 characters
    assert [i.code for i in p.validate(long)] == ["too_long"]
    with pytest.raises(InvalidPayload, match="500"):
        p.publish(long)
    assert recorder.requests == []


def test_replies_and_mentions_newer_than_the_cursor_become_messages() -> None:
    recorder = Recorder()
    recorder.on(
        "GET",
        f"{V}/{ME}/threads",
        httpx.Response(
            200,
            json={
                "data": [{"id": "p1", "text": "Autunno", "timestamp": "2026-11-21T09:00:00+0000"}]
            },
        ),
    )
    recorder.on(
        "GET",
        f"{V}/p1/conversation",
        httpx.Response(
            200,
            json={
                "data": [
                    {
                        "id": "r1",
                        "text": "Dove vi trovo a Torino?",
                        "username": "giulia.r",
                        "timestamp": "2026-11-22T10:00:00+0000",
                        "permalink": "https://www.threads.net/@giulia.r/post/R1",
                        "root_post": {"id": "p1"},
                        "replied_to": {"id": "p1"},
                        "is_reply_owned_by_me": False,
                    },
                    {
                        "id": "r2",
                        "text": "In via Roma 3!",
                        "username": "caffeaurora",
                        "timestamp": "2026-11-22T10:30:00+0000",
                        "root_post": {"id": "p1"},
                        "replied_to": {"id": "r1"},
                        "is_reply_owned_by_me": True,
                    },
                    {
                        "id": "r0",
                        "text": "vecchia",
                        "username": "marco",
                        "timestamp": "2026-11-20T10:00:00+0000",
                        "root_post": {"id": "p1"},
                        "replied_to": {"id": "p1"},
                        "is_reply_owned_by_me": False,
                    },
                ]
            },
        ),
    )
    recorder.on(
        "GET",
        f"{V}/{ME}/mentions",
        httpx.Response(
            200,
            json={
                "data": [
                    {
                        "id": "m1",
                        "text": "Il miglior espresso è di @caffeaurora",
                        "username": "luca_b",
                        "timestamp": "2026-11-22T11:00:00+0000",
                        "permalink": "https://www.threads.net/@luca_b/post/M1",
                    }
                ]
            },
        ),
    )
    page = provider(recorder).fetch_messages("2026-11-21T00:00:00+00:00")
    assert [(m.remote_id, m.kind, m.author.handle, m.conversation_id) for m in page.messages] == [
        ("r1", MessageKind.reply, "giulia.r", "p1"),
        ("m1", MessageKind.mention, "luca_b", "m1"),
    ]
    assert page.messages[0].in_reply_to == "p1"
    assert page.cursor == "2026-11-22T11:00:00+00:00"


def test_the_code_becomes_a_long_lived_token_and_refreshes() -> None:
    recorder = Recorder()
    recorder.on(
        "POST",
        "/oauth/access_token",
        httpx.Response(200, json={"access_token": "short", "user_id": 25000000000000001}),
    )
    recorder.on(
        "GET",
        "/access_token",
        httpx.Response(
            200, json={"access_token": "long", "token_type": "bearer", "expires_in": 5183944}
        ),
    )
    recorder.on(
        "GET",
        "/refresh_access_token",
        httpx.Response(
            200, json={"access_token": "long-2", "token_type": "bearer", "expires_in": 5183944}
        ),
    )
    p = provider(recorder, Credentials(extra={"client_secret": "app-secret"}))
    request = p.authorization_url(redirect_uri="https://dialogo.example/cb", state="s")
    assert request.url.startswith("https://threads.net/oauth/authorize?")
    assert request.code_verifier is None
    granted = p.exchange_code(
        code="AQB", redirect_uri="https://dialogo.example/cb", code_verifier=None
    )
    assert (granted.access_token, granted.account_id) == ("long", ME)
    assert granted.expires_at is not None
    assert form(recorder.requests[0])["grant_type"] == "authorization_code"
    params = recorder.requests[1].url.params
    assert (params["grant_type"], params["access_token"]) == ("th_exchange_token", "short")
    renewed = provider(recorder, granted).refresh()
    assert renewed.access_token == "long-2"
    assert recorder.requests[2].url.params["grant_type"] == "th_refresh_token"


def test_a_refused_code_needs_a_new_authorisation() -> None:
    recorder = Recorder()
    recorder.on(
        "POST",
        "/oauth/access_token",
        httpx.Response(
            400,
            json={
                "error": {
                    "message": "Invalid verification code format.",
                    "type": "OAuthException",
                    "code": 100,
                }
            },
        ),
    )
    p = provider(recorder, Credentials(extra={"client_secret": "s"}))
    with pytest.raises(ReauthRequired, match="Invalid verification code"):
        p.exchange_code(code="bad", redirect_uri="https://dialogo.example/cb", code_verifier=None)


def test_insights_become_metrics() -> None:
    recorder = Recorder()
    recorder.on(
        "GET",
        f"{V}/p1/insights",
        httpx.Response(
            200,
            json={
                "data": [
                    {"name": "views", "period": "lifetime", "values": [{"value": 1200}]},
                    {"name": "likes", "period": "lifetime", "values": [{"value": 80}]},
                    {"name": "replies", "period": "lifetime", "values": [{"value": 12}]},
                    {"name": "reposts", "period": "lifetime", "values": [{"value": 5}]},
                    {"name": "quotes", "period": "lifetime", "values": [{"value": 2}]},
                ]
            },
        ),
    )
    [m] = provider(recorder).fetch_metrics(["p1"])
    assert (m.impressions, m.likes, m.replies, m.reposts, m.quotes) == (1200, 80, 12, 5, 2)


def test_rate_limit_and_lost_answer() -> None:
    recorder = Recorder()
    recorder.on(
        "POST",
        f"{V}/{ME}/threads",
        httpx.Response(
            400,
            json={"error": {"message": "Application request limit reached", "code": 4}},
        ),
    )
    with pytest.raises(RateLimited):
        provider(recorder).publish(Draft(text="x"))
    lost = Recorder()
    lost.on("POST", f"{V}/{ME}/threads", httpx.Response(200, json={"id": "c"}))
    lost.on("GET", f"{V}/c", status("FINISHED"))
    lost.on("POST", f"{V}/{ME}/threads_publish", httpx.ReadTimeout("no answer"))
    with pytest.raises(OutcomeUnknown):
        provider(lost).publish(Draft(text="x"))
