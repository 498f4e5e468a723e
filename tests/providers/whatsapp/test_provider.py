"""The WhatsApp provider and its webhook helpers against answers written from Meta's WhatsApp
Cloud API documentation: "Send messages" (``POST /<PHONE_NUMBER_ID>/messages``, text and
``context.message_id``, template messages), "Customer service windows" (24 hours), "Error
codes" (131047 re-engagement, 130429 throughput, 131056 pair rate limit), "Webhooks" →
"messages" reference (``object: whatsapp_business_account``, ``entry[].changes[].value``
with ``metadata``, ``contacts``, ``messages``, ``statuses``) and Meta's Graph "Webhooks"
guide ("Verification Requests" with ``hub.challenge``; ``X-Hub-Signature-256``)."""

from __future__ import annotations

import datetime as dt
import json

import httpx
import pytest

from dialogo.providers.base import Credentials, Draft, MessageKind, RemoteRef
from dialogo.providers.errors import InvalidPayload, OutcomeUnknown, RateLimited, ReauthRequired
from dialogo.providers.whatsapp.provider import WhatsAppProvider, window_open
from dialogo.providers.whatsapp.webhook import (
    WebhookMalformed,
    WebhookRejected,
    parse_notification,
    reply_target,
    signature_for,
    signature_valid,
    verification_challenge,
)
from tests.providers.x.test_provider import Recorder

PHONE_ID = "106540352242922"
V = "/v23.0"
SECRET = "app-secret-123"
CUSTOMER = "393475555010"


def provider(recorder: Recorder) -> WhatsAppProvider:
    return WhatsAppProvider(
        Credentials(access_token="wa-token", extra={"app_secret": SECRET}),
        http=httpx.Client(transport=httpx.MockTransport(recorder)),
        config={"phone_number_id": PHONE_ID},
    )


def target(hours_ago: float) -> RemoteRef:
    at = dt.datetime.now(dt.UTC) - dt.timedelta(hours=hours_ago)
    return RemoteRef(
        "wamid.HBgLMzkzNDc1NTU1MDEVAgASGBQzQTJG",
        conversation_id=CUSTOMER,
        extra={"wa_id": CUSTOMER, "last_inbound_at": at.isoformat()},
    )


SENT = {
    "messaging_product": "whatsapp",
    "contacts": [{"input": CUSTOMER, "wa_id": CUSTOMER}],
    "messages": [{"id": "wamid.HBgLMzkzNDc1NTU1MDEVAgARGBI5QTNDQTVCM0Q0Q0Q2RTY3RTcA"}],
}


def notification(*, messages: list[object], statuses: list[object] | None = None) -> bytes:
    value: dict[str, object] = {
        "messaging_product": "whatsapp",
        "metadata": {"display_phone_number": "15550783881", "phone_number_id": PHONE_ID},
        "contacts": [{"profile": {"name": "Giulia Rossi"}, "wa_id": CUSTOMER}],
        "messages": messages,
    }
    if statuses is not None:
        value["statuses"] = statuses
    return json.dumps(
        {
            "object": "whatsapp_business_account",
            "entry": [
                {"id": "102290129340398", "changes": [{"value": value, "field": "messages"}]}
            ],
        }
    ).encode()


def text_message(message_id: str, body: str, timestamp: int = 1763900000) -> dict[str, object]:
    return {
        "from": CUSTOMER,
        "id": message_id,
        "timestamp": str(timestamp),
        "type": "text",
        "text": {"body": body},
    }


def test_a_reply_in_the_window_is_a_text_message_quoting_the_customer() -> None:
    recorder = Recorder()
    recorder.on("POST", f"{V}/{PHONE_ID}/messages", httpx.Response(200, json=SENT))
    result = provider(recorder).reply(target(2), Draft(text="Sì, spediamo in Svizzera!"))
    assert result.remote_id == "wamid.HBgLMzkzNDc1NTU1MDEVAgARGBI5QTNDQTVCM0Q0Q0Q2RTY3RTcA"
    request = recorder.requests[0]
    assert request.headers["authorization"] == "Bearer wa-token"
    assert json.loads(request.content) == {
        "messaging_product": "whatsapp",
        "recipient_type": "individual",
        "to": CUSTOMER,
        "type": "text",
        "text": {"body": "Sì, spediamo in Svizzera!", "preview_url": False},
        "context": {"message_id": "wamid.HBgLMzkzNDc1NTU1MDEVAgASGBQzQTJG"},
    }


def test_a_free_form_reply_after_24_hours_is_refused_before_any_request() -> None:
    recorder = Recorder()
    p = provider(recorder)
    assert [i.code for i in p.validate(Draft(text="Ciao", reply_to=target(24.01)))] == [
        "outside_window"
    ]
    assert p.validate(Draft(text="Ciao", reply_to=target(23.9))) == []
    with pytest.raises(InvalidPayload, match="24 hours"):
        p.reply(target(30), Draft(text="Ciao"))
    unknown = RemoteRef("wamid.x", conversation_id=CUSTOMER)
    assert [i.code for i in p.validate(Draft(text="Ciao", reply_to=unknown))] == ["window_unknown"]
    assert [i.code for i in p.validate(Draft(text="Promo"))] == ["no_recipient"]
    assert recorder.requests == []


def test_window_open_is_exact_at_24_hours() -> None:
    now = dt.datetime(2026, 11, 23, 12, 0, tzinfo=dt.UTC)
    assert window_open("2026-11-22T12:00:01+00:00", now) is True
    assert window_open("2026-11-22T12:00:00+00:00", now) is False
    assert window_open("not a time", now) is None
    assert window_open(None, now) is None


def test_a_template_can_be_sent_outside_the_window() -> None:
    recorder = Recorder()
    recorder.on("POST", f"{V}/{PHONE_ID}/messages", httpx.Response(200, json=SENT))
    provider(recorder).send_template(CUSTOMER, "order_update", "it", ["Giulia", "A-1043"])
    assert json.loads(recorder.requests[0].content)["template"] == {
        "name": "order_update",
        "language": {"code": "it"},
        "components": [
            {
                "type": "body",
                "parameters": [
                    {"type": "text", "text": "Giulia"},
                    {"type": "text", "text": "A-1043"},
                ],
            }
        ],
    }


@pytest.mark.parametrize(
    ("code", "error", "detail"),
    [
        (131047, InvalidPayload, "outside_window"),
        (130429, RateLimited, None),
        (131056, RateLimited, None),
        (190, ReauthRequired, None),
        (131026, InvalidPayload, "undeliverable"),
    ],
)
def test_whatsapp_error_codes(code: int, error: type[Exception], detail: str | None) -> None:
    recorder = Recorder()
    recorder.on(
        "POST",
        f"{V}/{PHONE_ID}/messages",
        httpx.Response(
            400,
            json={
                "error": {
                    "message": f"(#{code}) error",
                    "type": "OAuthException",
                    "code": code,
                    "error_data": {"messaging_product": "whatsapp", "details": "x"},
                    "fbtrace_id": "Az8or2yhqkZfEZ-_4Qn_Bam",
                }
            },
        ),
    )
    with pytest.raises(error) as caught:
        provider(recorder).reply(target(1), Draft(text="Ciao"))
    if detail is not None:
        assert isinstance(caught.value, InvalidPayload) and caught.value.issues == [detail]


def test_a_lost_answer_to_a_send_is_an_unknown_outcome() -> None:
    recorder = Recorder()
    recorder.on("POST", f"{V}/{PHONE_ID}/messages", httpx.ReadTimeout("no answer"))
    with pytest.raises(OutcomeUnknown):
        provider(recorder).reply(target(1), Draft(text="Ciao"))


def test_verify_reads_the_business_number_and_fetch_messages_returns_nothing() -> None:
    recorder = Recorder()
    recorder.on(
        "GET",
        f"{V}/{PHONE_ID}",
        httpx.Response(
            200,
            json={
                "verified_name": "Caffè Aurora",
                "display_phone_number": "+39 02 1234 5678",
                "quality_rating": "GREEN",
                "id": PHONE_ID,
            },
        ),
    )
    p = provider(recorder)
    account = p.verify()
    assert (account.remote_id, account.handle, account.display_name) == (
        PHONE_ID,
        "+39 02 1234 5678",
        "Caffè Aurora",
    )
    page = p.fetch_messages("cursor-1")
    assert (list(page.messages), page.cursor) == ([], "cursor-1")


# -- webhooks -------------------------------------------------------------------------------------


def test_the_signature_is_the_hmac_of_the_raw_body() -> None:
    body = b'{"object":"whatsapp_business_account"}'
    header = signature_for(body, SECRET)
    assert header.startswith("sha256=") and len(header) == 7 + 64
    assert signature_valid(body, header, SECRET)
    assert not signature_valid(body + b" ", header, SECRET)
    assert not signature_valid(body, header, "other-secret")
    assert not signature_valid(body, None, SECRET)
    assert not signature_valid(body, header, "")
    assert not signature_valid(body, header.removeprefix("sha256="), SECRET)


def test_a_badly_signed_or_unsigned_notification_is_rejected() -> None:
    body = notification(messages=[text_message("wamid.A", "Ciao")])
    with pytest.raises(WebhookRejected):
        parse_notification(body, signature_for(body, "wrong"), SECRET)
    with pytest.raises(WebhookRejected):
        parse_notification(body, None, SECRET)
    garbage = b"not json"
    with pytest.raises(WebhookMalformed):
        parse_notification(garbage, signature_for(garbage, SECRET), SECRET)


def test_a_notification_becomes_messages_receipts_and_reported_problems() -> None:
    body = notification(
        messages=[
            text_message("wamid.A", "Spedite in Svizzera?"),
            {
                "from": CUSTOMER,
                "id": "wamid.B",
                "timestamp": "1763900100",
                "type": "image",
                "image": {"caption": "questa miscela", "mime_type": "image/jpeg", "id": "9001"},
                "context": {"from": "15550783881", "id": "wamid.OURS"},
            },
            {"from": CUSTOMER, "id": "wamid.C", "type": "text", "text": {"body": "no time"}},
            {
                "from": CUSTOMER,
                "id": "wamid.D",
                "timestamp": "1763900200",
                "type": "unsupported",
                "errors": [{"code": 131051, "title": "Message type unknown"}],
            },
        ],
        statuses=[
            {
                "id": "wamid.SENT1",
                "status": "read",
                "timestamp": "1763900300",
                "recipient_id": CUSTOMER,
            }
        ],
    )
    batch = parse_notification(body, signature_for(body, SECRET), SECRET)
    assert [(phone, m.remote_id, m.kind, m.text) for phone, m in batch.messages] == [
        (PHONE_ID, "wamid.A", MessageKind.direct, "Spedite in Svizzera?"),
        (PHONE_ID, "wamid.B", MessageKind.direct, "questa miscela"),
    ]
    first = batch.messages[0][1]
    assert (first.author.remote_id, first.author.display_name, first.conversation_id) == (
        CUSTOMER,
        "Giulia Rossi",
        CUSTOMER,
    )
    assert first.created_at == dt.datetime.fromtimestamp(1763900000, dt.UTC)
    assert batch.messages[1][1].in_reply_to == "wamid.OURS"
    assert [(p.where, "timestamp" in p.reason) for p in batch.problems] == [
        ("entry[0].changes[0].value.messages[2]", True),
        ("entry[0].changes[0].value.messages[3]", False),
    ]
    assert "Message type unknown" in batch.problems[1].reason
    assert batch.problems[1].raw["id"] == "wamid.D"
    assert [(s.message_id, s.status) for s in batch.statuses] == [("wamid.SENT1", "read")]


def test_other_fields_and_shapes_are_reported_not_dropped() -> None:
    payload = {
        "object": "whatsapp_business_account",
        "entry": [
            {"id": "1", "changes": [{"field": "account_update", "value": {}}]},
            {"id": "2"},
            {"id": "3", "changes": [{"field": "messages", "value": {"messages": []}}]},
        ],
    }
    body = json.dumps(payload).encode()
    batch = parse_notification(body, signature_for(body, SECRET), SECRET)
    assert batch.messages == []
    assert [p.where for p in batch.problems] == [
        "entry[0].changes[0]",
        "entry[1]",
        "entry[2].changes[0].value",
    ]


def test_a_parsed_message_gives_the_reply_target_with_the_window_start() -> None:
    body = notification(messages=[text_message("wamid.A", "Ciao", timestamp=1763900000)])
    [(_, message)] = parse_notification(body, signature_for(body, SECRET), SECRET).messages
    ref = reply_target(message)
    assert ref.extra == {
        "wa_id": CUSTOMER,
        "last_inbound_at": dt.datetime.fromtimestamp(1763900000, dt.UTC).isoformat(),
    }
    assert ref.conversation_id == CUSTOMER


def test_the_verification_handshake() -> None:
    params = {"hub.mode": "subscribe", "hub.verify_token": "tok-1", "hub.challenge": "1158201444"}
    assert verification_challenge(params, "tok-1") == "1158201444"
    with pytest.raises(WebhookRejected):
        verification_challenge({**params, "hub.verify_token": "nope"}, "tok-1")
    with pytest.raises(WebhookRejected):
        verification_challenge({**params, "hub.mode": "unsubscribe"}, "tok-1")
    with pytest.raises(WebhookRejected):
        verification_challenge(params, "")
