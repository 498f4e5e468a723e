"""Meta's Messenger and Instagram notifications, parsed from payloads written from Meta's
documentation ("messages" and "message_echoes" webhook events, the Pages "feed" field, the
Instagram "comments" and "mentions" fields), and the shared signature and handshake."""

from __future__ import annotations

import json
from typing import Any

import pytest

from dialogo.providers.base import MessageKind
from dialogo.providers.meta.webhook import (
    WebhookMalformed,
    WebhookRejected,
    parse_page_notification,
    signature_for,
    signature_valid,
    verification_challenge,
    when,
)
from dialogo.providers.whatsapp import webhook as whatsapp

SECRET = "meta-app-secret"
PAGE = "104512345678901"
PSID = "6001234567890123"


def signed(payload: Any) -> tuple[bytes, str]:
    body = json.dumps(payload).encode()
    return body, signature_for(body, SECRET)


def page_notification(*events: Any, changes: Any = None, page: str = PAGE) -> dict[str, Any]:
    entry: dict[str, Any] = {"id": page, "time": 1_795_000_000_000}
    if events:
        entry["messaging"] = list(events)
    if changes is not None:
        entry["changes"] = changes
    return {"object": "page", "entry": [entry]}


def message_event(mid: str, text: str | None = "Ciao!", **message: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"mid": mid, **message}
    if text is not None:
        body["text"] = text
    return {
        "sender": {"id": PSID},
        "recipient": {"id": PAGE},
        "timestamp": 1_795_000_000_123,
        "message": body,
    }


def test_the_signature_and_the_handshake_are_the_ones_whatsapp_uses() -> None:
    body = b'{"object":"page"}'
    good = signature_for(body, SECRET)
    assert signature_valid(body, good, SECRET)
    assert not signature_valid(body + b" ", good, SECRET)
    assert not signature_valid(body, good, "another")
    assert not signature_valid(body, None, SECRET) and not signature_valid(body, good, "")
    # one implementation, not two copies
    assert whatsapp.signature_valid is signature_valid
    assert whatsapp.verification_challenge is verification_challenge
    params = {"hub.mode": "subscribe", "hub.verify_token": "v", "hub.challenge": "42"}
    assert verification_challenge(params, "v") == "42"
    with pytest.raises(WebhookRejected):
        verification_challenge(params, "other")


def test_direct_messages_attachments_and_answers_are_read_and_echoes_ignored() -> None:
    body, signature = signed(
        page_notification(
            message_event("m_1", "Spedite in Sicilia?"),
            message_event(
                "m_2",
                None,
                attachments=[
                    {"type": "image", "payload": {"url": "https://scontent.example/p.jpg"}}
                ],
                reply_to={"mid": "m_0"},
            ),
            {  # our own message, echoed
                "sender": {"id": PAGE},
                "recipient": {"id": PSID},
                "timestamp": 1_795_000_000_200,
                "message": {"mid": "m_echo", "is_echo": True, "app_id": 1517776481860111},
            },
            {"sender": {"id": PSID}, "recipient": {"id": PAGE}, "read": {"watermark": 1}},
        )
    )
    batch = parse_page_notification(body, signature, SECRET, network="facebook")
    assert batch.problems == [] and batch.ignored == 2
    [(to1, first), (to2, second)] = batch.messages
    assert to1 == to2 == PAGE
    assert (first.remote_id, first.kind, first.text) == (
        "m_1",
        MessageKind.direct,
        "Spedite in Sicilia?",
    )
    assert first.author.remote_id == PSID and first.conversation_id == f"dm:{PSID}"
    assert first.created_at == when(1_795_000_000_123)
    assert first.raw["dm_user_id"] == PSID and first.raw["dm_network"] == "facebook"
    assert second.text == "[image] https://scontent.example/p.jpg"
    assert second.in_reply_to == "m_0"


def test_page_comments_become_comments_and_replies() -> None:
    def feed(**value: Any) -> dict[str, Any]:
        return {"field": "feed", "value": value}

    common = {"item": "comment", "verb": "add", "post_id": f"{PAGE}_55", "created_time": 1795000000}
    body, signature = signed(
        page_notification(
            changes=[
                feed(**common, comment_id="55_1", message="Buonissimo"),
                feed(
                    **common,
                    comment_id="55_2",
                    parent_id="55_1",
                    message="Concordo",
                    **{"from": {"id": "6002", "name": "Luca"}},
                ),
                feed(**common, comment_id="55_3", message="Grazie", **{"from": {"id": PAGE}}),
                feed(item="reaction", verb="add", post_id=f"{PAGE}_55", reaction_type="like"),
            ]
        )
    )
    batch = parse_page_notification(body, signature, SECRET, network="facebook")
    assert [m.remote_id for _, m in batch.messages] == ["55_2"]
    reply = batch.messages[0][1]
    assert reply.kind is MessageKind.reply and reply.in_reply_to == "55_1"
    assert reply.conversation_id == f"{PAGE}_55" and reply.author.display_name == "Luca"
    # the first comment has no "from": kept for a person, with its id; the Page's own and the
    # reaction are ignored
    [problem] = batch.problems
    assert problem.where == "entry[0].changes[0]" and problem.remote_id == "55_1"
    assert batch.ignored == 2


def test_instagram_messages_comments_and_mentions() -> None:
    ig, igsid = "17841405822304914", "1254459154682919"
    payload = {
        "object": "instagram",
        "entry": [
            {
                "id": ig,
                "time": 1795000000,
                "messaging": [
                    {
                        "sender": {"id": igsid},
                        "recipient": {"id": ig},
                        "timestamp": 1795000000456,
                        "message": {"mid": "aWdfZAG1faXRlbToxOk", "text": "Decaffeinato?"},
                    },
                    {
                        "sender": {"id": ig},
                        "recipient": {"id": igsid},
                        "timestamp": 1795000000999,
                        "message": {"mid": "aWdfZAG1fecho", "text": "Sì", "is_echo": True},
                    },
                ],
                "changes": [
                    {
                        "field": "comments",
                        "value": {
                            "id": "17865799348089039",
                            "text": "Che bella tazza",
                            "from": {"id": "1789", "username": "giulia_r"},
                            "media": {"id": "17887498072083520", "media_product_type": "FEED"},
                        },
                    },
                    {
                        "field": "mentions",
                        "value": {"media_id": "17918195224117851", "comment_id": "17894227972"},
                    },
                ],
            }
        ],
    }
    body, signature = signed(payload)
    batch = parse_page_notification(body, signature, SECRET, network="instagram")
    kinds = [(m.remote_id, m.kind) for _, m in batch.messages]
    assert kinds == [
        ("aWdfZAG1faXRlbToxOk", MessageKind.direct),
        ("17865799348089039", MessageKind.comment),
    ]
    comment = batch.messages[1][1]
    assert comment.author.handle == "giulia_r" and comment.conversation_id == "17887498072083520"
    assert comment.created_at == when(1795000000)
    # a mention carries only ids: a reference for the job that reads its content
    assert batch.problems == []
    [(to, mention)] = batch.mentions
    assert to == ig and (mention.media_id, mention.comment_id) == (
        "17918195224117851",
        "17894227972",
    )
    assert mention.remote_id == "17894227972" and mention.time == when(1795000000)
    assert batch.ignored == 1
    # an Instagram notification is not a Page one
    wrong = parse_page_notification(body, signature, SECRET, network="facebook")
    assert wrong.messages == [] and "not a facebook notification" in wrong.problems[0].reason


def test_unreadable_parts_are_problems_and_bad_signatures_rejections() -> None:
    body, signature = signed(
        page_notification(
            message_event("m_ok"),
            {"sender": {"id": PSID}, "message": {"mid": "m_no_time", "text": "x"}},
            message_event("m_empty", None),
            "not an object",
        )
    )
    batch = parse_page_notification(body, signature, SECRET, network="facebook")
    assert [m.remote_id for _, m in batch.messages] == ["m_ok"]
    assert [(p.where, p.remote_id) for p in batch.problems] == [
        ("entry[0].messaging[1]", "m_no_time"),
        ("entry[0].messaging[2]", "m_empty"),
        ("entry[0].messaging[3]", None),
    ]
    with pytest.raises(WebhookRejected):
        parse_page_notification(body, None, SECRET, network="facebook")
    with pytest.raises(WebhookRejected):
        parse_page_notification(body, signature_for(body, "other"), SECRET, network="facebook")
    with pytest.raises(WebhookMalformed):
        parse_page_notification(b"{no", signature_for(b"{no", SECRET), SECRET, network="facebook")


def test_times_in_seconds_and_milliseconds() -> None:
    assert when(1795000000) == when(1795000000000) == when("1795000000")
    assert when(None) is None and when(True) is None and when("x") is None and when(-1) is None
