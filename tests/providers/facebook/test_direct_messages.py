"""Messenger direct messages of a Facebook Page against HTTP answers written from Meta's
documentation: the Conversations API (``GET /<page>/conversations?platform=messenger`` with
``messages{id,created_time,from,to,message}``, paging by ``cursors.after``), the Send API
(``POST /<page>/messages`` with ``recipient``, ``messaging_type`` and ``message``), the
messaging policy (24-hour standard window, ``HUMAN_AGENT`` tag for 7 days) and the Send API's
errors (code 10 / subcode 2018278 "sent outside of allowed window", 551)."""

from __future__ import annotations

import datetime as dt
import json

import httpx
import pytest

from dialogo.providers.base import Draft, MessageKind, RemoteRef
from dialogo.providers.errors import InvalidPayload, ReauthRequired
from dialogo.providers.meta import messaging
from tests.providers.facebook.test_provider import PAGE, V, form, graph_error, provider
from tests.providers.x.test_provider import Recorder

ANNA = "6001234567890123"  # a page-scoped id (PSID)


def conversation(cid: str, updated: str, *messages: dict[str, object]) -> dict[str, object]:
    return {
        "id": cid,
        "updated_time": updated,
        "messages": {"data": list(messages), "paging": {"cursors": {"after": "m"}}},
    }


def dm(mid: str, at: str, sender: str, text: str, name: str = "Anna Rossi") -> dict[str, object]:
    peer = PAGE if sender != PAGE else ANNA
    return {
        "id": mid,
        "created_time": at,
        "from": {"name": name, "email": f"{sender}@facebook.com", "id": sender},
        "to": {"data": [{"name": "Caffè Aurora", "email": f"{peer}@facebook.com", "id": peer}]},
        "message": text,
    }


def no_posts(recorder: Recorder) -> None:
    recorder.on("GET", f"{V}/{PAGE}/published_posts", httpx.Response(200, json={"data": []}))


def test_direct_messages_newer_than_the_cursor_come_with_the_comments() -> None:
    recorder = Recorder()
    no_posts(recorder)
    recorder.on(
        "GET",
        f"{V}/{PAGE}/conversations",
        httpx.Response(
            200,
            json={
                "data": [
                    conversation(
                        "t_10161",
                        "2026-11-22T10:06:00+0000",
                        dm("m_reply", "2026-11-22T10:06:00+0000", PAGE, "Sì, in 48 ore!"),
                        dm("m_2", "2026-11-22T10:05:00+0000", ANNA, "Spedite in Sicilia?"),
                        dm("m_1", "2026-11-20T08:00:00+0000", ANNA, "vecchio"),
                    ),
                ],
                "paging": {
                    "cursors": {"before": "QVFIa", "after": "QVFIb"},
                    "next": f"https://graph.facebook.com{V}/{PAGE}/conversations?after=QVFIb",
                },
            },
        ),
        httpx.Response(
            200,
            json={
                "data": [
                    conversation(
                        "t_10162",
                        "2026-11-22T09:00:00+0000",
                        {
                            "id": "m_photo",
                            "created_time": "2026-11-22T09:00:00+0000",
                            "from": {"name": "Luca Bianchi", "id": "6002"},
                            "message": "",
                            "attachments": {
                                "data": [
                                    {
                                        "id": "att1",
                                        "mime_type": "image/jpeg",
                                        "name": "scontrino.jpg",
                                        "image_data": {"url": "https://scontent.example/1.jpg"},
                                    }
                                ]
                            },
                        },
                    ),
                    conversation("t_10150", "2026-11-01T09:00:00+0000"),  # older: paging stops
                ],
                "paging": {
                    "cursors": {"after": "QVFIc"},
                    "next": f"https://graph.facebook.com{V}/{PAGE}/conversations?after=QVFIc",
                },
            },
        ),
    )
    page = provider(recorder).fetch_messages("2026-11-21T00:00:00+00:00")
    assert [(m.remote_id, m.kind, m.author.remote_id) for m in page.messages] == [
        ("m_photo", MessageKind.direct, "6002"),
        ("m_2", MessageKind.direct, ANNA),
    ]
    anna = page.messages[1]
    assert anna.text == "Spedite in Sicilia?" and anna.author.display_name == "Anna Rossi"
    assert anna.conversation_id == f"dm:{ANNA}"  # threaded by person, as the webhook does
    assert anna.raw["dm_user_id"] == ANNA and anna.raw["dm_network"] == "facebook"
    assert anna.raw["dm_received_at"] == "2026-11-22T10:05:00+00:00"
    assert page.messages[0].text == "[attachment] scontrino.jpg https://scontent.example/1.jpg"
    assert page.cursor == "2026-11-22T10:05:00+00:00"
    calls = recorder.sent("GET", f"{V}/{PAGE}/conversations")
    assert len(calls) == 2  # the second page had an older conversation: no third request
    assert calls[0].url.params["platform"] == "messenger"
    assert "messages.limit(25){id,created_time,from,to,message" in calls[0].url.params["fields"]
    assert calls[1].url.params["after"] == "QVFIb"


def test_a_token_without_the_messaging_permission_still_reads_comments() -> None:
    recorder = Recorder()
    no_posts(recorder)
    recorder.on(
        "GET",
        f"{V}/{PAGE}/conversations",
        graph_error(230, "(#230) Requires pages_messaging permission to manage the object", 403),
    )
    page = provider(recorder).fetch_messages(None)
    assert page.messages == [] and page.cursor is None
    recorder2 = Recorder()
    no_posts(recorder2)
    recorder2.on("GET", f"{V}/{PAGE}/conversations", graph_error(190, "expired"))
    with pytest.raises(ReauthRequired):  # other errors still stop the fetch
        provider(recorder2).fetch_messages(None)


def target(hours_ago: float, user: str = ANNA) -> RemoteRef:
    received = dt.datetime.now(dt.UTC) - dt.timedelta(hours=hours_ago)
    return RemoteRef(
        "m_2",
        conversation_id=f"dm:{user}",
        extra={
            "dm_user_id": user,
            "dm_network": "facebook",
            "dm_received_at": received.isoformat(),
        },
    )


def sent_answer() -> httpx.Response:
    return httpx.Response(200, json={"recipient_id": ANNA, "message_id": "m_sent_1"})


def test_an_answer_within_24_hours_is_a_response() -> None:
    recorder = Recorder()
    recorder.on("POST", f"{V}/{PAGE}/messages", sent_answer())
    result = provider(recorder).reply(target(2), Draft(text="Sì, spediamo ovunque! ☕"))
    assert result.remote_id == "m_sent_1"
    assert result.state["messaging_type"] == "RESPONSE"
    sent = form(recorder.requests[0])
    assert sent["messaging_type"] == "RESPONSE" and "tag" not in sent
    assert json.loads(sent["recipient"]) == {"id": ANNA}
    assert json.loads(sent["message"]) == {"text": "Sì, spediamo ovunque! ☕"}
    assert recorder.requests[0].headers["Authorization"] == "Bearer page-token"


def test_an_answer_within_7_days_carries_the_human_agent_tag() -> None:
    recorder = Recorder()
    recorder.on("POST", f"{V}/{PAGE}/messages", sent_answer())
    result = provider(recorder).reply(target(24 * 3), Draft(text="Scusa il ritardo"))
    sent = form(recorder.requests[0])
    assert sent["messaging_type"] == "MESSAGE_TAG" and sent["tag"] == "HUMAN_AGENT"
    assert result.state["tag"] == "HUMAN_AGENT"


def test_an_answer_after_7_days_is_refused_before_any_request() -> None:
    recorder = Recorder()  # any request would fail the test
    p = provider(recorder)
    with pytest.raises(InvalidPayload) as caught:
        p.reply(target(24 * 7 + 1), Draft(text="Troppo tardi"))
    assert caught.value.issues == ["reply_to: outside_window"]
    assert recorder.requests == []
    issues = p.validate(Draft(text="x", reply_to=target(24 * 8)))
    assert [i.code for i in issues] == ["outside_window"]
    unknown = RemoteRef("m_2", extra={"dm_user_id": ANNA})
    assert [i.code for i in p.validate(Draft(text="x", reply_to=unknown))] == ["window_unknown"]
    assert [i.code for i in p.validate(Draft(text="é" * 2001, reply_to=target(1)))] == ["too_long"]
    assert p.validate(Draft(text="é" * 2000, reply_to=target(1))) == []


def test_meta_refusing_the_window_is_an_invalid_payload_not_a_permission_problem() -> None:
    recorder = Recorder()
    recorder.on(
        "POST",
        f"{V}/{PAGE}/messages",
        graph_error(
            10, "(#10) This message is sent outside of allowed window.", error_subcode=2018278
        ),
        graph_error(551, "This person isn't available right now."),
    )
    p = provider(recorder)
    with pytest.raises(InvalidPayload) as caught:
        p.reply(target(1), Draft(text="Ciao"))
    assert caught.value.issues == ["outside_window"]
    with pytest.raises(InvalidPayload) as unavailable:
        p.reply(target(1), Draft(text="Ciao"))
    assert unavailable.value.issues == ["recipient_unavailable"]


def test_a_comment_reply_is_still_a_comment() -> None:
    recorder = Recorder()
    recorder.on("POST", f"{V}/{PAGE}_5_1/comments", httpx.Response(200, json={"id": "5_9"}))
    assert provider(recorder).reply(RemoteRef(f"{PAGE}_5_1"), Draft(text="Grazie")).remote_id == (
        "5_9"
    )
    assert not messaging.is_direct(RemoteRef(f"{PAGE}_5_1"))
