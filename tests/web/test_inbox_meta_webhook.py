"""Messenger and Instagram webhook intake (``/webhooks/meta/{channel_id}``): Meta's handshake,
signed direct messages and comments stored in the inbox at once and only once (Meta resends,
and polling reads the same messages), echoes of our own messages ignored, unreadable parts
and other accounts' entries quarantined with the reason, bad signatures refused with nothing
kept; a stored direct message is answered through the Send API."""

from __future__ import annotations

import datetime as dt
import json
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
from dialogo.inbox.models import ContactIdentity, Conversation, Message, QuarantinedItem
from dialogo.inbox.replies import target_of
from dialogo.providers.base import Credentials, Draft, MessageKind
from dialogo.providers.facebook.provider import FacebookProvider
from dialogo.providers.meta.webhook import signature_for
from tests.providers.x.test_provider import Recorder

PAGE = "104512345678901"
PSID = "6001234567890123"
SECRET = "meta-app-secret-for-tests"
VERIFY = "meta-verify-token-for-tests"
V = "/v23.0"


@pytest.fixture
def page_channel(db: Session, ctx: AppContext, owner: User, workspace: Workspace) -> Channel:
    cipher = CredentialCipher.from_settings(ctx.settings)
    channel = Channel(
        workspace_id=workspace.id,
        network="facebook",
        name="Caffè Aurora",
        account_remote_id=PAGE,
        account_handle="caffeaurora",
        config={"client_id": "1234567890", "page_id": PAGE},
        credentials=cipher.encrypt(
            Credentials(
                access_token="page-token",
                account_id=PAGE,
                extra={"client_secret": SECRET, "verify_token": VERIFY, "token_kind": "page"},
            )
        ),
        connected_by=owner.id,
    )
    db.add(channel)
    db.commit()
    return channel


def recent() -> dt.datetime:
    """A minute ago, whole seconds (the Conversations API has second precision)."""
    return (dt.datetime.now(dt.UTC) - dt.timedelta(minutes=1)).replace(microsecond=0)


def dm_event(mid: str, text: str, at: dt.datetime, **message: Any) -> dict[str, Any]:
    return {
        "sender": {"id": PSID},
        "recipient": {"id": PAGE},
        "timestamp": int(at.timestamp() * 1000),
        "message": {"mid": mid, "text": text, **message},
    }


def notification(*events: Any, changes: Any = None, page: str = PAGE) -> bytes:
    entry: dict[str, Any] = {"id": page, "time": 1_795_000_000_000, "messaging": list(events)}
    if changes is not None:
        entry["changes"] = changes
    return json.dumps({"object": "page", "entry": [entry]}).encode()


def post(client: TestClient, channel_id: int, body: bytes, signature: str | None) -> Any:
    headers = {"Content-Type": "application/json"}
    if signature is not None:
        headers["X-Hub-Signature-256"] = signature
    return client.post(f"/webhooks/meta/{channel_id}", content=body, headers=headers)


def messages(db: Session, channel: Channel) -> list[Message]:
    db.expire_all()
    return list(
        db.scalars(select(Message).where(Message.channel_id == channel.id).order_by(Message.id))
    )


def test_the_handshake_answers_the_challenge_only_with_our_token(
    client: TestClient, page_channel: Channel
) -> None:
    url = f"/webhooks/meta/{page_channel.id}"
    ok = client.get(
        url, params={"hub.mode": "subscribe", "hub.verify_token": VERIFY, "hub.challenge": "77"}
    )
    assert ok.status_code == 200 and ok.text == "77"
    wrong = client.get(
        url, params={"hub.mode": "subscribe", "hub.verify_token": "nope", "hub.challenge": "1"}
    )
    assert wrong.status_code == 403 and wrong.text != "1"
    assert client.get(f"/webhooks/meta/{page_channel.id + 999}").status_code == 403


def test_signed_messages_and_comments_are_stored_once_echoes_ignored_problems_quarantined(
    client: TestClient, db: Session, page_channel: Channel
) -> None:
    at = recent()
    body = notification(
        dm_event("m_A1", "Spedite in Sicilia?", at),
        {  # the echo of our own answer
            "sender": {"id": PAGE},
            "recipient": {"id": PSID},
            "timestamp": int(at.timestamp() * 1000) + 5,
            "message": {"mid": "m_ECHO", "text": "Sì!", "is_echo": True},
        },
        {"sender": {"id": PSID}, "message": {"mid": "m_BAD", "text": "no time"}},
        changes=[
            {
                "field": "feed",
                "value": {
                    "item": "comment",
                    "verb": "add",
                    "comment_id": "55_1",
                    "post_id": f"{PAGE}_55",
                    "message": "Che profumo!",
                    "from": {"id": "6002", "name": "Luca Bianchi"},
                    "created_time": int(at.timestamp()),
                },
            }
        ],
    )
    assert post(client, page_channel.id, body, signature_for(body, SECRET)).status_code == 200
    again = post(client, page_channel.id, body, signature_for(body, SECRET))  # Meta resends
    assert again.status_code == 200
    stored = messages(db, page_channel)
    assert sorted((m.remote_id, m.kind) for m in stored) == [
        ("55_1", "comment"),
        ("m_A1", "direct"),
    ]
    dm = next(m for m in stored if m.remote_id == "m_A1")
    assert dm.text == "Spedite in Sicilia?" and dm.created_at == at
    conversation = db.get(Conversation, dm.conversation_id)
    assert conversation is not None and conversation.thread_key == f"dm:{PSID}"
    assert conversation.kind == "direct" and conversation.status == "open"
    reasons = [q.reason for q in db.scalars(select(QuarantinedItem))]
    assert len(reasons) == 2  # the bad event of each delivery, never dropped
    assert all("messaging[2]" in r and "without mid, sender or timestamp" in r for r in reasons)


def test_another_accounts_entries_are_quarantined(
    client: TestClient, db: Session, page_channel: Channel
) -> None:
    body = notification(dm_event("m_X", "hello", recent()), page="999")
    assert post(client, page_channel.id, body, signature_for(body, SECRET)).status_code == 200
    assert messages(db, page_channel) == []
    q = db.scalar(select(QuarantinedItem))
    assert q is not None and "account 999" in q.reason and q.remote_id == "m_X"


def test_bad_signatures_and_bodies_are_refused_and_keep_nothing(
    client: TestClient, db: Session, page_channel: Channel
) -> None:
    body = notification(dm_event("m_Z", "hello", recent()))
    assert post(client, page_channel.id, body, None).status_code == 403
    assert post(client, page_channel.id, body, signature_for(body, "another")).status_code == 403
    tampered = body.replace(b"hello", b"hullo")
    assert post(client, page_channel.id, tampered, signature_for(body, SECRET)).status_code == 403
    junk = b"{not json"
    assert post(client, page_channel.id, junk, signature_for(junk, SECRET)).status_code == 400
    missing = page_channel.id + 999
    assert post(client, missing, body, signature_for(body, SECRET)).status_code == 404
    db.expire_all()
    assert db.scalar(select(func.count()).select_from(Message)) == 0
    assert db.scalar(select(func.count()).select_from(QuarantinedItem)) == 0


def polled(at: dt.datetime, *mids: str) -> Recorder:
    """The Page's Graph API with no posts and one Messenger conversation holding ``mids``."""
    stamp = at.strftime("%Y-%m-%dT%H:%M:%S+0000")
    recorder = Recorder()
    recorder.on("GET", f"{V}/{PAGE}/published_posts", httpx.Response(200, json={"data": []}))
    recorder.on(
        "GET",
        f"{V}/{PAGE}/conversations",
        httpx.Response(
            200,
            json={
                "data": [
                    {
                        "id": "t_10161",
                        "updated_time": stamp,
                        "messages": {
                            "data": [
                                {
                                    "id": mid,
                                    "created_time": stamp,
                                    "from": {"name": "Anna Rossi", "id": PSID},
                                    "to": {"data": [{"name": "Caffè Aurora", "id": PAGE}]},
                                    "message": "Spedite in Sicilia?",
                                }
                                for mid in mids
                            ]
                        },
                    }
                ]
            },
        ),
    )
    recorder.on(
        "POST",
        f"{V}/{PAGE}/messages",
        httpx.Response(200, json={"recipient_id": PSID, "message_id": "m_OUT"}),
    )
    return recorder


def poll(db: Session, channel: Channel, recorder: Recorder) -> ingest.IngestReport:
    provider = FacebookProvider(
        Credentials(access_token="page-token", account_id=PAGE, extra={"token_kind": "page"}),
        http=httpx.Client(transport=httpx.MockTransport(recorder)),
        config={"page_id": PAGE},
    )
    page = provider.fetch_messages(None)
    assert [m.kind for m in page.messages] == [MessageKind.direct] * len(page.messages)
    report = ingest.store_page(db, channel, page, previous=None, now=dt.datetime.now(dt.UTC))
    db.commit()
    return report


def test_webhook_and_polling_meet_in_one_row_and_thread(
    client: TestClient, db: Session, page_channel: Channel
) -> None:
    at = recent()
    body = notification(dm_event("m_A1", "Spedite in Sicilia?", at))
    assert post(client, page_channel.id, body, signature_for(body, SECRET)).status_code == 200
    # the next poll reads the same message, and one the webhook missed
    report = poll(db, page_channel, polled(at, "m_A1", "m_A2"))
    assert (report.received, report.stored, report.duplicates) == (2, 1, 1)
    stored = messages(db, page_channel)
    assert sorted(m.remote_id for m in stored) == ["m_A1", "m_A2"]
    assert len({m.conversation_id for m in stored}) == 1  # one thread with the person
    # the webhook knew only the id; the poll brought the name, and the contact has it now
    identity = db.scalar(select(ContactIdentity).where(ContactIdentity.remote_id == PSID))
    assert identity is not None and identity.display_name == "Anna Rossi"
    # polled first, pushed later: still one row
    late = notification(dm_event("m_A2", "Spedite in Sicilia?", at))
    assert post(client, page_channel.id, late, signature_for(late, SECRET)).status_code == 200
    assert len(messages(db, page_channel)) == 2


def test_a_stored_direct_message_is_answered_through_the_send_api(
    client: TestClient, db: Session, page_channel: Channel
) -> None:
    body = notification(dm_event("m_A1", "Spedite in Sicilia?", recent()))
    assert post(client, page_channel.id, body, signature_for(body, SECRET)).status_code == 200
    [dm] = messages(db, page_channel)
    recorder = polled(recent())
    provider = FacebookProvider(
        Credentials(access_token="page-token", account_id=PAGE, extra={"token_kind": "page"}),
        http=httpx.Client(transport=httpx.MockTransport(recorder)),
        config={"page_id": PAGE},
    )
    result = provider.reply(target_of(dm), Draft(text="Sì, in 48 ore"))
    assert result.remote_id == "m_OUT" and result.state["messaging_type"] == "RESPONSE"
    [sent] = recorder.sent("POST", f"{V}/{PAGE}/messages")
    assert b"recipient" in sent.content and PSID.encode() in sent.content
