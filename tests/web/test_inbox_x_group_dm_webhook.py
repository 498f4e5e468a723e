"""X group direct messages through the webhook intake (``/webhooks/x/{channel_id}``): v2 DM
events (``dm_events``, and the X Activity API's ``dm.received`` envelope) threaded per group
conversation with the participants kept, the account's own messages skipped, stored once with
what polling reads, bad signatures refused with nothing kept, unreadable events quarantined
with the reason; an answer goes to the group."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import httpx
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from dialogo.channels.models import Channel
from dialogo.inbox import ingest
from dialogo.inbox.models import Conversation, Message, QuarantinedItem
from dialogo.inbox.replies import target_of
from dialogo.providers.base import Draft
from tests.providers.x.test_provider import Recorder
from tests.web import test_inbox_x_webhook as x_base
from tests.web.test_inbox_x_webhook import (
    ME,
    PERSON,
    messages,
    recent,
    send,
    sign,
    x_provider,
)

x_channel = x_base.x_channel  # the fixture, shared
OTHER = "783214"
GROUP = "1578900353814519810"  # a group conversation's id (no "-": not one-to-one)
MEMBERS = [ME, PERSON, OTHER]


def group_event(event_id: str, text: Any, at: dt.datetime, sender: str = PERSON) -> dict[str, Any]:
    """One v2 DM event (X API v2 "DM event object") in the group."""
    return {
        "id": event_id,
        "event_type": "MessageCreate",
        "text": text,
        "sender_id": sender,
        "dm_conversation_id": GROUP,
        "participant_ids": MEMBERS,
        "created_at": at.strftime("%Y-%m-%dT%H:%M:%S.000Z"),
    }


USERS = [
    {"id": PERSON, "name": "Giulia", "username": "giulia_r"},
    {"id": OTHER, "name": "Marco", "username": "marco_b"},
]


def v2_delivery(*events: Any, for_user: str = ME) -> bytes:
    return json.dumps(
        {"for_user_id": for_user, "dm_events": list(events), "includes": {"users": USERS}}
    ).encode()


def activity_delivery(event: Any, *, event_type: str = "dm.received", user: str = ME) -> bytes:
    """The X Activity API envelope around one event."""
    return json.dumps(
        {
            "data": {
                "event_uuid": "1900000000000000009",
                "filter": {"user_id": user},
                "event_type": event_type,
                "tag": "dialogo",
                "payload": event,
                "includes": {"users": USERS},
            }
        }
    ).encode()


def test_a_group_message_is_threaded_per_conversation_with_its_participants(
    client: TestClient, db: Session, x_channel: Channel
) -> None:
    at = recent()
    body = v2_delivery(
        group_event("1580705921830768700", "Ci vediamo da voi sabato?", at),
        group_event("1580705921830768701", "Prenotiamo per tre", at, sender=OTHER),
        group_event("1580705921830768702", "Vi aspettiamo!", at, sender=ME),  # our own echo
        {"id": "1580705921830768703", "event_type": "ParticipantsJoin", "sender_id": OTHER},
    )
    assert send(client, x_channel.id, body, sign(body)).status_code == 200
    assert send(client, x_channel.id, body, sign(body)).status_code == 200  # redelivered
    stored = messages(db, x_channel)
    assert [(m.remote_id, m.author_handle, m.kind) for m in stored] == [
        ("1580705921830768700", "giulia_r", "direct"),
        ("1580705921830768701", "marco_b", "direct"),
    ]
    [conversation_id] = {m.conversation_id for m in stored}  # one thread: the group
    conversation = db.get(Conversation, conversation_id)
    assert conversation is not None and conversation.thread_key == f"dm:{GROUP}"
    assert conversation.kind == "direct"
    for m in stored:
        assert m.ref["dm_conversation_id"] == GROUP
        assert m.ref["dm_participants"].split(",") == [OTHER, PERSON, ME]
    assert db.scalar(select(func.count()).select_from(QuarantinedItem)) == 0


def test_a_group_message_is_stored_once_with_what_polling_reads(
    client: TestClient, db: Session, x_channel: Channel
) -> None:
    at = recent()
    pushed = group_event("1580705921830768710", "Avete il decaffeinato?", at)
    body = activity_delivery(pushed)  # the X Activity API's dm.received envelope
    assert send(client, x_channel.id, body, sign(body)).status_code == 200
    recorder = Recorder()
    recorder.on(
        "GET", f"/2/users/{ME}/mentions", httpx.Response(200, json={"meta": {"result_count": 0}})
    )
    also = group_event("1580705921830768711", "Anche per me", at, sender=OTHER)
    recorder.on(
        "GET",
        "/2/dm_events",
        httpx.Response(
            200,
            json={"data": [also, pushed], "includes": {"users": USERS}, "meta": {}},
        ),
    )
    page = x_provider(recorder).fetch_messages(None)
    report = ingest.store_page(db, x_channel, page, previous=None, now=dt.datetime.now(dt.UTC))
    db.commit()
    assert (report.received, report.stored, report.duplicates) == (2, 1, 1)
    stored = messages(db, x_channel)
    assert sorted(m.remote_id for m in stored) == ["1580705921830768710", "1580705921830768711"]
    assert len({m.conversation_id for m in stored}) == 1
    late = v2_delivery(also)  # polled first, pushed later: still one row
    assert send(client, x_channel.id, late, sign(late)).status_code == 200
    assert len(messages(db, x_channel)) == 2


def test_an_answer_to_a_group_message_goes_to_the_group(
    client: TestClient, db: Session, x_channel: Channel
) -> None:
    body = v2_delivery(group_event("1580705921830768720", "Siete aperti?", recent()))
    assert send(client, x_channel.id, body, sign(body)).status_code == 200
    [message] = messages(db, x_channel)
    recorder = Recorder()
    recorder.on(
        "POST",
        f"/2/dm_conversations/{GROUP}/messages",
        httpx.Response(201, json={"data": {"dm_conversation_id": GROUP, "dm_event_id": "9002"}}),
    )
    result = x_provider(recorder).reply(target_of(message), Draft(text="Sì, fino alle 20"))
    assert result.remote_id == "9002"
    assert not recorder.sent("POST", f"/2/dm_conversations/with/{PERSON}/messages")


def test_a_bad_signature_keeps_nothing(client: TestClient, db: Session, x_channel: Channel) -> None:
    body = v2_delivery(group_event("1580705921830768730", "ciao", recent()))
    assert send(client, x_channel.id, body, None).status_code == 403
    assert send(client, x_channel.id, body, sign(body, "another")).status_code == 403
    envelope = activity_delivery(group_event("1580705921830768731", "ciao", recent()))
    assert send(client, x_channel.id, envelope, sign(envelope, "another")).status_code == 403
    db.expire_all()
    assert db.scalar(select(func.count()).select_from(Message)) == 0
    assert db.scalar(select(func.count()).select_from(QuarantinedItem)) == 0


def test_malformed_group_events_are_quarantined_with_the_reason(
    client: TestClient, db: Session, x_channel: Channel
) -> None:
    at = recent()
    no_sender = group_event("1580705921830768740", "chi sono?", at)
    del no_sender["sender_id"]
    members = group_event("1580705921830768741", "ciao", at)
    members["participant_ids"] = "everyone"
    body = v2_delivery(
        no_sender,
        members,
        group_event("1580705921830768742", {"rich": "text"}, at),
        "not an event",
        group_event("1580705921830768743", "questo sì", at),
    )
    assert send(client, x_channel.id, body, sign(body)).status_code == 200
    # an X Activity event kind this intake does not read, and one for another account
    other_kind = activity_delivery({"id": "1"}, event_type="profile.update.bio")
    assert send(client, x_channel.id, other_kind, sign(other_kind)).status_code == 200
    foreign = activity_delivery(group_event("1580705921830768744", "ciao", at), user="999")
    assert send(client, x_channel.id, foreign, sign(foreign)).status_code == 200
    assert [m.remote_id for m in messages(db, x_channel)] == ["1580705921830768743"]
    reasons = sorted(q.reason for q in db.scalars(select(QuarantinedItem)))
    assert len(reasons) == 6, reasons
    joined = "\n".join(reasons)
    assert "dm_events[0]: a message without id, sender_id or created_at" in joined
    assert "dm_events[1]: participant_ids is not a list of ids" in joined
    assert "dm_events[2]: a message whose text is not text" in joined
    assert "dm_events[3]: a direct message event that is not an object" in joined
    assert "profile.update.bio" in joined
    assert "user 999" in joined
