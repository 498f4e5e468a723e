"""X direct messages and Account Activity webhooks, from X's documentation (docs.x.com:
"Get DM events", "Create DM message by participant ID / by conversation ID", "Account Activity
API" — "Securing webhooks", "Account Activity data objects" —, the v1.1 Tweet and Message Create
objects): the exact requests sent, the answers and deliveries read, the cursor never skipping a
message, the documented errors mapped to the shared ones."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import json
import logging
import time
from typing import Any

import httpx
import pytest

from dialogo.providers.base import Draft, MessageKind, RemoteRef
from dialogo.providers.errors import (
    InsufficientScopes,
    InvalidPayload,
    RateLimited,
    ReauthRequired,
)
from dialogo.providers.x import webhook
from dialogo.providers.x.provider import SCOPES
from tests.providers.x.test_provider import ME, Recorder, mentions_page, problem, provider

PERSON = "6253282"
OTHER = "9876543210"
SECRET = "x-consumer-secret-for-tests"
MENTIONS = f"/2/users/{ME}/mentions"
NO_MENTIONS = mentions_page([], {"result_count": 0})


def dm(event_id: str, sender: str, text: str, **fields: Any) -> dict[str, Any]:
    """A ``GET /2/dm_events`` item as documented (one-to-one conversation ids are the two
    user ids joined with a hyphen)."""
    low, high = sorted((ME, PERSON), key=int)
    return {
        "id": event_id,
        "event_type": "MessageCreate",
        "text": text,
        "sender_id": sender,
        "dm_conversation_id": fields.pop("dm_conversation_id", f"{low}-{high}"),
        "created_at": fields.pop("created_at", "2026-11-22T18:04:11.000Z"),
        **fields,
    }


def dm_page(events: list[dict[str, Any]], next_token: str | None = None) -> httpx.Response:
    meta: dict[str, Any] = {"result_count": len(events)}
    if next_token:
        meta["next_token"] = next_token
    return httpx.Response(
        200,
        json={
            "data": events,
            "includes": {
                "users": [
                    {
                        "id": PERSON,
                        "name": "Giulia",
                        "username": "giulia_r",
                        "public_metrics": {"followers_count": 812},
                    }
                ]
            },
            "meta": meta,
        },
    )


def test_the_authorisation_asks_for_the_direct_message_scopes() -> None:
    assert {"dm.read", "dm.write", "tweet.read", "users.read"} <= set(SCOPES)
    caps = provider(Recorder()).capabilities
    assert caps.direct_messages is True


def test_direct_messages_are_read_with_mentions_threaded_by_person_ours_skipped() -> None:
    recorder = Recorder()
    recorder.on("GET", MENTIONS, NO_MENTIONS)
    recorder.on(
        "GET",
        "/2/dm_events",
        dm_page(
            [
                dm("1580705921830768650", PERSON, "Avete il decaffeinato?"),
                dm("1580705921830768649", ME, "Buongiorno! Come possiamo aiutarla?"),  # ours
                dm(
                    "1580705921830768648",
                    OTHER,
                    "ciao gruppo",
                    dm_conversation_id="1578900353814519810",
                    participant_ids=[ME, PERSON, OTHER],
                ),
                {"id": "1580705921830768647", "event_type": "ParticipantsJoin"},
                {"id": "1580705921830768646", "text": "no sender"},  # undocumented: skipped
            ]
        ),
    )
    page = provider(recorder).fetch_messages(None)
    assert [(m.remote_id, m.kind) for m in page.messages] == [
        ("1580705921830768650", MessageKind.direct),
        ("1580705921830768648", MessageKind.direct),
    ]
    mine, group = page.messages
    assert mine.conversation_id == f"dm:{PERSON}" and group.conversation_id == (
        "dm:1578900353814519810"
    )
    assert (mine.author.handle, mine.author.display_name, mine.author.followers) == (
        "giulia_r",
        "Giulia",
        812,
    )
    assert mine.created_at == dt.datetime(2026, 11, 22, 18, 4, 11, tzinfo=dt.UTC)
    assert mine.raw["dm_user_id"] == PERSON and mine.raw["dm_network"] == "x"
    [request] = recorder.sent("GET", "/2/dm_events")
    params = request.url.params
    assert params["event_types"] == "MessageCreate"
    assert {"dm_conversation_id", "sender_id", "created_at", "text"} <= set(
        params["dm_event.fields"].split(",")
    )
    assert params["expansions"] == "sender_id" and "pagination_token" not in params
    assert request.headers["Authorization"] == "Bearer user-token"
    # the first read takes one page and continues after its newest event, ours included
    assert page.cursor is not None and page.cursor.endswith("#1580705921830768650||")


def test_the_dm_cursor_follows_a_burst_and_stops_at_what_was_read() -> None:
    recorder = Recorder()
    recorder.on("GET", MENTIONS, NO_MENTIONS)
    recorder.on(
        "GET",
        "/2/dm_events",
        dm_page([dm("205", PERSON, "tre"), dm("204", PERSON, "due")], next_token="tokB"),
        dm_page([dm("203", PERSON, "uno"), dm("200", PERSON, "già letto")], next_token="tokC"),
        dm_page([dm("205", PERSON, "tre")]),
    )
    p = provider(recorder)
    first = p.fetch_messages("90#200||")
    assert [m.remote_id for m in first.messages] == ["205", "204"]
    second = p.fetch_messages(first.cursor)
    # the second page reaches an event already read: only the new one, and the burst is done
    assert [m.remote_id for m in second.messages] == ["203"]
    requests = recorder.sent("GET", "/2/dm_events")
    assert "pagination_token" not in requests[0].url.params
    assert requests[1].url.params["pagination_token"] == "tokB"
    assert second.cursor == "90#205||"
    third = p.fetch_messages(second.cursor)
    assert third.messages == [] and third.cursor == second.cursor
    assert "pagination_token" not in recorder.sent("GET", "/2/dm_events")[2].url.params
    assert all(r.url.params["since_id"] == "90" for r in recorder.sent("GET", MENTIONS))


def test_a_token_without_dm_read_still_reads_mentions(caplog: pytest.LogCaptureFixture) -> None:
    recorder = Recorder()
    recorder.on(
        "GET",
        MENTIONS,
        mentions_page(
            [
                {
                    "id": "301",
                    "text": "@brand ciao",
                    "author_id": PERSON,
                    "created_at": "2026-11-22T18:04:11.000Z",
                    "conversation_id": "301",
                }
            ],
            {"result_count": 1, "newest_id": "301"},
        ),
    )
    recorder.on(
        "GET",
        "/2/dm_events",
        problem(
            403,
            "Forbidden",
            "Missing required OAuth2 scope: dm.read",
            "https://api.twitter.com/2/problems/client-forbidden",
        ),
    )
    with caplog.at_level(logging.WARNING, logger="dialogo.providers"):
        page = provider(recorder).fetch_messages("300#250||")
    assert [m.remote_id for m in page.messages] == ["301"]
    assert page.cursor == "301#250||"  # the DM position is kept for when the scope is granted
    assert "dm.read" in caplog.text


@pytest.mark.parametrize("status", [401, 429])
def test_dm_read_errors_map_to_the_shared_ones_and_nothing_is_returned(status: int) -> None:
    if status == 401:
        answer = problem(401, "Unauthorized", "Unauthorized")
    else:
        reset = str(int(time.time()) + 600)
        answer = httpx.Response(
            429,
            headers={"x-rate-limit-remaining": "0", "x-rate-limit-reset": reset},
            json={"title": "Too Many Requests", "detail": "Too Many Requests"},
        )
    recorder = Recorder()
    recorder.on("GET", MENTIONS, NO_MENTIONS)
    recorder.on("GET", "/2/dm_events", answer)
    error = ReauthRequired if status == 401 else RateLimited
    with pytest.raises(error) as caught:
        provider(recorder).fetch_messages("300#250||")
    if isinstance(caught.value, RateLimited):
        assert 590 <= caught.value.retry_after <= 601


def dm_target(**extra: str) -> RemoteRef:
    return RemoteRef(
        remote_id="1580705921830768650",
        conversation_id=f"dm:{PERSON}",
        extra={"dm_network": "x", "dm_user_id": PERSON, **extra},
    )


def test_a_reply_to_a_direct_message_is_sent_to_the_person() -> None:
    recorder = Recorder()
    recorder.on(
        "POST",
        f"/2/dm_conversations/with/{PERSON}/messages",
        httpx.Response(
            201,
            json={
                "data": {
                    "dm_conversation_id": f"{ME}-{PERSON}",
                    "dm_event_id": "1580705921830768700",
                }
            },
        ),
    )
    p = provider(recorder)
    target = dm_target(dm_conversation_id=f"{PERSON}-{ME}")
    assert p.validate(Draft(text="Sì, anche in cialde", reply_to=target)) == []
    result = p.reply(target, Draft(text="Sì, anche in cialde"))
    assert result.remote_id == "1580705921830768700"
    [sent] = recorder.requests
    assert json.loads(sent.content) == {"text": "Sì, anche in cialde"}
    assert not recorder.sent("POST", "/2/tweets")  # never a public post


def test_a_reply_in_a_group_goes_to_the_conversation() -> None:
    recorder = Recorder()
    recorder.on(
        "POST",
        "/2/dm_conversations/1578900353814519810/messages",
        httpx.Response(201, json={"data": {"dm_conversation_id": "1", "dm_event_id": "77"}}),
    )
    result = provider(recorder).reply(
        dm_target(dm_conversation_id="1578900353814519810"), Draft(text="ciao a tutti")
    )
    assert result.remote_id == "77"


def test_an_invalid_direct_answer_is_never_sent_and_refusals_are_mapped() -> None:
    recorder = Recorder()
    recorder.on(
        "POST",
        f"/2/dm_conversations/with/{PERSON}/messages",
        problem(403, "Forbidden", "You cannot send messages to this user."),
        problem(
            403,
            "Forbidden",
            "Missing required OAuth2 scope: dm.write",
            "https://api.twitter.com/2/problems/client-forbidden",
        ),
    )
    p = provider(recorder)
    with pytest.raises(InvalidPayload):
        p.reply(dm_target(), Draft(text=" "))
    with pytest.raises(InvalidPayload):
        p.reply(dm_target(), Draft(text="x" * 10_001))
    assert recorder.requests == []
    assert p.validate(Draft(text="a" * 5000, reply_to=dm_target())) == []  # not 280 here
    with pytest.raises(InvalidPayload):  # the person does not accept messages
        p.reply(dm_target(), Draft(text="ciao"))
    with pytest.raises(InsufficientScopes) as caught:
        p.reply(dm_target(), Draft(text="ciao"))
    assert caught.value.missing == ["dm.write"]


# -- Account Activity webhooks ------------------------------------------------------------------


def test_the_crc_answer_is_the_base64_hmac_of_the_token() -> None:
    expected = base64.b64encode(
        hmac.new(SECRET.encode(), b"crc-token-123", hashlib.sha256).digest()
    ).decode()
    assert webhook.crc_response("crc-token-123", SECRET) == {"response_token": f"sha256={expected}"}
    with pytest.raises(webhook.WebhookRejected):
        webhook.crc_response("crc-token-123", "")


def signed(payload: Any, secret: str = SECRET) -> tuple[bytes, str]:
    body = json.dumps(payload).encode()
    digest = hmac.new(secret.encode(), body, hashlib.sha256).digest()
    return body, "sha256=" + base64.b64encode(digest).decode()


def delivery() -> dict[str, Any]:
    """A delivery as the data-objects page shows them: a mention, a reply, our own post and a
    repost, a received and a sent direct message, a like."""
    user = {"id_str": PERSON, "screen_name": "giulia_r", "name": "Giulia", "followers_count": 812}
    return {
        "for_user_id": ME,
        "tweet_create_events": [
            {
                "created_at": "Sun Nov 22 18:04:11 +0000 2026",
                "id_str": "501",
                "text": "@brand buongiorno",
                "user": user,
                "lang": "it",
            },
            {
                "created_at": "Sun Nov 22 18:05:11 +0000 2026",
                "id_str": "502",
                "text": "@brand quando riaprite?",
                "truncated": True,
                "extended_tweet": {"full_text": "@brand quando riaprite? Grazie"},
                "in_reply_to_status_id_str": "400",
                "in_reply_to_user_id_str": ME,
                "user": user,
            },
            {
                "created_at": "Sun Nov 22 18:06:11 +0000 2026",
                "id_str": "503",
                "text": "Nuova miscela",
                "user": {"id_str": ME, "screen_name": "brand"},
            },
            {
                "created_at": "Sun Nov 22 18:07:11 +0000 2026",
                "id_str": "504",
                "text": "RT @brand: Nuova miscela",
                "retweeted_status": {"id_str": "503"},
                "user": user,
            },
            {"id_str": "505", "text": "no user, no time"},
        ],
        "direct_message_events": [
            {
                "type": "message_create",
                "id": "1580705921830768650",
                "created_timestamp": "1795197851000",
                "message_create": {
                    "target": {"recipient_id": ME},
                    "sender_id": PERSON,
                    "message_data": {"text": "Avete il decaffeinato?", "entities": {}},
                },
            },
            {
                "type": "message_create",
                "id": "1580705921830768651",
                "created_timestamp": "1795197852000",
                "message_create": {
                    "target": {"recipient_id": PERSON},
                    "sender_id": ME,
                    "message_data": {"text": "Sì!"},
                },
            },
        ],
        "favorite_events": [{"id": "f1"}],
        "users": {PERSON: {"id": PERSON, "screen_name": "giulia_r", "name": "Giulia"}},
    }


def test_a_delivery_becomes_mentions_replies_and_direct_messages() -> None:
    body, signature = signed(delivery())
    batch = webhook.parse_activity(body, signature, SECRET)
    got = {m.remote_id: m for to, m in batch.messages if to == ME}
    assert [(m.remote_id, m.kind) for _to, m in batch.messages] == [
        ("501", MessageKind.mention),
        ("502", MessageKind.reply),
        ("1580705921830768650", MessageKind.direct),
    ]
    assert got["501"].conversation_id == "501" and got["501"].language == "it"
    assert got["501"].created_at == dt.datetime(2026, 11, 22, 18, 4, 11, tzinfo=dt.UTC)
    assert got["502"].text == "@brand quando riaprite? Grazie"
    assert (got["502"].in_reply_to, got["502"].conversation_id) == ("400", None)
    direct = got["1580705921830768650"]
    assert direct.conversation_id == f"dm:{PERSON}" and direct.author.handle == "giulia_r"
    assert direct.created_at == dt.datetime.fromtimestamp(1795197851, dt.UTC)
    assert direct.raw["dm_user_id"] == PERSON
    # our post, the repost, our DM and the like are ignored; the unreadable post is kept
    assert batch.ignored == 4
    [bad] = batch.problems
    assert bad.where == "tweet_create_events[4]" and bad.remote_id == "505"


def test_a_polled_and_a_pushed_direct_message_are_the_same_message() -> None:
    body, signature = signed(delivery())
    pushed = next(
        m
        for _to, m in webhook.parse_activity(body, signature, SECRET).messages
        if m.raw.get("dm_user_id")
    )
    recorder = Recorder()
    recorder.on("GET", MENTIONS, NO_MENTIONS)
    recorder.on(
        "GET",
        "/2/dm_events",
        dm_page([dm("1580705921830768650", PERSON, "Avete il decaffeinato?")]),
    )
    [polled] = provider(recorder).fetch_messages(None).messages
    assert (pushed.remote_id, pushed.conversation_id, pushed.kind) == (
        polled.remote_id,
        polled.conversation_id,
        polled.kind,
    )
    assert pushed.raw["dm_conversation_id"] == polled.raw["dm_conversation_id"]


def test_bad_signatures_and_bodies_are_rejected() -> None:
    body, signature = signed(delivery())
    with pytest.raises(webhook.WebhookRejected):
        webhook.parse_activity(body, None, SECRET)
    with pytest.raises(webhook.WebhookRejected):
        webhook.parse_activity(body, signed(delivery(), "another")[1], SECRET)
    with pytest.raises(webhook.WebhookRejected):
        webhook.parse_activity(body + b" ", signature, SECRET)
    with pytest.raises(webhook.WebhookRejected):
        webhook.parse_activity(body, signature, "")
    junk = b"{not json"
    with pytest.raises(webhook.WebhookMalformed):
        webhook.parse_activity(junk, signed_raw(junk), SECRET)
    no_user, sig = signed({"tweet_create_events": []})
    assert webhook.parse_activity(no_user, sig, SECRET).problems[0].where == "for_user_id"


def signed_raw(body: bytes) -> str:
    digest = hmac.new(SECRET.encode(), body, hashlib.sha256).digest()
    return "sha256=" + base64.b64encode(digest).decode()


def test_after_a_first_read_without_messages_a_burst_is_still_paged() -> None:
    recorder = Recorder()
    recorder.on("GET", MENTIONS, NO_MENTIONS)
    recorder.on(
        "GET",
        "/2/dm_events",
        dm_page([]),
        dm_page([dm("702", PERSON, "due")], next_token="tokB"),
        dm_page([dm("701", PERSON, "uno")]),
    )
    p = provider(recorder)
    first = p.fetch_messages(None)
    assert first.messages == [] and first.cursor == "#0||"
    second = p.fetch_messages(first.cursor)
    third = p.fetch_messages(second.cursor)
    assert [m.remote_id for m in [*second.messages, *third.messages]] == ["702", "701"]
    assert third.cursor == "#702||"


def test_an_unknown_event_list_is_kept_for_a_person() -> None:
    body, signature = signed({"for_user_id": ME, "new_kind_events": [{"id": "1"}], "apps": {}})
    batch = webhook.parse_activity(body, signature, SECRET)
    assert batch.messages == [] and [p.where for p in batch.problems] == ["new_kind_events"]
