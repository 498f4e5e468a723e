"""The Bluesky provider against a scripted PDS (httpx.MockTransport): validation by Bluesky's
rules, the records it writes, sessions, errors, the notification cursor and metrics."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import httpx
import pytest

from dialogo.providers.base import (
    AuthKind,
    Credentials,
    Draft,
    Media,
    MessageKind,
    RemoteRef,
    TextCounting,
)
from dialogo.providers.bluesky.provider import BlueskyProvider, reply_target
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
from dialogo.providers.registry import ProviderRegistry
from tests.providers.bluesky.fakes import (
    DID,
    HANDLE,
    FakePds,
    jwt,
    post_view,
    provider,
    session_body,
    xrpc_error,
)
from tests.providers.bluesky.test_richtext import _png

FAMILY = "👨‍👩‍👧‍👦"  # one grapheme, seven code points, 25 bytes


def _untyped(value: Any) -> Any:
    """``value`` without the ``$type`` keys the SDK adds to nested objects when it serialises
    a record (they are optional there; the union members checked below keep theirs)."""
    if isinstance(value, dict):
        return {k: _untyped(v) for k, v in value.items() if k != "$type"}
    if isinstance(value, list):
        return [_untyped(v) for v in value]
    return value


def _codes(issues: list[Any]) -> list[tuple[str, str]]:
    return [(issue.code, issue.field) for issue in issues]


# -- capabilities and registration ------------------------------------------------------------


def test_capabilities_declare_bluesky_rules() -> None:
    caps = BlueskyProvider.capabilities
    assert (caps.network, caps.auth) == ("bluesky", AuthKind.app_password)
    assert (caps.text_limit, caps.text_counting) == (300, TextCounting.graphemes)
    assert caps.media.max_items == 4
    assert caps.media.max_image_bytes == 1_000_000
    assert caps.media.video_types == frozenset()
    assert caps.threads and caps.replies and caps.metrics and caps.search
    assert not caps.direct_messages and not caps.slow_media


def test_the_registry_can_load_it_by_entry_point() -> None:
    from importlib.metadata import EntryPoint

    ep = EntryPoint(
        "bluesky", "dialogo.providers.bluesky.provider:BlueskyProvider", "dialogo.providers"
    )
    assert ProviderRegistry.from_entry_points(eps=[ep]).get("bluesky") is BlueskyProvider


# -- validation --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "codes"),
    [
        ("x" * 300, []),
        ("x" * 301, [("too_long", "text")]),
        ("e\u0301" * 300, []),  # 600 code points, 300 graphemes
        ("e\u0301" * 301, [("too_long", "text")]),
        ("👍🏽" * 300, []),  # emoji + modifier: one grapheme each, 2,400 bytes
        (FAMILY * 120, []),  # 3,000 bytes exactly
        (FAMILY * 121, [("too_many_bytes", "text")]),  # 121 graphemes but 3,025 bytes
        (FAMILY * 301, [("too_long", "text"), ("too_many_bytes", "text")]),
        ("   ", [("empty", "text")]),
    ],
)
def test_text_limits_count_graphemes_and_bytes(text: str, codes: list[tuple[str, str]]) -> None:
    assert _codes(provider(FakePds()).validate(Draft(text=text))) == codes


def test_links_and_mentions_count_as_written() -> None:
    link = "https://example.com/" + "a" * 260  # 280 characters: no URL shortening
    p = provider(FakePds())
    assert p.validate(Draft(text=link + " @bob.test" + "x" * 10)) == []
    assert _codes(p.validate(Draft(text=link + " @bob.test" + "x" * 11))) == [("too_long", "text")]


def test_image_rules() -> None:
    p = provider(FakePds())
    image = Media(content=_png(2, 2), mime_type="image/png", alt_text="Una tazzina")
    assert p.validate(Draft(text="", media=[image])) == []  # images alone are a post
    assert p.validate(Draft(text="4 images", media=[image] * 4)) == []
    assert _codes(p.validate(Draft(text="5", media=[image] * 5))) == [("too_many_media", "media")]

    at_limit = Media(content=b"\0" * 1_000_000, mime_type="image/jpeg")
    over = Media(content=b"\0" * 1_000_001, mime_type="image/jpeg")
    assert p.validate(Draft(text="ok", media=[at_limit])) == []
    issues = p.validate(Draft(text="big", media=[at_limit, over]))
    assert _codes(issues) == [("media_too_large", "media[1]")]
    assert "1,000,001 bytes" in issues[0].message

    video = Media(content=b"\0" * 10, mime_type="video/mp4")
    bmp = Media(content=b"\0" * 10, mime_type="image/bmp")
    assert _codes(p.validate(Draft(text="v", media=[video, bmp]))) == [
        ("video_unsupported", "media[0]"),
        ("media_type", "media[1]"),
    ]


def test_alt_text_is_limited_to_2000_graphemes() -> None:
    p = provider(FakePds())
    ok = Media(content=b"\0", mime_type="image/png", alt_text="🇮🇹" * 2000)  # 4,000 code points
    too_long = Media(content=b"\0", mime_type="image/png", alt_text="a" * 2001)
    assert p.validate(Draft(text="alt", media=[ok])) == []
    assert _codes(p.validate(Draft(text="alt", media=[too_long]))) == [
        ("alt_text_too_long", "media[0].alt_text")
    ]


def test_every_post_of_a_thread_is_validated() -> None:
    p = provider(FakePds())
    draft = Draft(
        text="first",
        thread=[
            Draft(text="ok"),
            Draft(text="x" * 301, thread=[Draft(text="nested")]),
            Draft(text="y", reply_to=RemoteRef("at://did:plc:x/app.bsky.feed.post/1")),
        ],
    )
    assert _codes(p.validate(draft)) == [
        ("too_long", "thread[1].text"),
        ("nested_thread", "thread[1].thread"),
        ("thread_reply", "thread[2].reply_to"),
    ]


def test_publish_refuses_an_invalid_draft_without_calling_the_network() -> None:
    pds = FakePds()
    with pytest.raises(InvalidPayload) as caught:
        provider(pds).publish(Draft(text="x" * 301))
    assert caught.value.issues == ["text: too_long"]
    assert pds.calls == []


# -- sessions ----------------------------------------------------------------------------------


def _connecting(pds: FakePds) -> BlueskyProvider:
    return provider(pds, Credentials(account_id=HANDLE, extra={"app_password": "abcd-efgh"}))


def test_verify_opens_a_session_with_the_app_password_and_keeps_only_tokens() -> None:
    pds = FakePds()
    p = _connecting(pds)
    account = p.verify()
    assert (account.remote_id, account.handle, account.display_name) == (DID, HANDLE, "Alice")
    assert account.followers == 42
    assert account.url == f"https://bsky.app/profile/{HANDLE}"
    login = pds.named("com.atproto.server.createSession")[0]
    assert login.json() == {"identifier": HANDLE, "password": "abcd-efgh"}
    assert "authorization" not in login.headers
    creds = p.credentials
    assert creds.account_id == DID
    assert creds.refresh_token == "refresh-1"
    assert creds.access_token and creds.expires_at is not None
    assert creds.expires_at > dt.datetime.now(dt.UTC) + dt.timedelta(minutes=100)
    assert creds.extra == {"handle": HANDLE}  # the app password is not kept


def test_a_wrong_app_password_is_reauth_required_with_a_clear_message() -> None:
    pds = FakePds()
    pds.route(
        "com.atproto.server.createSession",
        lambda r: xrpc_error(401, "AuthenticationRequired", "Invalid identifier or password"),
    )
    with pytest.raises(ReauthRequired) as caught:
        _connecting(pds).verify()
    message = str(caught.value)
    assert "refused the handle or app password for alice.test" in message
    assert "App passwords" in message


def test_verify_with_a_stored_session_checks_it_without_logging_in() -> None:
    pds = FakePds()
    p = provider(pds)
    assert p.verify().remote_id == DID
    assert pds.named("com.atproto.server.createSession") == []
    assert (
        pds.named("com.atproto.server.getSession")[0].headers["authorization"].startswith("Bearer ")
    )


def test_verify_survives_an_appview_that_has_not_indexed_the_account_yet() -> None:
    pds = FakePds()
    pds.route(
        "app.bsky.actor.getProfile",
        lambda r: xrpc_error(400, "InvalidRequest", "Profile not found"),
    )
    account = _connecting(pds).verify()
    assert (account.handle, account.display_name) == (HANDLE, "")


def test_a_taken_down_account_is_disconnected() -> None:
    pds = FakePds()
    pds.route(
        "com.atproto.server.createSession",
        lambda r: xrpc_error(401, "AccountTakedown", "Account has been taken down"),
    )
    with pytest.raises(Disconnected):
        _connecting(pds).verify()
    deactivated = FakePds()
    deactivated.route(
        "com.atproto.server.getSession",
        lambda r: httpx.Response(
            200, json={"did": DID, "handle": HANDLE, "active": False, "status": "deactivated"}
        ),
    )
    with pytest.raises(Disconnected):
        provider(deactivated).verify()


def test_refresh_rotates_both_tokens() -> None:
    pds = FakePds()
    pds.route(
        "com.atproto.server.refreshSession",
        lambda r: httpx.Response(200, json=session_body(refresh="refresh-2")),
    )
    p = provider(pds)
    renewed = p.refresh()
    call = pds.named("com.atproto.server.refreshSession")[0]
    assert call.headers["authorization"] == "Bearer refresh-0"
    assert renewed.refresh_token == "refresh-2"
    assert renewed.access_token and renewed.expires_at
    assert p.credentials.refresh_token == "refresh-2"
    assert p.credentials.access_token == renewed.access_token


def test_an_expired_refresh_token_is_reauth_required() -> None:
    pds = FakePds()
    pds.route(
        "com.atproto.server.refreshSession",
        lambda r: xrpc_error(400, "ExpiredToken", "Token has expired"),
    )
    with pytest.raises(ReauthRequired) as caught:
        provider(pds).refresh()
    assert caught.value.details["expired"] is True
    with pytest.raises(ReauthRequired):
        provider(pds, Credentials(access_token="x", account_id=DID)).refresh()


def test_an_expired_access_token_is_refreshed_before_the_call() -> None:
    pds = FakePds()
    pds.route(
        "com.atproto.server.refreshSession",
        lambda r: httpx.Response(200, json=session_body(refresh="refresh-2")),
    )
    pds.route("app.bsky.feed.getPosts", lambda r: httpx.Response(200, json={"posts": []}))
    stale = jwt(dt.datetime.now(dt.UTC) - dt.timedelta(minutes=5))
    p = provider(pds, Credentials(access_token=stale, refresh_token="refresh-0", account_id=DID))
    assert p.fetch_metrics(["at://did:plc:alice/app.bsky.feed.post/1"]) == []
    assert [c.nsid for c in pds.calls] == [
        "com.atproto.server.refreshSession",
        "app.bsky.feed.getPosts",
    ]
    fresh = p.credentials.access_token
    assert fresh != stale
    assert pds.calls[1].headers["authorization"] == f"Bearer {fresh}"


# -- publishing --------------------------------------------------------------------------------


def test_publish_writes_facets_images_and_a_thread() -> None:
    pds = FakePds()
    image = _png(640, 480)
    text = (
        "Perché è già così? 🇮🇹👩🏽‍💻 Leggi https://dialogo.example/caffè #Caffè "
        "@bob.test @ghost.test"
    )
    draft = Draft(
        text=text,
        media=[Media(content=image, mime_type="image/png", alt_text="Una tazzina rossa")],
        thread=[Draft(text="Seconda parte 🧵"), Draft(text="Terza parte")],
    )
    result = provider(pds).publish(draft)

    assert result.remote_id == f"at://{DID}/app.bsky.feed.post/rkey1"
    assert result.url == f"https://bsky.app/profile/{HANDLE}/post/rkey1"
    assert list(result.thread_ids) == [
        f"at://{DID}/app.bsky.feed.post/rkey2",
        f"at://{DID}/app.bsky.feed.post/rkey3",
    ]
    upload = pds.named("com.atproto.repo.uploadBlob")[0]
    assert upload.headers["content-type"] == "image/png"
    assert upload.body == image

    first, second, third = (body["record"] for body in pds.created)
    assert all(body["repo"] == DID for body in pds.created)
    assert all(body["collection"] == "app.bsky.feed.post" for body in pds.created)
    assert first["text"] == text
    assert first["createdAt"].endswith("Z")
    encoded = text.encode("utf-8")
    spans = [
        (
            encoded[f["index"]["byteStart"] : f["index"]["byteEnd"]].decode("utf-8"),
            f["features"][0],
        )
        for f in first["facets"]
    ]
    assert spans == [
        (
            "https://dialogo.example/caffè",
            {"$type": "app.bsky.richtext.facet#link", "uri": "https://dialogo.example/caffè"},
        ),
        ("#Caffè", {"$type": "app.bsky.richtext.facet#tag", "tag": "Caffè"}),
        ("@bob.test", {"$type": "app.bsky.richtext.facet#mention", "did": "did:plc:bob"}),
    ]  # @ghost.test does not resolve: plain text
    assert first["embed"]["$type"] == "app.bsky.embed.images"
    (embedded,) = first["embed"]["images"]
    assert embedded["alt"] == "Una tazzina rossa"
    assert _untyped(embedded["aspectRatio"]) == {"width": 640, "height": 480}
    assert embedded["image"]["ref"] == {"$link": f"bafkrei{len(image)}"}
    assert embedded["image"]["$type"] == "blob"
    assert embedded["image"]["mimeType"] == "image/png"
    assert "reply" not in first

    root = {"uri": result.remote_id, "cid": "bafycid1"}
    assert _untyped(second["reply"]) == {"root": root, "parent": root}
    assert _untyped(third["reply"]) == {
        "root": root,
        "parent": {"uri": result.thread_ids[0], "cid": "bafycid2"},
    }
    assert "facets" not in second and "embed" not in second


def test_reply_reads_the_target_to_find_its_root() -> None:
    pds = FakePds()
    target = "at://did:plc:bob/app.bsky.feed.post/b2"
    pds.route(
        "com.atproto.repo.getRecord",
        lambda r: httpx.Response(
            200,
            json={
                "uri": target,
                "cid": "bafy-b2",
                "value": {
                    "$type": "app.bsky.feed.post",
                    "text": "a reply by Bob",
                    "createdAt": "2026-11-23T10:00:00Z",
                    "reply": {
                        "root": {"uri": "at://did:plc:alice/app.bsky.feed.post/a1", "cid": "c1"},
                        "parent": {"uri": "at://did:plc:alice/app.bsky.feed.post/a1", "cid": "c1"},
                    },
                },
            },
        ),
    )
    provider(pds).reply(RemoteRef(target), Draft(text="Grazie!"))
    lookup = pds.named("com.atproto.repo.getRecord")[0]
    assert dict(lookup.params) == {
        "repo": "did:plc:bob",
        "collection": "app.bsky.feed.post",
        "rkey": "b2",
    }
    assert _untyped(pds.created[0]["record"]["reply"]) == {
        "root": {"uri": "at://did:plc:alice/app.bsky.feed.post/a1", "cid": "c1"},
        "parent": {"uri": target, "cid": "bafy-b2"},
    }


def test_reply_with_known_references_needs_no_lookup() -> None:
    pds = FakePds()
    target = RemoteRef(
        "at://did:plc:bob/app.bsky.feed.post/b1",
        extra={
            "cid": "cb1",
            "root_uri": "at://did:plc:bob/app.bsky.feed.post/b1",
            "root_cid": "cb1",
        },
    )
    provider(pds).reply(target, Draft(text="Ciao"))
    assert pds.named("com.atproto.repo.getRecord") == []
    ref = {"uri": target.remote_id, "cid": "cb1"}
    assert _untyped(pds.created[0]["record"]["reply"]) == {"root": ref, "parent": ref}


def test_replying_to_a_post_that_is_gone_is_an_invalid_payload() -> None:
    pds = FakePds()
    pds.route(
        "com.atproto.repo.getRecord",
        lambda r: xrpc_error(400, "RecordNotFound", "Could not locate record"),
    )
    with pytest.raises(InvalidPayload):
        provider(pds).reply(RemoteRef("at://did:plc:bob/app.bsky.feed.post/x"), Draft(text="?"))
    with pytest.raises(InvalidPayload):
        provider(pds).reply(RemoteRef("https://bsky.app/not-an-at-uri"), Draft(text="?"))


def test_a_thread_cut_short_says_what_was_published() -> None:
    pds = FakePds()
    first = pds.routes["com.atproto.repo.createRecord"]
    assert callable(first)
    pds.route("com.atproto.repo.createRecord", first, lambda r: xrpc_error(502, "UpstreamFailure"))
    with pytest.raises(TransientError) as caught:
        provider(pds).publish(Draft(text="uno", thread=[Draft(text="due")]))
    assert caught.value.details["published"] == [f"at://{DID}/app.bsky.feed.post/rkey1"]


def test_recent_posts_come_from_the_repository() -> None:
    pds = FakePds()
    pds.route(
        "com.atproto.repo.listRecords",
        lambda r: httpx.Response(
            200,
            json={
                "records": [
                    {
                        "uri": f"at://{DID}/app.bsky.feed.post/r2",
                        "cid": "c2",
                        "value": {"text": "due", "createdAt": "2026-11-23T10:01:00Z"},
                    },
                    {
                        "uri": f"at://{DID}/app.bsky.feed.post/r1",
                        "cid": "c1",
                        "value": {"text": "uno", "createdAt": "2026-11-23T10:00:00Z"},
                    },
                ]
            },
        ),
    )
    posts = provider(pds).recent_posts(limit=2)
    assert [(p.remote_id.rsplit("/", 1)[1], p.state["text"]) for p in posts] == [
        ("r2", "due"),
        ("r1", "uno"),
    ]
    params = pds.named("com.atproto.repo.listRecords")[0].params
    assert (params["repo"], params["collection"], params["limit"]) == (
        DID,
        "app.bsky.feed.post",
        "2",
    )


def _record(n: int) -> dict[str, Any]:
    return {
        "uri": f"at://{DID}/app.bsky.feed.post/r{n}",
        "cid": f"c{n}",
        "value": {"text": f"post {n}", "createdAt": f"2026-11-23T10:{n:02d}:00Z"},
    }


def test_recent_posts_page_the_repository_with_its_cursor() -> None:
    """``listRecords`` answers at most 100 records (its lexicon) and a cursor with every
    page that has records, the last one included (the reference PDS): the listing pages
    back with it, and is exhausted only at an empty page."""
    pages = {
        None: {"records": [_record(n) for n in (9, 8, 7)], "cursor": "r7"},
        "r7": {"records": [_record(n) for n in (6, 5, 4)], "cursor": "r4"},
        "r4": {"records": [_record(n) for n in (3, 2)], "cursor": "r2"},
        "r2": {"records": []},
    }
    pds = FakePds()
    pds.route(
        "com.atproto.repo.listRecords",
        lambda r: httpx.Response(200, json=pages[r.url.params.get("cursor")]),
    )
    everything = provider(pds).recent_posts(limit=500)
    assert [p.remote_id.rsplit("/", 1)[1] for p in everything] == [f"r{n}" for n in range(9, 1, -1)]
    assert everything.exhausted
    asked = [r.params for r in pds.named("com.atproto.repo.listRecords")]
    assert [(p.get("cursor"), p["limit"]) for p in asked] == [
        (None, "100"),
        ("r7", "100"),
        ("r4", "100"),
        ("r2", "100"),
    ]
    five = provider(pds).recent_posts(limit=5)
    assert [p.remote_id.rsplit("/", 1)[1] for p in five] == ["r9", "r8", "r7", "r6", "r5"]
    assert not five.exhausted and five[-1].state["created_at"] == "2026-11-23T10:05:00Z"


# -- errors ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("response", "error"),
    [
        (xrpc_error(401, "AuthRequired", "Authentication Required"), ReauthRequired),
        (xrpc_error(400, "ExpiredToken", "Token has expired"), ReauthRequired),
        (xrpc_error(400, "InvalidToken", "Token could not be verified"), ReauthRequired),
        (xrpc_error(403, "Forbidden", "Bad token scope"), InsufficientScopes),
        (xrpc_error(401, "AccountDeactivated", "Account is deactivated"), Disconnected),
        (xrpc_error(500, "InternalServerError"), TransientError),
        (xrpc_error(502, "UpstreamFailure"), TransientError),
        (httpx.Response(503, text="<html>busy</html>"), TransientError),
        (xrpc_error(400, "InvalidRequest", "Invalid app.bsky.feed.post record"), InvalidPayload),
        (xrpc_error(413, "PayloadTooLarge", "request entity too large"), InvalidPayload),
    ],
)
def test_error_answers_map_to_shared_errors(
    response: httpx.Response, error: type[Exception]
) -> None:
    pds = FakePds()
    pds.route("com.atproto.repo.createRecord", lambda r: response)
    with pytest.raises(error) as caught:
        provider(pds).publish(Draft(text="ciao"))
    assert isinstance(caught.value, ProviderError)
    assert not isinstance(caught.value, OutcomeUnknown)


def test_a_bad_request_on_a_read_is_a_plain_provider_error() -> None:
    pds = FakePds()
    pds.route("app.bsky.feed.getPosts", lambda r: xrpc_error(400, "InvalidRequest", "bad uri"))
    with pytest.raises(ProviderError) as caught:
        provider(pds).fetch_metrics(["at://x/app.bsky.feed.post/1"])
    assert type(caught.value) is ProviderError
    assert caught.value.code == "bluesky_invalidrequest"
    assert "bad uri" in str(caught.value)


def test_rate_limits_wait_until_ratelimit_reset() -> None:
    pds = FakePds()
    reset = int(dt.datetime.now(dt.UTC).timestamp()) + 120
    pds.route(
        "com.atproto.repo.createRecord",
        lambda r: xrpc_error(
            429,
            "RateLimitExceeded",
            "Rate Limit Exceeded",
            **{
                "ratelimit-limit": "5000",
                "ratelimit-remaining": "0",
                "ratelimit-reset": str(reset),
            },
        ),
    )
    with pytest.raises(RateLimited) as caught:
        provider(pds).publish(Draft(text="ciao"))
    assert caught.value.retry_after == pytest.approx(120, abs=2)
    pds.route("com.atproto.repo.createRecord", lambda r: xrpc_error(429, "RateLimitExceeded"))
    with pytest.raises(RateLimited) as without_headers:
        provider(pds).publish(Draft(text="ciao"))
    assert without_headers.value.retry_after == 60


def _raising(exc: type[httpx.TransportError]) -> Any:
    def handler(request: httpx.Request) -> httpx.Response:
        raise exc("boom", request=request)

    return handler


def test_transport_failures_are_transient_or_outcome_unknown() -> None:
    pds = FakePds()
    pds.route("com.atproto.repo.createRecord", _raising(httpx.ConnectError))
    with pytest.raises(TransientError) as refused:
        provider(pds).publish(Draft(text="ciao"))
    assert not isinstance(refused.value, OutcomeUnknown)  # the request never left

    pds.route("com.atproto.repo.createRecord", _raising(httpx.ReadTimeout))
    with pytest.raises(OutcomeUnknown):  # the post may exist: reconcile, do not resend
        provider(pds).publish(Draft(text="ciao"))

    pds.route("app.bsky.feed.getPosts", _raising(httpx.ReadTimeout))
    with pytest.raises(TransientError) as read:
        provider(pds).fetch_metrics(["at://x/app.bsky.feed.post/1"])
    assert not isinstance(read.value, OutcomeUnknown)

    pds.route("com.atproto.repo.uploadBlob", _raising(httpx.ReadTimeout))
    image = Media(content=_png(1, 1), mime_type="image/png")
    with pytest.raises(TransientError) as upload:  # uploading a blob again is harmless
        provider(pds).publish(Draft(text="img", media=[image]))
    assert not isinstance(upload.value, OutcomeUnknown)


# -- inbound -----------------------------------------------------------------------------------


def _notification(
    rkey: str,
    reason: str,
    at: str,
    *,
    reply_to: str | None = None,
    subject: str | None = None,
    created: str | None = None,
) -> dict[str, Any]:
    record: dict[str, Any] = {
        "$type": "app.bsky.feed.post",
        "text": f"{reason} {rkey}",
        "createdAt": created or at,
        "langs": ["it"],
    }
    if reply_to:
        record["reply"] = {
            "root": {"uri": reply_to, "cid": "root-cid"},
            "parent": {"uri": reply_to, "cid": "root-cid"},
        }
    item: dict[str, Any] = {
        "uri": f"at://did:plc:bob/app.bsky.feed.post/{rkey}",
        "cid": f"cid-{rkey}",
        "author": {"did": "did:plc:bob", "handle": "bob.test", "displayName": "Bob"},
        "reason": reason,
        "record": record,
        "isRead": False,
        "indexedAt": at,
    }
    if subject:
        item["reasonSubject"] = subject
    return item


class _Notifications:
    """listNotifications over a list kept newest first, in pages of ``page`` items."""

    def __init__(self, items: list[dict[str, Any]], page: int = 100) -> None:
        self.items = items
        self.page = page

    def __call__(self, request: httpx.Request) -> httpx.Response:
        start = int(request.url.params.get("cursor") or 0)
        reasons = request.url.params.get_list("reasons")
        chunk = self.items[start : start + self.page]
        body: dict[str, Any] = {"notifications": [n for n in chunk if n["reason"] in reasons]}
        if start + self.page < len(self.items):
            body["cursor"] = str(start + self.page)
        return httpx.Response(200, json=body)


MINE = f"at://{DID}/app.bsky.feed.post/mine"


def test_notifications_become_messages_and_the_cursor_returns_only_new_ones() -> None:
    pds = FakePds()
    feed = _Notifications(
        [
            _notification("q1", "quote", "2026-11-23T10:03:00.000Z", subject=MINE),
            _notification("r1", "reply", "2026-11-23T10:02:00.000Z", reply_to=MINE, subject=MINE),
            _notification("m1", "mention", "2026-11-23T10:01:00.000Z"),
        ]
    )
    pds.route("app.bsky.notification.listNotifications", feed)
    p = provider(pds)
    page = p.fetch_messages(None)
    call = pds.named("app.bsky.notification.listNotifications")[0]
    assert call.params.get_list("reasons") == ["mention", "reply", "quote"]
    kinds = [(m.remote_id.rsplit("/", 1)[1], m.kind) for m in page.messages]
    assert kinds == [
        ("m1", MessageKind.mention),
        ("r1", MessageKind.reply),
        ("q1", MessageKind.mention),
    ]
    mention, reply, quote = page.messages
    assert mention.conversation_id == mention.remote_id and mention.in_reply_to is None
    assert reply.conversation_id == MINE and reply.in_reply_to == MINE
    assert quote.in_reply_to == MINE and quote.raw["reason"] == "quote"
    assert mention.author.handle == "bob.test" and mention.author.display_name == "Bob"
    assert mention.language == "it"
    assert mention.url == "https://bsky.app/profile/bob.test/post/m1"
    assert mention.created_at == dt.datetime(2026, 11, 23, 10, 1, tzinfo=dt.UTC)
    assert reply_target(reply) == RemoteRef(
        reply.remote_id,
        conversation_id=MINE,
        extra={"cid": "cid-r1", "root_uri": MINE, "root_cid": "root-cid"},
    )

    assert p.fetch_messages(page.cursor).messages == []  # nothing new, nothing repeated

    # A new mention, and a reply from a phone whose clock is late: the AppView sorts it by
    # its (earlier) createdAt, below notifications that were already fetched.
    feed.items[:0] = [_notification("m2", "mention", "2026-11-23T10:04:00.000Z")]
    feed.items.insert(3, _notification("late", "reply", "2026-11-23T10:02:30.000Z", reply_to=MINE))
    again = p.fetch_messages(page.cursor)
    assert [m.remote_id.rsplit("/", 1)[1] for m in again.messages] == ["late", "m2"]
    assert p.fetch_messages(again.cursor).messages == []


def test_reading_stops_at_the_overlap_window() -> None:
    pds = FakePds()
    items = [_notification("new", "mention", "2026-11-23T12:00:00.000Z")] + [
        _notification(f"old{i}", "mention", f"2026-11-23T10:{59 - i:02d}:00.000Z") for i in range(9)
    ]
    pds.route("app.bsky.notification.listNotifications", _Notifications(items, page=3))
    cursor = json.dumps({"t": "2026-11-23T11:30:00.000Z", "seen": []})
    page = provider(pds).fetch_messages(cursor)
    assert [m.remote_id.rsplit("/", 1)[1] for m in page.messages] == ["new"]
    assert len(pds.named("app.bsky.notification.listNotifications")) == 1  # floor reached


def test_no_notifications_keep_the_cursor() -> None:
    pds = FakePds()
    pds.route("app.bsky.notification.listNotifications", _Notifications([]))
    assert provider(pds).fetch_messages(None).cursor is None
    assert provider(pds).fetch_messages("2026-11-23T10:00:00.000Z").cursor == (
        "2026-11-23T10:00:00.000Z"
    )


# -- metrics -----------------------------------------------------------------------------------


def test_metrics_come_from_post_views_25_at_a_time() -> None:
    pds = FakePds()

    def get_posts(request: httpx.Request) -> httpx.Response:
        uris = request.url.params.get_list("uris")
        posts = [
            post_view(u, likes=3, replies=2, reposts=1, quotes=4) for u in uris if "gone" not in u
        ]
        return httpx.Response(200, json={"posts": posts})

    pds.route("app.bsky.feed.getPosts", get_posts)
    uris = [f"at://{DID}/app.bsky.feed.post/p{i}" for i in range(30)] + [
        f"at://{DID}/app.bsky.feed.post/gone"
    ]
    metrics = provider(pds).fetch_metrics(uris)
    assert [len(c.params.get_list("uris")) for c in pds.named("app.bsky.feed.getPosts")] == [25, 6]
    assert len(metrics) == 30
    first = metrics[0]
    assert (first.remote_id, first.likes, first.replies, first.reposts, first.quotes) == (
        uris[0],
        3,
        2,
        1,
        4,
    )
    assert first.impressions is None and first.observed_at.tzinfo is not None
