"""The WhatsApp provider's fixture for the provider contract (:mod:`dialogo.providers.contract`).

The Cloud API answers errors as Graph error objects (an invalid token: HTTP 401 with code
190); the throughput limit is code 130429, for which the provider waits what WhatsApp's docs
suggest, so the contract's 429 here is the Graph usage header answer (code 80007, WhatsApp
Business Account rate limit) with ``estimated_time_to_regain_access``. Drafts are answers
to a customer who wrote a minute ago (the 24-hour window is open)."""

from __future__ import annotations

import contextlib
import datetime as dt
import json
from collections.abc import Iterator

from dialogo.providers.base import Credentials, Draft, Media, Provider, RemoteRef
from dialogo.providers.contract import Answer, ContractFixture, Responder, httpx_client
from dialogo.providers.whatsapp.provider import WhatsAppProvider

PHONE_ID = "106540352242922"
TOKEN = "contract-whatsapp-token"  # noqa: S105 - a made-up token
_GRAPH = {
    401: (190, "Error validating access token: Session has expired"),
    500: (2, "Service temporarily unavailable"),
    503: (2, "Service temporarily unavailable"),
}


def error_answer(status: int) -> Answer:
    code, message = _GRAPH.get(status, (1, "An unknown error occurred"))
    return Answer(
        status, json={"error": {"message": message, "type": "OAuthException", "code": code}}
    )


def rate_limit_answer(wait: float) -> Answer:
    usage = {
        "102290129340398": [
            {"type": "whatsapp", "call_count": 100, "estimated_time_to_regain_access": wait / 60}
        ]
    }
    return Answer(
        429,
        headers={"X-Business-Use-Case-Usage": json.dumps(usage)},
        json={"error": {"message": "Rate limit hit", "type": "OAuthException", "code": 80007}},
    )


def contract_fixture() -> ContractFixture:
    @contextlib.contextmanager
    def connect(responder: Responder) -> Iterator[Provider]:
        provider = WhatsAppProvider(
            Credentials(access_token=TOKEN, extra={"app_secret": "s", "verify_token": "v"}),
            http=httpx_client(responder),
            config={"phone_number_id": PHONE_ID},
        )
        try:
            yield provider
        finally:
            provider.close()

    now = dt.datetime.now(dt.UTC)

    def customer(minutes_ago: float) -> RemoteRef:
        at = now - dt.timedelta(minutes=minutes_ago)
        return RemoteRef(
            "wamid.HBgLMzkzNDc1NTU1MDEVAgASGBQzQTJG",
            conversation_id="393475555010",
            extra={"wa_id": "393475555010", "last_inbound_at": at.isoformat()},
        )

    return ContractFixture(
        provider_class=WhatsAppProvider,
        connect=connect,
        valid_drafts=[
            Draft(text="Buongiorno! Sì, spediamo anche in Svizzera.", reply_to=customer(1)),
            Draft(text="é" * 4096, reply_to=customer(60 * 23)),
        ],
        invalid_drafts={
            "not an answer": Draft(text="Promo!"),
            "outside the 24-hour window": Draft(text="Ciao", reply_to=customer(60 * 24 + 1)),
            "window unknown": Draft(text="Ciao", reply_to=RemoteRef("wamid.x", "393475555010")),
            "4097 characters": Draft(text="é" * 4097, reply_to=customer(1)),
            "empty": Draft(text=" ", reply_to=customer(1)),
            "media": Draft(
                text="x", media=[Media(b"\xff\xd8", "image/jpeg")], reply_to=customer(1)
            ),
        },
        error_answer=error_answer,
        rate_limit_answer=rate_limit_answer,
        retry_after_tolerance=0.5,
    )
