"""The LinkedIn provider against HTTP answers written from LinkedIn's documentation on
learn.microsoft.com/linkedin: "Posts API" (``POST /rest/posts``, 201 with ``x-restli-id``,
the ``q=author`` finder), "Little Text Format" (reserved characters), "Images API"
(``initializeUpload`` then PUT), "Comments API" (``/rest/socialActions/{urn}/comments``,
``parentComment``), "Organization Share Statistics", "Authorization Code Flow" and
"Programmatic Refresh Tokens", "Rate Limits" (daily, reset at midnight UTC) and "API Error
Handling"."""

from __future__ import annotations

import datetime as dt
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
from dialogo.providers.linkedin.client import DEFAULT_VERSION, until_midnight_utc
from dialogo.providers.linkedin.provider import LinkedInProvider, little_text
from tests.providers.x.test_provider import Recorder

ORG = "urn:li:organization:2414183"
PNG = b"\x89PNG\r\n\x1a\n" + b"\0" * 40
UPLOAD = "https://www.linkedin.com/dms-uploads/sp/v2/D4D10AQ/uploaded-image/0"


def provider(recorder: Recorder, credentials: Credentials | None = None) -> LinkedInProvider:
    return LinkedInProvider(
        credentials or Credentials(access_token="li-token", extra={"client_secret": "secret"}),
        http=httpx.Client(transport=httpx.MockTransport(recorder)),
        config={"client_id": "86abc", "organization_id": "2414183"},
    )


def li_error(status: int, code: str, message: str, **headers: str) -> httpx.Response:
    return httpx.Response(
        status,
        headers=headers,
        json={"status": status, "serviceErrorCode": 100, "code": code, "message": message},
    )


def created(urn: str) -> httpx.Response:
    return httpx.Response(201, headers={"x-restli-id": urn})


def test_little_text_escapes_the_reserved_characters() -> None:
    assert little_text("Caffè (100% arabica) #nuovo @team_a") == (
        "Caffè \\(100% arabica\\) \\#nuovo \\@team\\_a"
    )


def test_a_text_post_goes_to_the_posts_api_with_the_versioned_headers() -> None:
    recorder = Recorder()
    recorder.on("POST", "/rest/posts", created("urn:li:share:6844785523593134080"))
    result = provider(recorder).publish(Draft(text="Nuova miscela (autunno)"))
    assert result.remote_id == "urn:li:share:6844785523593134080"
    assert result.url == "https://www.linkedin.com/feed/update/urn:li:share:6844785523593134080/"
    request = recorder.requests[0]
    assert request.headers["linkedin-version"] == DEFAULT_VERSION
    assert request.headers["x-restli-protocol-version"] == "2.0.0"
    assert request.headers["authorization"] == "Bearer li-token"
    assert json.loads(request.content) == {
        "author": ORG,
        "commentary": "Nuova miscela \\(autunno\\)",
        "visibility": "PUBLIC",
        "distribution": {
            "feedDistribution": "MAIN_FEED",
            "targetEntities": [],
            "thirdPartyDistributionChannels": [],
        },
        "lifecycleState": "PUBLISHED",
        "isReshareDisabledByAuthor": False,
    }


def test_images_are_initialised_uploaded_then_attached() -> None:
    recorder = Recorder()
    recorder.on(
        "POST",
        "/rest/images",
        httpx.Response(
            200,
            json={
                "value": {
                    "uploadUrlExpiresAt": 1650567510704,
                    "uploadUrl": UPLOAD,
                    "image": "urn:li:image:C4E10AQFoyyAjHPMQuQ",
                }
            },
        ),
        httpx.Response(
            200, json={"value": {"uploadUrl": UPLOAD, "image": "urn:li:image:C4E10AQSecond"}}
        ),
    )
    recorder.on("PUT", urllib.parse.urlsplit(UPLOAD).path, httpx.Response(201))
    recorder.on("POST", "/rest/posts", created("urn:li:share:1"))
    p = provider(recorder)
    p.publish(Draft(text="Una", media=[Media(PNG, "image/png", alt_text="una tazza")]))
    init = recorder.sent("POST", "/rest/images")[0]
    assert init.url.query == b"action=initializeUpload"
    assert json.loads(init.content) == {"initializeUploadRequest": {"owner": ORG}}
    put = recorder.sent("PUT", urllib.parse.urlsplit(UPLOAD).path)[0]
    assert put.content == PNG and put.headers["content-type"] == "image/png"
    post = json.loads(recorder.sent("POST", "/rest/posts")[0].content)
    assert post["content"] == {
        "media": {"id": "urn:li:image:C4E10AQFoyyAjHPMQuQ", "altText": "una tazza"}
    }

    p.publish(Draft(text="Due", media=[Media(PNG, "image/png")] * 2))
    post = json.loads(recorder.sent("POST", "/rest/posts")[1].content)
    assert post["content"] == {
        "multiImage": {
            "images": [
                {"id": "urn:li:image:C4E10AQSecond", "altText": ""},
                {"id": "urn:li:image:C4E10AQSecond", "altText": ""},
            ]
        }
    }


def test_a_reply_is_a_nested_comment_as_the_organization() -> None:
    recorder = Recorder()
    comment = "urn:li:comment:(urn:li:activity:6844785523593134080,6845037549421780992)"
    recorder.on(
        "POST",
        f"/rest/socialActions/{comment}/comments",  # Recorder matches the decoded path
        httpx.Response(
            201,
            json={
                "commentUrn": "urn:li:comment:(urn:li:activity:6844785523593134080,700)",
                "actor": ORG,
            },
        ),
    )
    result = provider(recorder).reply(
        RemoteRef(comment, conversation_id="urn:li:share:6844785523593134080"),
        Draft(text="Grazie Paola!"),
    )
    assert result.remote_id == "urn:li:comment:(urn:li:activity:6844785523593134080,700)"
    encoded = urllib.parse.quote(comment, safe="")
    assert recorder.requests[0].url.raw_path == f"/rest/socialActions/{encoded}/comments".encode()
    assert json.loads(recorder.requests[0].content) == {
        "actor": ORG,
        "object": "urn:li:share:6844785523593134080",
        "message": {"text": "Grazie Paola!"},
        "parentComment": comment,
    }


def test_comments_on_recent_posts_become_messages() -> None:
    recorder = Recorder()
    recorder.on(
        "GET",
        "/rest/posts",
        httpx.Response(
            200,
            json={
                "elements": [
                    {
                        "id": "urn:li:share:1",
                        "author": ORG,
                        "commentary": "Autunno",
                        "createdAt": 1763715600000,
                        "publishedAt": 1763715600000,
                    }
                ],
                "paging": {"start": 0, "count": 10},
            },
        ),
    )
    recorder.on(
        "GET",
        "/rest/socialActions/urn:li:share:1/comments",
        httpx.Response(
            200,
            json={
                "elements": [
                    {
                        "actor": "urn:li:person:A1b2",
                        "commentUrn": "urn:li:comment:(urn:li:activity:1,11)",
                        "created": {"actor": "urn:li:person:A1b2", "time": 1763805600000},
                        "message": {"text": "Spedite anche in Svizzera?"},
                        "object": "urn:li:activity:1",
                    },
                    {
                        "actor": ORG,
                        "commentUrn": "urn:li:comment:(urn:li:activity:1,12)",
                        "created": {"actor": ORG, "time": 1763809200000},
                        "message": {"text": "Sì!"},
                        "parentComment": "urn:li:comment:(urn:li:activity:1,11)",
                    },
                    {
                        "actor": "urn:li:person:C3d4",
                        "commentUrn": "urn:li:comment:(urn:li:activity:1,13)",
                        "created": {"actor": "urn:li:person:C3d4", "time": 1763812800000},
                        "message": {"text": "Anche a me interessa"},
                        "parentComment": "urn:li:comment:(urn:li:activity:1,11)",
                    },
                ]
            },
        ),
    )
    page = provider(recorder).fetch_messages(None)
    assert [(m.remote_id[-3:], m.kind, m.author.remote_id) for m in page.messages] == [
        ("11)", MessageKind.comment, "urn:li:person:A1b2"),
        ("13)", MessageKind.reply, "urn:li:person:C3d4"),
    ]
    finder = recorder.sent("GET", "/rest/posts")[0]
    assert finder.headers["x-restli-method"] == "FINDER"
    assert finder.url.params["author"] == ORG and finder.url.params["q"] == "author"
    assert page.cursor == dt.datetime.fromtimestamp(1763812800, dt.UTC).isoformat()
    again = provider(recorder).fetch_messages(page.cursor)
    assert again.messages == []


def test_share_statistics_become_metrics() -> None:
    recorder = Recorder()
    recorder.on(
        "GET",
        "/rest/organizationalEntityShareStatistics",
        httpx.Response(
            200,
            json={
                "elements": [
                    {
                        "totalShareStatistics": {
                            "uniqueImpressionsCount": 900,
                            "shareCount": 4,
                            "engagement": 0.05,
                            "clickCount": 31,
                            "likeCount": 40,
                            "impressionCount": 1500,
                            "commentCount": 6,
                        },
                        "share": "urn:li:share:1",
                        "organizationalEntity": ORG,
                    }
                ]
            },
        ),
    )
    [m] = provider(recorder).fetch_metrics(["urn:li:share:1"])
    assert (m.impressions, m.reach, m.clicks, m.likes, m.replies, m.reposts) == (
        1500,
        900,
        31,
        40,
        6,
        4,
    )
    query = recorder.requests[0].url.query.decode()
    assert "shares=List(urn%3Ali%3Ashare%3A1)" in query
    assert "organizationalEntity=urn%3Ali%3Aorganization%3A2414183" in query


@pytest.mark.parametrize(
    ("answer", "error"),
    [
        (li_error(401, "INVALID_ACCESS_TOKEN", "Invalid access token"), ReauthRequired),
        (li_error(403, "ACCESS_DENIED", "Not enough permissions to access"), InsufficientScopes),
        (li_error(422, "UNPROCESSABLE_ENTITY", "commentary too long"), InvalidPayload),
        (
            li_error(426, "NONEXISTENT_VERSION", "Requested version 202301 is not active"),
            InvalidPayload,
        ),
        (li_error(504, "GATEWAY_TIMEOUT", "Gateway Timeout"), TransientError),
    ],
)
def test_linkedin_errors_map_to_the_shared_ones(
    answer: httpx.Response, error: type[Exception]
) -> None:
    recorder = Recorder()
    recorder.on("POST", "/rest/posts", answer)
    with pytest.raises(error):
        provider(recorder).publish(Draft(text="x"))


def test_a_429_without_retry_after_waits_until_midnight_utc() -> None:
    recorder = Recorder()
    recorder.on("POST", "/rest/posts", li_error(429, "TOO_MANY_REQUESTS", "Member daily limit"))
    with pytest.raises(RateLimited) as caught:
        provider(recorder).publish(Draft(text="x"))
    assert abs(caught.value.retry_after - until_midnight_utc()) < 5
    late = dt.datetime(2026, 11, 23, 23, 59, 0, tzinfo=dt.UTC)
    assert until_midnight_utc(late) == 60.0


def test_a_lost_answer_to_a_post_is_an_unknown_outcome() -> None:
    recorder = Recorder()
    recorder.on("POST", "/rest/posts", httpx.ReadTimeout("no answer"))
    with pytest.raises(OutcomeUnknown):
        provider(recorder).publish(Draft(text="x"))


def test_validation_without_a_request() -> None:
    recorder = Recorder()
    p = provider(recorder)
    assert [i.code for i in p.validate(Draft(text="é" * 3001))] == ["too_long"]
    with pytest.raises(InvalidPayload):
        p.publish(Draft(text="x", media=[Media(b"v", "video/mp4")]))
    assert recorder.requests == []


def test_the_code_exchange_sends_the_client_credentials_in_the_form() -> None:
    recorder = Recorder()
    recorder.on(
        "POST",
        "/oauth/v2/accessToken",
        httpx.Response(
            200,
            json={
                "access_token": "AQUvlL",
                "expires_in": 5184000,
                "refresh_token": "AQWAft",
                "refresh_token_expires_in": 31536000,
                "scope": "r_organization_social,w_organization_social",
            },
        ),
        httpx.Response(400, json={"error": "invalid_request", "error_description": "expired"}),
    )
    p = provider(recorder)
    request = p.authorization_url(redirect_uri="https://dialogo.example/cb", state="s")
    assert request.code_verifier is None  # PKCE is for LinkedIn's native apps only
    assert "w_organization_social" in urllib.parse.unquote(request.url)
    granted = p.exchange_code(
        code="AQT", redirect_uri="https://dialogo.example/cb", code_verifier=None
    )
    assert (granted.access_token, granted.refresh_token) == ("AQUvlL", "AQWAft")
    sent = dict(urllib.parse.parse_qsl(recorder.requests[0].content.decode()))
    assert sent == {
        "grant_type": "authorization_code",
        "code": "AQT",
        "redirect_uri": "https://dialogo.example/cb",
        "client_id": "86abc",
        "client_secret": "secret",
    }
    with pytest.raises(ReauthRequired, match="expired"):
        provider(
            recorder, Credentials(refresh_token="AQWAft", extra={"client_secret": "secret"})
        ).refresh()
    with pytest.raises(ReauthRequired, match="no refresh token"):
        provider(recorder).refresh()


def test_verify_reads_the_organization() -> None:
    recorder = Recorder()
    recorder.on(
        "GET",
        "/rest/organizations/2414183",
        httpx.Response(
            200,
            json={"id": 2414183, "localizedName": "Caffè Aurora", "vanityName": "caffe-aurora"},
        ),
    )
    account = provider(recorder).verify()
    assert (account.remote_id, account.handle, account.display_name) == (
        ORG,
        "caffe-aurora",
        "Caffè Aurora",
    )
