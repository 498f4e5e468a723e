"""The X provider against HTTP answers written from the X API v2 documentation (docs.x.com:
Create Post, User mention timeline, Posts lookup, Media upload, OAuth 2.0 with PKCE): the
exact requests sent, the answers read, the documented errors mapped to the shared ones."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import json
import time
import urllib.parse
from collections.abc import Callable
from typing import Any

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
from dialogo.providers.x.provider import SCOPES, XProvider, weighted_length

API = "https://api.x.com"
ME = "2244994945"
PNG = b"\x89PNG\r\n\x1a\n" + b"\0" * 40

Handler = Callable[[httpx.Request], httpx.Response]


class Recorder:
    """Answers requests in order of registration by (method, path) and records them."""

    def __init__(self) -> None:
        self.routes: dict[tuple[str, str], list[httpx.Response | Exception]] = {}
        self.requests: list[httpx.Request] = []

    def on(self, method: str, path: str, *answers: httpx.Response | Exception) -> None:
        self.routes.setdefault((method, path), []).extend(answers)

    def __call__(self, request: httpx.Request) -> httpx.Response:
        request.read()
        self.requests.append(request)
        queue = self.routes.get((request.method, request.url.path))
        assert queue, f"unexpected {request.method} {request.url}"
        answer = queue.pop(0) if len(queue) > 1 else queue[0]
        if isinstance(answer, Exception):
            raise answer
        return answer

    def sent(self, method: str, path: str) -> list[httpx.Request]:
        return [r for r in self.requests if r.method == method and r.url.path == path]


def provider(
    recorder: Recorder, *, credentials: Credentials | None = None, **config: str
) -> XProvider:
    return XProvider(
        credentials
        or Credentials(access_token="user-token", account_id=ME, extra={"username": "brand"}),
        http=httpx.Client(transport=httpx.MockTransport(recorder)),
        config={"client_id": "client-123", **config},
    )


def problem(status: int, title: str, detail: str, kind: str = "about:blank") -> httpx.Response:
    return httpx.Response(
        status, json={"title": title, "detail": detail, "type": kind, "status": status}
    )


def form(request: httpx.Request) -> dict[str, str]:
    return dict(urllib.parse.parse_qsl(request.content.decode()))


# -- text ------------------------------------------------------------------------------------


def test_weighted_length_counts_links_as_23_and_wide_characters_as_2() -> None:
    assert weighted_length("Ciao") == 4
    assert weighted_length("https://example.com/" + "a" * 200) == 23
    assert weighted_length("👍") == 2
    assert weighted_length("日本") == 4
    assert weighted_length("è") == 1


def test_validate_reports_each_problem_with_its_field() -> None:
    p = provider(Recorder())
    issues = p.validate(
        Draft(
            text="a" * 281,
            media=[Media(b"RIFF\0\0\0\0AVI LIST", "video/x-msvideo")],
            thread=[Draft(text="")],
        )
    )
    assert {(i.code, i.field) for i in issues} == {
        ("too_long", "text"),
        ("media_type", "media[0]"),
        ("empty", "thread[0].text"),
    }


# -- OAuth 2.0 with PKCE ---------------------------------------------------------------------


def test_authorization_url_asks_the_scopes_with_an_s256_challenge() -> None:
    p = provider(Recorder())
    request = p.authorization_url(redirect_uri="https://dialogo.example/cb", state="st4te")
    url = urllib.parse.urlsplit(request.url)
    query = dict(urllib.parse.parse_qsl(url.query))
    assert (url.netloc, url.path) == ("x.com", "/i/oauth2/authorize")
    assert query["response_type"] == "code"
    assert query["client_id"] == "client-123"
    assert query["state"] == "st4te" == request.state
    assert query["scope"].split(" ") == list(SCOPES)
    assert "offline.access" in SCOPES
    assert query["code_challenge_method"] == "S256"
    assert request.code_verifier and 43 <= len(request.code_verifier) <= 128
    digest = hashlib.sha256(request.code_verifier.encode()).digest()
    assert query["code_challenge"] == base64.urlsafe_b64encode(digest).rstrip(b"=").decode()
    assert request.code_verifier not in request.url


def test_a_connection_without_a_client_id_is_refused_clearly() -> None:
    p = XProvider(Credentials(), http=httpx.Client(transport=httpx.MockTransport(Recorder())))
    with pytest.raises(Exception, match="client id"):
        p.authorization_url(redirect_uri="https://dialogo.example/cb", state="s")


def test_code_exchange_sends_the_verifier_and_reads_the_expiry() -> None:
    recorder = Recorder()
    recorder.on(
        "POST",
        "/2/oauth2/token",
        httpx.Response(
            200,
            json={
                "token_type": "bearer",
                "expires_in": 7200,
                "access_token": "new-access",
                "scope": "tweet.read tweet.write users.read offline.access",
                "refresh_token": "new-refresh",
            },
        ),
    )
    before = dt.datetime.now(dt.UTC)
    credentials = provider(recorder, credentials=Credentials()).exchange_code(
        code="the-code", redirect_uri="https://dialogo.example/cb", code_verifier="v" * 64
    )
    sent = form(recorder.sent("POST", "/2/oauth2/token")[0])
    assert sent == {
        "grant_type": "authorization_code",
        "code": "the-code",
        "redirect_uri": "https://dialogo.example/cb",
        "code_verifier": "v" * 64,
        "client_id": "client-123",
    }
    assert credentials.access_token == "new-access"
    assert credentials.refresh_token == "new-refresh"
    assert credentials.expires_at is not None
    assert 7190 <= (credentials.expires_at - before).total_seconds() <= 7210


def test_a_confidential_app_authenticates_with_basic_auth() -> None:
    recorder = Recorder()
    recorder.on("POST", "/2/oauth2/token", httpx.Response(200, json={"access_token": "a"}))
    creds = Credentials(refresh_token="old", extra={"client_secret": "s3cret"})
    provider(recorder, credentials=creds).refresh()
    request = recorder.sent("POST", "/2/oauth2/token")[0]
    expected = base64.b64encode(b"client-123:s3cret").decode()
    assert request.headers["authorization"] == f"Basic {expected}"
    assert "client_id" not in form(request)


def test_refresh_keeps_the_rotated_refresh_token_and_never_loses_the_old_one() -> None:
    recorder = Recorder()
    recorder.on(
        "POST",
        "/2/oauth2/token",
        httpx.Response(200, json={"access_token": "a2", "refresh_token": "r2", "expires_in": 7200}),
        httpx.Response(200, json={"access_token": "a3", "expires_in": 7200}),
    )
    stored = Credentials(access_token="a1", refresh_token="r1", account_id=ME)
    first = stored.merged(provider(recorder, credentials=stored).refresh())
    assert form(recorder.requests[0])["refresh_token"] == "r1"
    assert (first.access_token, first.refresh_token) == ("a2", "r2")
    second = first.merged(provider(recorder, credentials=first).refresh())
    assert form(recorder.requests[1])["refresh_token"] == "r2"
    assert (second.access_token, second.refresh_token) == ("a3", "r2")


def test_a_revoked_refresh_token_asks_for_a_new_authorisation() -> None:
    recorder = Recorder()
    recorder.on(
        "POST",
        "/2/oauth2/token",
        httpx.Response(
            400,
            json={
                "error": "invalid_request",
                "error_description": "Value passed for the token was invalid.",
            },
        ),
    )
    with pytest.raises(ReauthRequired, match="connect the account again"):
        provider(recorder, credentials=Credentials(refresh_token="gone")).refresh()
    with pytest.raises(ReauthRequired, match=r"offline\.access"):
        provider(recorder, credentials=Credentials(access_token="a")).refresh()


# -- verify and publish ----------------------------------------------------------------------


def test_verify_reads_the_account_and_its_followers() -> None:
    recorder = Recorder()
    recorder.on(
        "GET",
        "/2/users/me",
        httpx.Response(
            200,
            json={
                "data": {
                    "id": ME,
                    "name": "Caffè Aurora",
                    "username": "caffeaurora",
                    "public_metrics": {"followers_count": 5120, "following_count": 10},
                }
            },
        ),
    )
    account = provider(recorder).verify()
    assert (account.remote_id, account.handle, account.followers) == (ME, "caffeaurora", 5120)
    assert account.url == "https://x.com/caffeaurora"
    assert recorder.requests[0].headers["authorization"] == "Bearer user-token"


def created(post_id: str, text: str = "") -> httpx.Response:
    return httpx.Response(201, json={"data": {"id": post_id, "text": text}})


def test_a_post_with_images_uploads_each_sets_alt_text_then_posts() -> None:
    recorder = Recorder()
    recorder.on(
        "POST",
        "/2/media/upload",
        httpx.Response(200, json={"data": {"id": "111", "media_key": "3_111"}}),
        httpx.Response(204),
        httpx.Response(200, json={"data": {"id": "111", "media_key": "3_111"}}),
        httpx.Response(200, json={"data": {"id": "222", "media_key": "3_222"}}),
        httpx.Response(204),
        httpx.Response(200, json={"data": {"id": "222", "media_key": "3_222"}}),
    )
    recorder.on("POST", "/2/media/metadata", httpx.Response(200, json={"data": {}}))
    recorder.on("POST", "/2/tweets", created("1846987139428634858"))
    result = provider(recorder).publish(
        Draft(
            text="Autunno in torrefazione ☕",
            media=[Media(PNG, "image/png", alt_text="chicchi di caffè"), Media(PNG, "image/png")],
        )
    )
    assert result.remote_id == "1846987139428634858"
    assert result.url == "https://x.com/brand/status/1846987139428634858"
    uploads = recorder.sent("POST", "/2/media/upload")
    bodies = [r.content for r in uploads]
    kinds = [next(c for c in (b"INIT", b"APPEND", b"FINALIZE") if c in body) for body in bodies]
    assert kinds == [b"INIT", b"APPEND", b"FINALIZE"] * 2
    assert all(b"multipart/form-data" in r.headers["content-type"].encode() for r in uploads)
    assert b'name="media_type"\r\n\r\nimage/png' in bodies[0]
    assert f'name="total_bytes"\r\n\r\n{len(PNG)}'.encode() in bodies[0]
    assert b'name="media_id"\r\n\r\n111' in bodies[1]
    assert PNG in bodies[1]
    metadata = [json.loads(r.content) for r in recorder.sent("POST", "/2/media/metadata")]
    assert metadata == [{"id": "111", "metadata": {"alt_text": {"text": "chicchi di caffè"}}}]
    post = json.loads(recorder.sent("POST", "/2/tweets")[0].content)
    assert post == {"text": "Autunno in torrefazione ☕", "media": {"media_ids": ["111", "222"]}}


def test_a_thread_replies_to_each_previous_post_and_a_reply_names_its_target() -> None:
    recorder = Recorder()
    recorder.on("POST", "/2/tweets", created("10"), created("11"), created("12"))
    result = provider(recorder).publish(
        Draft(text="uno", thread=[Draft(text="due"), Draft(text="tre")])
    )
    assert (result.remote_id, list(result.thread_ids)) == ("10", ["11", "12"])
    bodies = [json.loads(r.content) for r in recorder.sent("POST", "/2/tweets")]
    assert bodies == [
        {"text": "uno"},
        {"text": "due", "reply": {"in_reply_to_tweet_id": "10"}},
        {"text": "tre", "reply": {"in_reply_to_tweet_id": "11"}},
    ]
    again = Recorder()
    again.on("POST", "/2/tweets", created("20"))
    provider(again).reply(RemoteRef("19"), Draft(text="Grazie!"))
    assert json.loads(again.requests[0].content)["reply"] == {"in_reply_to_tweet_id": "19"}


def test_a_thread_cut_short_says_which_posts_exist() -> None:
    recorder = Recorder()
    recorder.on(
        "POST",
        "/2/tweets",
        created("10"),
        problem(503, "Service Unavailable", "Service Unavailable"),
    )
    with pytest.raises(TransientError) as caught:
        provider(recorder).publish(Draft(text="uno", thread=[Draft(text="due")]))
    assert caught.value.details["published"] == ["10"]


def test_an_invalid_draft_is_never_sent() -> None:
    recorder = Recorder()
    with pytest.raises(InvalidPayload, match="280"):
        provider(recorder).publish(Draft(text="x" * 300))
    assert recorder.requests == []


@pytest.mark.parametrize(
    ("answer", "error", "attribute"),
    [
        (problem(401, "Unauthorized", "Unauthorized"), ReauthRequired, None),
        (
            problem(
                403,
                "Forbidden",
                "You are not allowed to create a Tweet with duplicate content.",
            ),
            InvalidPayload,
            ("issues", ["duplicate_content"]),
        ),
        (
            problem(
                403,
                "Client Forbidden",
                "This request must be made using an approved developer account that is "
                "enrolled in the requested endpoint.",
                "https://api.twitter.com/2/problems/client-forbidden",
            ),
            InsufficientScopes,
            ("missing", ["tweet.write"]),
        ),
        (
            httpx.Response(
                400,
                json={
                    "errors": [{"message": "The `text` field is too long."}],
                    "title": "Invalid Request",
                    "detail": "One or more parameters to your request was invalid.",
                    "type": "https://api.twitter.com/2/problems/invalid-request",
                },
            ),
            InvalidPayload,
            None,
        ),
        (problem(500, "Internal Server Error", "Internal Server Error"), TransientError, None),
    ],
)
def test_documented_errors_map_to_the_shared_ones(
    answer: httpx.Response, error: type[Exception], attribute: tuple[str, Any] | None
) -> None:
    recorder = Recorder()
    recorder.on("POST", "/2/tweets", answer)
    with pytest.raises(error) as caught:
        provider(recorder).publish(Draft(text="ciao"))
    if attribute is not None:
        assert getattr(caught.value, attribute[0]) == attribute[1]


def test_429_waits_until_the_announced_reset() -> None:
    recorder = Recorder()
    reset = int(time.time()) + 600
    recorder.on(
        "GET",
        f"/2/users/{ME}/mentions",
        httpx.Response(
            429,
            headers={
                "x-rate-limit-limit": "75",
                "x-rate-limit-remaining": "0",
                "x-rate-limit-reset": str(reset),
            },
            json={
                "title": "Too Many Requests",
                "detail": "Too Many Requests",
                "type": "about:blank",
                "status": 429,
            },
        ),
    )
    with pytest.raises(RateLimited) as caught:
        provider(recorder).fetch_messages(None)
    assert 598 <= caught.value.retry_after <= 601


def test_a_lost_answer_to_a_post_is_an_unknown_outcome_but_to_a_read_is_transient() -> None:
    recorder = Recorder()
    recorder.on("POST", "/2/tweets", httpx.ReadTimeout("no answer"))
    recorder.on("GET", f"/2/users/{ME}/mentions", httpx.ReadTimeout("no answer"))
    with pytest.raises(OutcomeUnknown):
        provider(recorder).publish(Draft(text="ciao"))
    with pytest.raises(TransientError) as caught:
        provider(recorder).fetch_messages(None)
    assert not isinstance(caught.value, OutcomeUnknown)


def test_recent_posts_for_reconciliation() -> None:
    recorder = Recorder()
    recorder.on(
        "GET",
        f"/2/users/{ME}/tweets",
        httpx.Response(
            200,
            json={
                "data": [
                    {"id": "31", "text": "Nuova miscela", "created_at": "2026-11-20T09:00:00.000Z"},
                    {"id": "30", "text": "Buongiorno", "created_at": "2026-11-19T09:00:00.000Z"},
                ],
                "meta": {"result_count": 2, "newest_id": "31", "oldest_id": "30"},
            },
        ),
    )
    posts = provider(recorder).recent_posts(limit=2)
    assert [(p.remote_id, p.state["text"]) for p in posts] == [
        ("31", "Nuova miscela"),
        ("30", "Buongiorno"),
    ]
    assert recorder.requests[0].url.params["max_results"] == "5"  # X's minimum


def timeline_page(first: int, last: int, next_token: str | None) -> httpx.Response:
    """A page of ``GET /2/users/:id/tweets``: posts ``first`` down to ``last``."""
    meta: dict[str, Any] = {"result_count": first - last + 1}
    if next_token:
        meta["next_token"] = next_token
    return httpx.Response(
        200,
        json={
            "data": [
                {"id": str(n), "text": f"post {n}", "created_at": f"2026-11-20T09:{n:02d}:00.000Z"}
                for n in range(first, last - 1, -1)
            ],
            "meta": meta,
        },
    )


def timeline_recorder(*pages: tuple[int, int, str | None]) -> Recorder:
    """A recorder answering the user's timeline with these pages, in order."""
    recorder = Recorder()
    recorder.on("GET", f"/2/users/{ME}/tweets", *(timeline_page(*page) for page in pages))
    return recorder


def test_recent_posts_page_with_the_next_token() -> None:
    """X answers at most 100 posts a request (``max_results`` 5-100) and a ``next_token``
    while there are more (docs.x.com, Pagination): three pages are read, each asked with the
    token of the one before; the listing is exhausted when X omits the token."""
    recorder = timeline_recorder((59, 50, "tok-1"), (49, 40, "tok-2"), (39, 35, None))
    listing = provider(recorder).recent_posts(limit=250)
    assert [p.remote_id for p in listing] == [str(n) for n in range(59, 34, -1)]
    assert listing.exhausted
    asked = [r.url.params for r in recorder.sent("GET", f"/2/users/{ME}/tweets")]
    assert [(p.get("pagination_token"), p["max_results"]) for p in asked] == [
        (None, "100"),
        ("tok-1", "100"),
        ("tok-2", "100"),  # X may answer fewer than asked: never a sign of the end
    ]


def test_recent_posts_stop_at_the_limit_without_claiming_the_end() -> None:
    recorder = timeline_recorder((59, 50, "tok-1"), (49, 40, "tok-2"))
    listing = provider(recorder).recent_posts(limit=12)
    assert [p.remote_id for p in listing] == [str(n) for n in range(59, 47, -1)]
    assert not listing.exhausted
    asked = [r.url.params for r in recorder.sent("GET", f"/2/users/{ME}/tweets")]
    assert [p["max_results"] for p in asked] == ["12", "5"]  # 2 left; X's minimum is 5


def test_recent_replies_ask_the_timeline_from_since() -> None:
    """A reply on X is a post: with ``since`` the timeline is asked from then on with its
    documented ``start_time`` (UTC, to the second), and an older post answered anyway is not
    returned; without it, the request and the answer are those of ``recent_posts``."""
    since = dt.datetime(
        2026, 11, 20, 10, 55, 30, 700_000, tzinfo=dt.timezone(dt.timedelta(hours=1))
    )
    recorder = timeline_recorder((59, 50, None))
    found = provider(recorder).recent_replies(RemoteRef("1"), limit=20, since=since)
    assert [p.remote_id for p in found] == ["59", "58", "57", "56"]  # 09:55:00 is before since
    [asked] = recorder.sent("GET", f"/2/users/{ME}/tweets")
    assert asked.url.params["start_time"] == "2026-11-20T09:55:30Z"
    recorder = timeline_recorder((59, 50, None))
    everything = provider(recorder).recent_replies(RemoteRef("1"), limit=20)
    assert [p.remote_id for p in everything] == [str(n) for n in range(59, 49, -1)]
    assert "start_time" not in recorder.sent("GET", f"/2/users/{ME}/tweets")[0].url.params


def test_recent_direct_replies_since_are_left_out_here() -> None:
    """``dm_events`` takes no time: the request is unchanged, the older messages dropped."""
    person = "6253282"
    recorder = Recorder()
    recorder.on(
        "GET",
        f"/2/dm_conversations/with/{person}/dm_events",
        httpx.Response(
            200,
            json={
                "data": [
                    {
                        "id": str(n),
                        "event_type": "MessageCreate",
                        "text": f"message {n}",
                        "sender_id": ME,
                        "dm_conversation_id": f"{person}-{ME}",
                        "created_at": f"2026-11-20T09:{n:02d}:00.000Z",
                    }
                    for n in (40, 30, 20)
                ],
                "meta": {"result_count": 3},
            },
        ),
    )
    target = RemoteRef("1", extra={"dm_network": "x", "dm_user_id": person})
    since = dt.datetime(2026, 11, 20, 9, 25, tzinfo=dt.UTC)
    found = provider(recorder).recent_replies(target, limit=10, since=since)
    assert [p.remote_id for p in found] == ["40", "30"]
    assert [p.remote_id for p in provider(recorder).recent_replies(target, limit=10)] == [
        "40",
        "30",
        "20",
    ]
    first, second = recorder.sent("GET", f"/2/dm_conversations/with/{person}/dm_events")
    assert first.url.params == second.url.params and "start_time" not in first.url.params


# -- inbound ---------------------------------------------------------------------------------


def mentions_page(posts: list[dict[str, Any]], meta: dict[str, Any]) -> httpx.Response:
    return httpx.Response(
        200,
        json={
            "data": posts,
            "includes": {
                "users": [
                    {
                        "id": "6253282",
                        "name": "Giulia",
                        "username": "giulia_r",
                        "public_metrics": {"followers_count": 812},
                    }
                ]
            },
            "meta": meta,
        },
    )


def mention(post_id: str, text: str, **fields: Any) -> dict[str, Any]:
    return {
        "id": post_id,
        "text": text,
        "author_id": "6253282",
        "created_at": "2026-11-22T18:04:11.000Z",
        "conversation_id": fields.pop("conversation_id", post_id),
        "lang": "it",
        **fields,
    }


def test_mentions_are_classified_and_the_cursor_follows_a_paged_burst() -> None:
    recorder = Recorder()
    recorder.on(
        "GET",
        f"/2/users/{ME}/mentions",
        mentions_page(
            [
                mention(
                    "105",
                    "@brand il mio ordine non è arrivato",
                    in_reply_to_user_id=ME,
                    conversation_id="90",
                    referenced_tweets=[{"type": "replied_to", "id": "90"}],
                ),
                mention("104", "Adoro il caffè di @brand"),
                {"id": "103", "text": "no author"},  # undocumented shape: skipped
            ],
            {"result_count": 3, "newest_id": "105", "oldest_id": "103", "next_token": "tok2"},
        ),
        mentions_page(
            [mention("102", "@brand a che ora aprite?")],
            {"result_count": 1, "newest_id": "102", "oldest_id": "102"},
        ),
        mentions_page([], {"result_count": 0}),
    )
    recorder.on("GET", "/2/dm_events", httpx.Response(200, json={"meta": {"result_count": 0}}))
    p = provider(recorder)
    first = p.fetch_messages("100")  # a cursor stored before direct messages were read
    assert [(m.remote_id, m.kind) for m in first.messages] == [
        ("105", MessageKind.reply),
        ("104", MessageKind.mention),
    ]
    reply = first.messages[0]
    assert (reply.in_reply_to, reply.conversation_id, reply.language) == ("90", "90", "it")
    assert (reply.author.handle, reply.author.followers) == ("giulia_r", 812)
    assert reply.created_at == dt.datetime(2026, 11, 22, 18, 4, 11, tzinfo=dt.UTC)
    assert reply.url == "https://x.com/giulia_r/status/105"
    params = recorder.sent("GET", f"/2/users/{ME}/mentions")[0].url.params
    assert params["since_id"] == "100" and "pagination_token" not in params
    assert "author_id" in params["expansions"]

    second = p.fetch_messages(first.cursor)
    params = recorder.sent("GET", f"/2/users/{ME}/mentions")[1].url.params
    assert (params["since_id"], params["pagination_token"]) == ("100", "tok2")
    assert [m.remote_id for m in second.messages] == ["102"]
    # the burst is read: continue after its newest post (then "#" and the DM cursor)
    assert second.cursor is not None and second.cursor.split("#")[0] == "105"

    third = p.fetch_messages(second.cursor)
    assert recorder.sent("GET", f"/2/users/{ME}/mentions")[2].url.params["since_id"] == "105"
    assert third.messages == [] and third.cursor == second.cursor


def test_metrics_are_read_in_batches_of_100() -> None:
    recorder = Recorder()

    def lookup(ids: list[str]) -> httpx.Response:
        return httpx.Response(
            200,
            json={
                "data": [
                    {
                        "id": i,
                        "text": "t",
                        "public_metrics": {
                            "retweet_count": 2,
                            "reply_count": 3,
                            "like_count": 40,
                            "quote_count": 1,
                            "bookmark_count": 0,
                            "impression_count": 1200,
                        },
                    }
                    for i in ids
                ]
            },
        )

    ids = [str(1000 + n) for n in range(130)]
    recorder.on("GET", "/2/tweets", lookup(ids[:100]), lookup(ids[100:]))
    metrics = provider(recorder).fetch_metrics(ids)
    assert len(recorder.requests) == 2
    assert recorder.requests[0].url.params["ids"].split(",") == ids[:100]
    assert len(metrics) == 130
    assert (metrics[0].impressions, metrics[0].likes, metrics[0].replies, metrics[0].reposts) == (
        1200,
        40,
        3,
        2,
    )
