"""The Facebook Pages provider against HTTP answers written from Meta's documentation:
Pages API "Get Started" (``/me/accounts`` with Page tokens), "Posts" (``/page_id/feed`` with
``message``/``link``, multi-photo posts with ``published=false`` photos and
``attached_media``), Page Photos, Comments (``filter=stream``, ``parent``), Page Post Insights
(``post_impressions``…), Facebook Login "Manually Build a Login Flow" and "Long-Lived Access
Tokens" (``fb_exchange_token``), and "Handling errors" (Graph error codes)."""

from __future__ import annotations

import json
import urllib.parse

import httpx
import pytest

from dialogo.providers.base import Credentials, Draft, Media, MessageKind, RemoteRef
from dialogo.providers.errors import (
    InsufficientScopes,
    InvalidPayload,
    OutcomeUnknown,
    RateLimited,
    ReauthRequired,
    TransientError,
)
from dialogo.providers.facebook.provider import FacebookProvider, first_link
from tests.providers.x.test_provider import Recorder

PAGE = "104512345678901"
V = "/v23.0"
JPEG = b"\xff\xd8\xff\xe0" + b"\0" * 40


def photo(name: str) -> Media:
    return Media(JPEG, "image/jpeg", url=f"https://media.dialogo.example/{name}.jpg")


def page_credentials() -> Credentials:
    return Credentials(
        access_token="page-token",
        account_id=PAGE,
        extra={"token_kind": "page", "user_token": "user-token"},
    )


def provider(
    recorder: Recorder, credentials: Credentials | None = None, **config: str
) -> FacebookProvider:
    return FacebookProvider(
        credentials or page_credentials(),
        http=httpx.Client(transport=httpx.MockTransport(recorder)),
        config={"client_id": "1234567890", "page_id": PAGE, **config},
    )


def form(request: httpx.Request) -> dict[str, str]:
    return dict(urllib.parse.parse_qsl(request.content.decode()))


def graph_error(code: int, message: str, status: int = 400, **extra: object) -> httpx.Response:
    return httpx.Response(
        status,
        json={"error": {"message": message, "type": "OAuthException", "code": code, **extra}},
    )


ACCOUNTS = {
    "data": [
        {
            "access_token": "page-token",
            "category": "Coffee Shop",
            "name": "Caffè Aurora",
            "id": PAGE,
            "tasks": ["ANALYZE", "ADVERTISE", "MODERATE", "CREATE_CONTENT", "MANAGE"],
        },
        {
            "access_token": "other-page-token",
            "category": "Bakery",
            "name": "Forno Aurora",
            "id": "104599999999999",
            "tasks": ["CREATE_CONTENT"],
        },
    ]
}
PAGE_FIELDS = {
    "id": PAGE,
    "name": "Caffè Aurora",
    "username": "caffeaurora",
    "link": "https://www.facebook.com/caffeaurora",
    "followers_count": 4210,
}


def test_the_code_becomes_a_long_lived_user_token_then_verify_swaps_to_the_page_token() -> None:
    recorder = Recorder()
    recorder.on(
        "GET",
        f"{V}/oauth/access_token",
        httpx.Response(
            200, json={"access_token": "short-user", "token_type": "bearer", "expires_in": 5183}
        ),
        httpx.Response(
            200,
            json={"access_token": "long-user", "token_type": "bearer", "expires_in": 5183944},
        ),
    )
    recorder.on("GET", f"{V}/me/accounts", httpx.Response(200, json=ACCOUNTS))
    recorder.on("GET", f"{V}/{PAGE}", httpx.Response(200, json=PAGE_FIELDS))
    p = provider(recorder, Credentials(extra={"client_secret": "app-secret"}))
    request = p.authorization_url(redirect_uri="https://dialogo.example/cb", state="s")
    assert request.code_verifier is None  # Facebook Login: no PKCE for a web app
    assert request.url.startswith("https://www.facebook.com/v23.0/dialog/oauth?")
    assert "pages_manage_posts" in urllib.parse.unquote(request.url)
    granted = p.exchange_code(
        code="AQD", redirect_uri="https://dialogo.example/cb", code_verifier=None
    )
    assert granted.access_token == "long-user" and granted.expires_at is not None
    first, second = recorder.sent("GET", f"{V}/oauth/access_token")
    assert (first.url.params["code"], first.url.params["client_secret"]) == ("AQD", "app-secret")
    assert (second.url.params["grant_type"], second.url.params["fb_exchange_token"]) == (
        "fb_exchange_token",
        "short-user",
    )

    connected = provider(recorder, granted)
    account = connected.verify()
    assert (account.remote_id, account.handle, account.display_name, account.followers) == (
        PAGE,
        "caffeaurora",
        "Caffè Aurora",
        4210,
    )
    assert (
        recorder.sent("GET", f"{V}/me/accounts")[0].headers["authorization"] == "Bearer long-user"
    )
    assert recorder.sent("GET", f"{V}/{PAGE}")[0].headers["authorization"] == "Bearer page-token"
    stored = connected.credentials
    assert (stored.access_token, stored.account_id, stored.expires_at) == ("page-token", PAGE, None)
    assert stored.extra["user_token"] == "long-user" and stored.extra["token_kind"] == "page"
    assert all("long-user" not in str(r.url) for r in recorder.sent("GET", f"{V}/me/accounts"))


def test_a_page_the_person_does_not_manage_is_a_clear_error() -> None:
    recorder = Recorder()
    recorder.on("GET", f"{V}/me/accounts", httpx.Response(200, json=ACCOUNTS))
    user = Credentials(access_token="long-user", extra={"user_token": "long-user"})
    with pytest.raises(InvalidPayload, match=r"does not manage the Page 999.*Forno Aurora"):
        provider(recorder, user, page_id="999").verify()
    with pytest.raises(InvalidPayload, match="manages 2 Pages"):
        provider(recorder, user, page_id="").verify()


def test_a_text_post_goes_to_the_feed_with_its_link() -> None:
    recorder = Recorder()
    recorder.on("POST", f"{V}/{PAGE}/feed", httpx.Response(200, json={"id": f"{PAGE}_555"}))
    result = provider(recorder).publish(
        Draft(text="La miscela d'autunno: https://caffeaurora.example/autunno.")
    )
    assert (result.remote_id, result.url) == (
        f"{PAGE}_555",
        f"https://www.facebook.com/{PAGE}_555",
    )
    assert form(recorder.requests[0]) == {
        "message": "La miscela d'autunno: https://caffeaurora.example/autunno.",
        "link": "https://caffeaurora.example/autunno",
    }
    assert recorder.requests[0].headers["authorization"] == "Bearer page-token"


def test_one_photo_is_published_by_the_photos_edge() -> None:
    recorder = Recorder()
    recorder.on(
        "POST",
        f"{V}/{PAGE}/photos",
        httpx.Response(200, json={"id": "8801", "post_id": f"{PAGE}_8802"}),
    )
    result = provider(recorder).publish(Draft(text="Tazza", media=[photo("a")]))
    assert result.remote_id == f"{PAGE}_8802"
    assert form(recorder.requests[0]) == {
        "url": "https://media.dialogo.example/a.jpg",
        "message": "Tazza",
    }


def test_several_photos_are_uploaded_unpublished_then_attached_to_one_post() -> None:
    recorder = Recorder()
    recorder.on(
        "POST",
        f"{V}/{PAGE}/photos",
        httpx.Response(200, json={"id": "9001"}),
        httpx.Response(200, json={"id": "9002"}),
    )
    recorder.on("POST", f"{V}/{PAGE}/feed", httpx.Response(200, json={"id": f"{PAGE}_9100"}))
    result = provider(recorder).publish(Draft(text="Album", media=[photo("a"), photo("b")]))
    assert result.remote_id == f"{PAGE}_9100"
    uploads = [form(r) for r in recorder.sent("POST", f"{V}/{PAGE}/photos")]
    assert uploads == [
        {"url": "https://media.dialogo.example/a.jpg", "published": "false"},
        {"url": "https://media.dialogo.example/b.jpg", "published": "false"},
    ]
    feed = form(recorder.sent("POST", f"{V}/{PAGE}/feed")[0])
    assert feed["message"] == "Album"
    assert json.loads(feed["attached_media[0]"]) == {"media_fbid": "9001"}
    assert json.loads(feed["attached_media[1]"]) == {"media_fbid": "9002"}


def test_validation_refuses_what_facebook_refuses_without_a_request() -> None:
    recorder = Recorder()
    p = provider(recorder)
    no_url = Draft(text="x", media=[Media(JPEG, "image/jpeg")])
    assert [i.code for i in p.validate(no_url)] == ["media_url_required"]
    video = Draft(text="x", media=[Media(b"v", "video/mp4", url="https://m.example/v.mp4")])
    assert [i.code for i in p.validate(video)] == ["media_type"]
    with pytest.raises(InvalidPayload, match="public https address"):
        p.publish(no_url)
    assert recorder.requests == []


def test_a_reply_is_a_comment_on_the_comment() -> None:
    recorder = Recorder()
    recorder.on(
        "POST", f"{V}/{PAGE}_555_7001/comments", httpx.Response(200, json={"id": "555_7009"})
    )
    result = provider(recorder).reply(RemoteRef(f"{PAGE}_555_7001"), Draft(text="Grazie Anna!"))
    assert result.remote_id == "555_7009"
    assert form(recorder.requests[0]) == {"message": "Grazie Anna!"}


def test_comments_and_answers_newer_than_the_cursor_become_messages() -> None:
    recorder = Recorder()
    recorder.on(
        "GET",
        f"{V}/{PAGE}/published_posts",
        httpx.Response(
            200,
            json={
                "data": [
                    {
                        "id": f"{PAGE}_2",
                        "message": "Autunno",
                        "created_time": "2026-11-21T09:00:00+0000",
                    },
                    {
                        "id": f"{PAGE}_1",
                        "message": "Estate",
                        "created_time": "2026-08-01T09:00:00+0000",
                    },
                ],
                "paging": {"cursors": {"before": "b", "after": "a"}},
            },
        ),
    )
    recorder.on(
        "GET",
        f"{V}/{PAGE}_2/comments",
        httpx.Response(
            200,
            json={
                "data": [
                    {
                        "id": "2_c3",
                        "message": "Siete aperti domenica?",
                        "created_time": "2026-11-22T10:00:00+0000",
                        "from": {"id": "6001", "name": "Anna Rossi"},
                        "permalink_url": "https://www.facebook.com/caffeaurora/posts/2?comment_id=3",
                    },
                    {
                        "id": "2_c4",
                        "message": "Anche io vorrei saperlo",
                        "created_time": "2026-11-22T11:00:00+0000",
                        "from": {"id": "6002", "name": "Luca Bianchi"},
                        "parent": {"id": "2_c3"},
                    },
                    {
                        "id": "2_c5",
                        "message": "Sì, dalle 8!",
                        "created_time": "2026-11-22T12:00:00+0000",
                        "from": {"id": PAGE, "name": "Caffè Aurora"},
                        "parent": {"id": "2_c3"},
                    },
                    {
                        "id": "2_c1",
                        "message": "vecchio",
                        "created_time": "2026-11-20T10:00:00+0000",
                        "from": {"id": "6003", "name": "Marco"},
                    },
                ]
            },
        ),
    )
    recorder.on("GET", f"{V}/{PAGE}_1/comments", httpx.Response(200, json={"data": []}))
    recorder.on("GET", f"{V}/{PAGE}/conversations", httpx.Response(200, json={"data": []}))
    page = provider(recorder).fetch_messages("2026-11-21T00:00:00+00:00")
    assert [(m.remote_id, m.kind, m.author.display_name, m.in_reply_to) for m in page.messages] == [
        ("2_c3", MessageKind.comment, "Anna Rossi", f"{PAGE}_2"),
        ("2_c4", MessageKind.reply, "Luca Bianchi", "2_c3"),
    ]
    assert page.cursor == "2026-11-22T11:00:00+00:00"
    params = recorder.sent("GET", f"{V}/{PAGE}_2/comments")[0].url.params
    assert params["filter"] == "stream"
    # Nothing newer: the cursor stays where it was.
    again = provider(recorder).fetch_messages(page.cursor)
    assert again.messages == [] and again.cursor == page.cursor


def test_insights_and_the_summary_become_metrics() -> None:
    recorder = Recorder()
    recorder.on(
        "GET",
        f"{V}/{PAGE}_2/insights",
        httpx.Response(
            200,
            json={
                "data": [
                    {"name": "post_impressions", "period": "lifetime", "values": [{"value": 5400}]},
                    {
                        "name": "post_impressions_unique",
                        "period": "lifetime",
                        "values": [{"value": 3100}],
                    },
                    {"name": "post_clicks", "period": "lifetime", "values": [{"value": 87}]},
                ]
            },
        ),
    )
    recorder.on(
        "GET",
        f"{V}/{PAGE}_2",
        httpx.Response(
            200,
            json={
                "id": f"{PAGE}_2",
                "reactions": {"data": [], "summary": {"total_count": 220}},
                "comments": {"data": [], "summary": {"order": "ranked", "total_count": 14}},
                "shares": {"count": 9},
            },
        ),
    )
    [metrics] = provider(recorder).fetch_metrics([f"{PAGE}_2"])
    assert (
        metrics.impressions,
        metrics.reach,
        metrics.clicks,
        metrics.likes,
        metrics.replies,
        metrics.reposts,
    ) == (5400, 3100, 87, 220, 14, 9)


@pytest.mark.parametrize(
    ("answer", "error"),
    [
        (graph_error(190, "Error validating access token", error_subcode=460), ReauthRequired),
        (
            graph_error(200, "(#200) Requires pages_manage_posts permission", 403),
            InsufficientScopes,
        ),
        (graph_error(32, "Page request limit reached"), RateLimited),
        (graph_error(2, "Service temporarily unavailable", 503), TransientError),
        (graph_error(100, "(#100) Invalid parameter"), InvalidPayload),
    ],
)
def test_graph_errors_map_to_the_shared_ones(
    answer: httpx.Response, error: type[Exception]
) -> None:
    recorder = Recorder()
    recorder.on("POST", f"{V}/{PAGE}/feed", answer)
    with pytest.raises(error):
        provider(recorder).publish(Draft(text="Ciao"))


def test_a_lost_answer_to_a_post_is_an_unknown_outcome() -> None:
    recorder = Recorder()
    recorder.on("POST", f"{V}/{PAGE}/feed", httpx.ReadTimeout("no answer"))
    with pytest.raises(OutcomeUnknown):
        provider(recorder).publish(Draft(text="Ciao"))


def test_refresh_reads_the_page_token_again_with_the_user_token() -> None:
    recorder = Recorder()
    recorder.on("GET", f"{V}/me/accounts", httpx.Response(200, json=ACCOUNTS))
    renewed = provider(recorder).refresh()
    assert (renewed.access_token, renewed.account_id) == ("page-token", PAGE)
    assert recorder.requests[0].headers["authorization"] == "Bearer user-token"


def test_first_link() -> None:
    assert first_link("vedi https://a.example/x?y=1, e poi") == "https://a.example/x?y=1"
    assert first_link("niente") is None
