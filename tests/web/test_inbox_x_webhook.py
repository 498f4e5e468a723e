"""X Account Activity intake (``/webhooks/x/{channel_id}``): the CRC answer, signed mentions,
replies and direct messages stored in the inbox at once and only once (X redelivers, and
polling reads the same messages), the account's own posts and messages ignored, deliveries for
another user and unreadable parts quarantined with the reason, bad signatures refused with
nothing kept; a stored direct message is answered through the DM endpoint."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import json
from collections.abc import Sequence
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from dialogo.accounts.models import User, Workspace
from dialogo.channels.crypto import CredentialCipher
from dialogo.channels.models import Channel
from dialogo.core.context import AppContext
from dialogo.inbox import ingest
from dialogo.inbox.models import Conversation, Message, QuarantinedItem
from dialogo.inbox.replies import target_of
from dialogo.providers.base import Credentials, Draft
from dialogo.providers.x.provider import XProvider
from tests.providers.x.test_provider import Recorder

ME = "2244994945"
PERSON = "6253282"
SECRET = "x-consumer-secret-for-tests"


@pytest.fixture
def x_channel(db: Session, ctx: AppContext, owner: User, workspace: Workspace) -> Channel:
    cipher = CredentialCipher.from_settings(ctx.settings)
    channel = Channel(
        workspace_id=workspace.id,
        network="x",
        name="Caffè Aurora",
        account_remote_id=ME,
        account_handle="brand",
        config={"client_id": "client-123"},
        credentials=cipher.encrypt(
            Credentials(
                access_token="user-token",
                account_id=ME,
                extra={"username": "brand", "consumer_secret": SECRET},
            )
        ),
        connected_by=owner.id,
    )
    db.add(channel)
    db.commit()
    return channel


def sign(body: bytes, secret: str = SECRET) -> str:
    digest = hmac.new(secret.encode(), body, hashlib.sha256).digest()
    return "sha256=" + base64.b64encode(digest).decode()


def recent() -> dt.datetime:
    return (dt.datetime.now(dt.UTC) - dt.timedelta(minutes=1)).replace(microsecond=0)


def user() -> dict[str, Any]:
    return {"id_str": PERSON, "screen_name": "giulia_r", "name": "Giulia", "followers_count": 812}


def post_event(post_id: str, text: str, at: dt.datetime, **fields: Any) -> dict[str, Any]:
    return {
        "created_at": at.strftime("%a %b %d %H:%M:%S +0000 %Y"),
        "id_str": post_id,
        "text": text,
        "user": fields.pop("user", user()),
        **fields,
    }


def dm_event(event_id: str, text: str, at: dt.datetime, sender: str = PERSON) -> dict[str, Any]:
    return {
        "type": "message_create",
        "id": event_id,
        "created_timestamp": str(int(at.timestamp() * 1000)),
        "message_create": {
            "target": {"recipient_id": ME if sender != ME else PERSON},
            "sender_id": sender,
            "message_data": {"text": text},
        },
    }


def delivery(posts: Sequence[Any] = (), dms: Sequence[Any] = (), for_user: str = ME) -> bytes:
    payload: dict[str, Any] = {"for_user_id": for_user}
    if posts:
        payload["tweet_create_events"] = list(posts)
    if dms:
        payload["direct_message_events"] = list(dms)
        payload["users"] = {PERSON: {"id": PERSON, "screen_name": "giulia_r", "name": "Giulia"}}
    return json.dumps(payload).encode()


def send(client: TestClient, channel_id: int, body: bytes, signature: str | None) -> Any:
    headers = {"Content-Type": "application/json"}
    if signature is not None:
        headers["x-twitter-webhooks-signature"] = signature
    return client.post(f"/webhooks/x/{channel_id}", content=body, headers=headers)


def messages(db: Session, channel: Channel) -> list[Message]:
    db.expire_all()
    return list(
        db.scalars(select(Message).where(Message.channel_id == channel.id).order_by(Message.id))
    )


def test_the_crc_check_is_answered_with_the_consumer_secret(
    client: TestClient, x_channel: Channel
) -> None:
    answer = client.get(f"/webhooks/x/{x_channel.id}", params={"crc_token": "abc123"})
    digest = hmac.new(SECRET.encode(), b"abc123", hashlib.sha256).digest()
    assert answer.status_code == 200
    assert answer.json() == {"response_token": "sha256=" + base64.b64encode(digest).decode()}
    assert client.get(f"/webhooks/x/{x_channel.id}").status_code == 400  # no crc_token
    assert (
        client.get(f"/webhooks/x/{x_channel.id + 999}", params={"crc_token": "a"}).status_code
        == 403
    )


def test_mentions_replies_and_dms_are_stored_once_ours_ignored_problems_quarantined(
    client: TestClient, db: Session, x_channel: Channel
) -> None:
    at = recent()
    body = delivery(
        posts=[
            post_event("501", "@brand buongiorno", at),
            post_event(
                "502",
                "@brand quando riaprite?",
                at,
                in_reply_to_status_id_str="400",
                in_reply_to_user_id_str=ME,
            ),
            post_event("503", "Nuova miscela", at, user={"id_str": ME, "screen_name": "brand"}),
            {"id_str": "505", "text": "no user, no time"},
        ],
        dms=[
            dm_event("1580705921830768650", "Avete il decaffeinato?", at),
            dm_event("1580705921830768651", "Sì!", at, sender=ME),
        ],
    )
    assert send(client, x_channel.id, body, sign(body)).status_code == 200
    assert send(client, x_channel.id, body, sign(body)).status_code == 200  # redelivered
    stored = messages(db, x_channel)
    assert sorted((m.remote_id, m.kind) for m in stored) == [
        ("1580705921830768650", "direct"),
        ("501", "mention"),
        ("502", "reply"),
    ]
    by_id = {m.remote_id: m for m in stored}
    dm = by_id["1580705921830768650"]
    assert dm.text == "Avete il decaffeinato?" and dm.created_at == at
    conversation = db.get(Conversation, dm.conversation_id)
    assert conversation is not None and conversation.thread_key == f"dm:{PERSON}"
    assert conversation.kind == "direct" and conversation.status == "open"
    # an answer to the brand's post is threaded under that post, as polling would
    reply_thread = db.get(Conversation, by_id["502"].conversation_id)
    assert reply_thread is not None and reply_thread.thread_key == "400"
    reasons = [q.reason for q in db.scalars(select(QuarantinedItem))]
    assert len(reasons) == 2  # the unreadable post of each delivery, never dropped
    assert all("tweet_create_events[3]" in r for r in reasons)


def test_a_delivery_for_another_user_is_quarantined(
    client: TestClient, db: Session, x_channel: Channel
) -> None:
    body = delivery(dms=[dm_event("1580705921830768660", "hello", recent())], for_user="999")
    assert send(client, x_channel.id, body, sign(body)).status_code == 200
    assert messages(db, x_channel) == []
    q = db.scalar(select(QuarantinedItem))
    assert q is not None and "user 999" in q.reason and q.remote_id == "1580705921830768660"


def test_bad_signatures_and_bodies_are_refused_and_keep_nothing(
    client: TestClient, db: Session, x_channel: Channel
) -> None:
    body = delivery(dms=[dm_event("1580705921830768670", "hello", recent())])
    assert send(client, x_channel.id, body, None).status_code == 403
    assert send(client, x_channel.id, body, sign(body, "another")).status_code == 403
    tampered = body.replace(b"hello", b"hullo")
    assert send(client, x_channel.id, tampered, sign(body)).status_code == 403
    junk = b"{not json"
    assert send(client, x_channel.id, junk, sign(junk)).status_code == 400
    assert send(client, x_channel.id + 999, body, sign(body)).status_code == 404
    db.expire_all()
    assert db.scalar(select(func.count()).select_from(Message)) == 0
    assert db.scalar(select(func.count()).select_from(QuarantinedItem)) == 0


def polled(at: dt.datetime, *event_ids: str) -> Recorder:
    """X's v2 API with no new mentions and ``event_ids`` as direct messages from PERSON."""
    stamp = at.strftime("%Y-%m-%dT%H:%M:%S.000Z")
    recorder = Recorder()
    recorder.on(
        "GET", f"/2/users/{ME}/mentions", httpx.Response(200, json={"meta": {"result_count": 0}})
    )
    recorder.on(
        "GET",
        "/2/dm_events",
        httpx.Response(
            200,
            json={
                "data": [
                    {
                        "id": event_id,
                        "event_type": "MessageCreate",
                        "text": "Avete il decaffeinato?",
                        "sender_id": PERSON,
                        "dm_conversation_id": f"{PERSON}-{ME}",
                        "created_at": stamp,
                    }
                    for event_id in event_ids
                ],
                "includes": {"users": [{"id": PERSON, "name": "Giulia", "username": "giulia_r"}]},
                "meta": {"result_count": len(event_ids)},
            },
        ),
    )
    recorder.on(
        "POST",
        f"/2/dm_conversations/with/{PERSON}/messages",
        httpx.Response(
            201, json={"data": {"dm_conversation_id": f"{PERSON}-{ME}", "dm_event_id": "9001"}}
        ),
    )
    return recorder


def x_provider(recorder: Recorder) -> XProvider:
    return XProvider(
        Credentials(access_token="user-token", account_id=ME, extra={"username": "brand"}),
        http=httpx.Client(transport=httpx.MockTransport(recorder)),
        config={"client_id": "client-123"},
    )


def test_webhook_and_polling_meet_in_one_row_and_thread(
    client: TestClient, db: Session, x_channel: Channel
) -> None:
    at = recent()
    body = delivery(dms=[dm_event("1580705921830768650", "Avete il decaffeinato?", at)])
    assert send(client, x_channel.id, body, sign(body)).status_code == 200
    # the next poll reads the same message, and one the webhook missed
    page = x_provider(polled(at, "1580705921830768651", "1580705921830768650")).fetch_messages(None)
    report = ingest.store_page(db, x_channel, page, previous=None, now=dt.datetime.now(dt.UTC))
    db.commit()
    assert (report.received, report.stored, report.duplicates) == (2, 1, 1)
    stored = messages(db, x_channel)
    assert sorted(m.remote_id for m in stored) == ["1580705921830768650", "1580705921830768651"]
    assert len({m.conversation_id for m in stored}) == 1  # one thread with the person
    # polled first, pushed later: still one row
    late = delivery(dms=[dm_event("1580705921830768651", "Avete il decaffeinato?", at)])
    assert send(client, x_channel.id, late, sign(late)).status_code == 200
    assert len(messages(db, x_channel)) == 2


def test_a_stored_direct_message_is_answered_through_the_dm_endpoint(
    client: TestClient, db: Session, x_channel: Channel
) -> None:
    body = delivery(dms=[dm_event("1580705921830768650", "Avete il decaffeinato?", recent())])
    assert send(client, x_channel.id, body, sign(body)).status_code == 200
    [dm] = messages(db, x_channel)
    recorder = polled(recent())
    result = x_provider(recorder).reply(target_of(dm), Draft(text="Sì, anche in cialde"))
    assert result.remote_id == "9001"
    [sent] = recorder.sent("POST", f"/2/dm_conversations/with/{PERSON}/messages")
    assert json.loads(sent.content) == {"text": "Sì, anche in cialde"}
    assert not recorder.sent("POST", "/2/tweets")
