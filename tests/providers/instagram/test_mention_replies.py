"""Answering an Instagram @mention on another account's media: ``POST /<ig-user>/mentions`` with
``media_id`` (+ ``comment_id``) and ``message`` (Meta's "IG User Mentions" reference; answers
written from its samples), the refusals with a clear message, rate limits and outages through
the shared errors; and which host serves what (Instagram Login answers mentions, but does not
serve the mentioned_media / mentioned_comment reads)."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from dialogo.providers.base import Credentials, Draft, RemoteRef
from dialogo.providers.errors import (
    InsufficientScopes,
    InvalidPayload,
    RateLimited,
    TransientError,
)
from dialogo.providers.instagram.provider import InstagramProvider
from tests.providers.x.test_provider import Recorder

IG = "17841405309211844"
MEDIA = "17920112008063024"
COMMENT = "17873440459141021"
MENTIONS = f"/v23.0/{IG}/mentions"
FACEBOOK_LOGIN = "https://graph.facebook.com"


def provider(recorder: Recorder, graph_url: str | None = FACEBOOK_LOGIN) -> InstagramProvider:
    config = {"client_id": "ig-app"} | ({"graph_url": graph_url} if graph_url else {})
    return InstagramProvider(
        Credentials(access_token="ig-token", account_id=IG),
        http=httpx.Client(transport=httpx.MockTransport(recorder)),
        config=config,
    )


def caption_mention() -> RemoteRef:
    """A stored caption @mention's reference (what the fetch job keeps: its string values)."""
    return RemoteRef(
        remote_id=MEDIA,
        conversation_id=MEDIA,
        extra={"mention": "caption", "media_id": MEDIA, "id": MEDIA, "username": "luca.b"},
    )


def comment_mention() -> RemoteRef:
    return RemoteRef(
        remote_id=COMMENT,
        conversation_id=MEDIA,
        extra={"mention": "comment", "media_id": MEDIA, "comment_id": COMMENT, "id": COMMENT},
    )


def graph_error(status: int, code: int, message: str, **extra: Any) -> httpx.Response:
    error = {"message": message, "type": "OAuthException", "code": code, "fbtrace_id": "A"}
    return httpx.Response(status, json={"error": {**error, **extra}})


def form(request: httpx.Request) -> dict[str, str]:
    return dict(httpx.QueryParams(request.content.decode()))


@pytest.mark.parametrize("graph_url", [FACEBOOK_LOGIN, None])  # None: Instagram Login's host
def test_a_caption_mention_is_answered_on_the_media(graph_url: str | None) -> None:
    recorder = Recorder()
    recorder.on("POST", MENTIONS, httpx.Response(200, json={"id": "17846319838228163"}))
    result = provider(recorder, graph_url).reply(
        caption_mention(), Draft(text="Thanks for the dinosaur!")
    )
    assert result.remote_id == "17846319838228163"
    [sent] = recorder.sent("POST", MENTIONS)
    assert sent.url.host == (httpx.URL(graph_url).host if graph_url else "graph.instagram.com")
    assert form(sent) == {"media_id": MEDIA, "message": "Thanks for the dinosaur!"}
    assert not recorder.sent("POST", f"/v23.0/{MEDIA}/replies")  # not a comment on our media


def test_a_comment_mention_is_answered_under_the_comment() -> None:
    recorder = Recorder()
    recorder.on("POST", MENTIONS, httpx.Response(200, json={"id": "17846319838228164"}))
    result = provider(recorder).reply(comment_mention(), Draft(text="Grazie Giulia!"))
    assert result.remote_id == "17846319838228164"
    [sent] = recorder.sent("POST", MENTIONS)
    assert form(sent) == {"media_id": MEDIA, "comment_id": COMMENT, "message": "Grazie Giulia!"}


def test_a_mention_no_longer_available_is_refused_with_a_clear_message() -> None:
    recorder = Recorder()
    recorder.on(
        "POST",
        MENTIONS,
        graph_error(
            400,
            100,
            f"Unsupported post request. Object with ID '{MEDIA}' does not exist, cannot be loaded "
            "due to missing permissions, or does not support this operation.",
            error_subcode=33,
        ),
    )
    with pytest.raises(InvalidPayload) as caught:
        provider(recorder).reply(comment_mention(), Draft(text="Grazie!"))
    message = caught.value.message
    assert f"@mention in comment {COMMENT} on media {MEDIA}" in message
    assert "no longer available" in message and "does not exist" in message
    assert not caught.value.transient


def test_a_missing_permission_is_refused_with_a_clear_message() -> None:
    recorder = Recorder()
    recorder.on(
        "POST", MENTIONS, graph_error(403, 10, "(#10) Application does not have permission")
    )
    with pytest.raises(InsufficientScopes) as caught:
        provider(recorder).reply(caption_mention(), Draft(text="Grazie!"))
    assert "comment permission" in caught.value.message
    assert "does not have permission" in caught.value.message


def test_rate_limits_and_outages_are_the_shared_errors() -> None:
    recorder = Recorder()
    recorder.on(
        "POST",
        MENTIONS,
        graph_error(429, 32, "Page request limit reached"),
        graph_error(500, 2, "Service temporarily unavailable", is_transient=True),
        httpx.Response(502, text="Bad gateway"),
    )
    ig = provider(recorder)
    with pytest.raises(RateLimited) as limited:
        ig.reply(caption_mention(), Draft(text="Grazie!"))
    assert limited.value.retry_after > 0
    for _ in range(2):
        with pytest.raises(TransientError):
            ig.reply(caption_mention(), Draft(text="Grazie!"))


def test_a_mention_without_its_ids_or_text_is_refused_before_any_request() -> None:
    recorder = Recorder()
    lost = RemoteRef(remote_id=COMMENT, extra={"mention": "comment", "media_id": MEDIA})
    with pytest.raises(InvalidPayload, match="lost the Instagram ids"):
        provider(recorder).reply(lost, Draft(text="Grazie!"))
    with pytest.raises(InvalidPayload, match="needs text"):
        provider(recorder).reply(caption_mention(), Draft(text="  "))
    assert recorder.requests == []


def test_instagram_login_refusing_the_mention_read_says_where_it_is_served() -> None:
    recorder = Recorder()
    recorder.on(
        "GET",
        f"/v23.0/{IG}",
        httpx.Response(
            400,
            json={
                "error": {
                    "message": "(#100) Tried accessing nonexisting field (mentioned_comment)",
                    "type": "OAuthException",
                    "code": 100,
                    "fbtrace_id": "A",
                }
            },
        ),
    )
    with pytest.raises(InvalidPayload, match="Instagram Login") as caught:
        provider(recorder, None).fetch_mention(MEDIA, COMMENT)
    message = caught.value.message
    assert "graph.facebook.com" in message and "nonexisting field" in message
    assert not caught.value.transient
    assert len(recorder.requests) == 1  # asked once: the field may be served after all
    assert provider(recorder, None).instagram_login
    assert not provider(recorder).instagram_login


def test_a_lost_answer_to_a_comment_mention_is_found_under_the_comment() -> None:
    recorder = Recorder()
    recorder.on(
        "GET",
        "/v23.0/me",
        httpx.Response(200, json={"user_id": IG, "username": "caffeaurora", "id": IG}),
    )
    recorder.on(
        "GET",
        f"/v23.0/{COMMENT}/replies",
        httpx.Response(
            200,
            json={
                "data": [
                    {
                        "id": "17846319838228164",
                        "text": "Grazie Giulia!",
                        "timestamp": "2026-12-06T09:20:00+0000",
                        "username": "caffeaurora",
                        "from": {"id": IG, "username": "caffeaurora"},
                    }
                ]
            },
        ),
    )
    [found] = provider(recorder).recent_replies(comment_mention())
    assert found.remote_id == "17846319838228164"
    with pytest.raises(NotImplementedError, match="another account's post"):
        provider(recorder).recent_replies(caption_mention())
