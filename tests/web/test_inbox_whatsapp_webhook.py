"""WhatsApp webhook intake: Meta's handshake, signed notifications stored in the inbox once
(Meta resends), unreadable parts and other numbers quarantined, bad signatures refused with
nothing kept."""

from __future__ import annotations

import json
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from dialogo.accounts.models import User, Workspace
from dialogo.channels.crypto import CredentialCipher
from dialogo.channels.models import Channel
from dialogo.core.context import AppContext
from dialogo.inbox.models import Conversation, Message, QuarantinedItem
from dialogo.providers.base import Credentials
from dialogo.providers.whatsapp.webhook import signature_for

PHONE_ID = "106540352242922"
SECRET = "app-secret-for-tests"
VERIFY = "verify-token-for-tests"


@pytest.fixture
def whatsapp(db: Session, ctx: AppContext, owner: User, workspace: Workspace) -> Channel:
    cipher = CredentialCipher.from_settings(ctx.settings)
    channel = Channel(
        workspace_id=workspace.id,
        network="whatsapp",
        name="Caffè Aurora WhatsApp",
        account_remote_id=PHONE_ID,
        account_handle="+39 081 000 0000",
        config={"phone_number_id": PHONE_ID},
        credentials=cipher.encrypt(
            Credentials(access_token="token", extra={"app_secret": SECRET, "verify_token": VERIFY})
        ),
        connected_by=owner.id,
    )
    db.add(channel)
    db.commit()
    return channel


def notification(*messages: Any, phone_id: str = PHONE_ID, extra: Any = None) -> bytes:
    value: dict[str, Any] = {
        "messaging_product": "whatsapp",
        "metadata": {"display_phone_number": "390810000000", "phone_number_id": phone_id},
        "contacts": [{"profile": {"name": "Lucia Esposito"}, "wa_id": "393331234567"}],
        "messages": list(messages),
    }
    changes: list[Any] = [{"field": "messages", "value": value}]
    if extra is not None:
        changes.append(extra)
    return json.dumps(
        {"object": "whatsapp_business_account", "entry": [{"id": "WABA", "changes": changes}]}
    ).encode()


def text_message(mid: str, body: str, ts: int = 1_900_000_000) -> dict[str, Any]:
    return {
        "from": "393331234567",
        "id": mid,
        "timestamp": str(ts),
        "type": "text",
        "text": {"body": body},
    }


def post(client: TestClient, channel_id: int, body: bytes, signature: str | None) -> Any:
    headers = {"Content-Type": "application/json"}
    if signature is not None:
        headers["X-Hub-Signature-256"] = signature
    return client.post(f"/webhooks/whatsapp/{channel_id}", content=body, headers=headers)


def test_the_handshake_answers_the_challenge_only_with_our_token(
    client: TestClient, whatsapp: Channel
) -> None:
    url = f"/webhooks/whatsapp/{whatsapp.id}"
    ok = client.get(
        url,
        params={"hub.mode": "subscribe", "hub.verify_token": VERIFY, "hub.challenge": "1158201444"},
    )
    assert ok.status_code == 200 and ok.text == "1158201444"
    wrong = client.get(
        url, params={"hub.mode": "subscribe", "hub.verify_token": "nope", "hub.challenge": "1"}
    )
    assert wrong.status_code == 403 and wrong.text != "1"
    assert client.get(f"/webhooks/whatsapp/{whatsapp.id + 999}").status_code == 403


def test_signed_messages_are_stored_once_and_problems_quarantined(
    client: TestClient, db: Session, whatsapp: Channel
) -> None:
    body = notification(
        text_message("wamid.A1", "Ciao, fate consegne a Napoli?"),
        {
            "from": "393331234567",
            "id": "wamid.BAD",
            "timestamp": "1900000001",
            "type": "unsupported",
            "errors": [{"code": 131051, "title": "Message type unknown"}],
        },
        extra={"field": "account_update", "value": {}},
    )
    r = post(client, whatsapp.id, body, signature_for(body, SECRET))
    assert r.status_code == 200
    again = post(client, whatsapp.id, body, signature_for(body, SECRET))  # Meta resends
    assert again.status_code == 200
    db.expire_all()
    stored = list(db.scalars(select(Message).where(Message.channel_id == whatsapp.id)))
    assert [m.remote_id for m in stored] == ["wamid.A1"]
    assert stored[0].text == "Ciao, fate consegne a Napoli?" and stored[0].kind == "direct"
    assert stored[0].author_name == "Lucia Esposito"
    conv = db.scalar(select(Conversation).where(Conversation.channel_id == whatsapp.id))
    assert conv is not None and conv.thread_key and conv.status == "open"
    reasons = sorted(q.reason for q in db.scalars(select(QuarantinedItem)))
    # each delivery's problems are kept (the resend is visible too), never dropped
    assert len(reasons) == 4
    assert any("Message type unknown" in x and "messages[1]" in x for x in reasons)
    assert any("'account_update'" in x for x in reasons)


def test_another_numbers_messages_are_quarantined(
    client: TestClient, db: Session, whatsapp: Channel
) -> None:
    body = notification(text_message("wamid.X", "hello"), phone_id="999")
    assert post(client, whatsapp.id, body, signature_for(body, SECRET)).status_code == 200
    db.expire_all()
    assert db.scalar(select(func.count()).select_from(Message)) == 0
    q = db.scalar(select(QuarantinedItem))
    assert q is not None and "phone number 999" in q.reason and q.remote_id == "wamid.X"


def test_bad_signatures_and_bodies_are_refused_and_keep_nothing(
    client: TestClient, db: Session, whatsapp: Channel
) -> None:
    body = notification(text_message("wamid.Z", "hello"))
    assert post(client, whatsapp.id, body, None).status_code == 403
    assert post(client, whatsapp.id, body, signature_for(body, "another secret")).status_code == 403
    tampered = body.replace(b"hello", b"hullo")
    assert post(client, whatsapp.id, tampered, signature_for(body, SECRET)).status_code == 403
    junk = b"{not json"
    assert post(client, whatsapp.id, junk, signature_for(junk, SECRET)).status_code == 400
    assert post(client, whatsapp.id + 999, body, signature_for(body, SECRET)).status_code == 404
    db.expire_all()
    assert db.scalar(select(func.count()).select_from(Message)) == 0
    assert db.scalar(select(func.count()).select_from(QuarantinedItem)) == 0
