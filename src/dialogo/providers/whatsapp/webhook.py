"""WhatsApp Cloud API webhooks: pure functions, no I/O (Meta's docs: "Webhooks" — "Verification
Requests" and "Event Notifications" — and the WhatsApp "messages" webhook reference).

Inbound WhatsApp messages exist only as webhook notifications; the Cloud API has no endpoint
that lists received messages. A route in the web layer must:

1. answer Meta's subscription handshake, ``GET ?hub.mode=subscribe&hub.verify_token=…
   &hub.challenge=…``, with the challenge as plain text when the token is ours
   (:func:`verification_challenge`), 403 otherwise;
2. on ``POST``, read the **raw** body, check ``X-Hub-Signature-256`` (``sha256=`` + the
   HMAC-SHA256 of the body keyed with the app secret) and parse it (:func:`parse_notification`),
   answer 200 quickly and hand the messages to the inbox. Meta retries deliveries it did not
   see acknowledged, so the same message id can come twice: the inbox deduplicates on
   ``remote_id``.

Nothing is dropped silently: an entry this parser cannot read becomes a
:class:`WebhookProblem` in :attr:`WebhookBatch.problems` with where it was and why.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Mapping
from typing import Any

from dialogo.providers.base import Author, InboundMessage, MessageKind, RemoteRef

# The signature check, the handshake and the problem type are the same for every Meta
# webhook: they live in :mod:`dialogo.providers.meta.webhook` and are re-exported here.
from dialogo.providers.meta.webhook import (
    SIGNATURE_HEADER,
    WebhookMalformed,
    WebhookProblem,
    WebhookRejected,
    signature_for,
    signature_valid,
    signed_json,
    verification_challenge,
)

__all__ = [
    "SIGNATURE_HEADER",
    "StatusUpdate",
    "WebhookBatch",
    "WebhookMalformed",
    "WebhookProblem",
    "WebhookRejected",
    "parse_notification",
    "reply_target",
    "signature_for",
    "signature_valid",
    "verification_challenge",
]


@dataclasses.dataclass(frozen=True)
class StatusUpdate:
    """A delivery receipt for a message the business sent (sent, delivered, read, failed)."""

    message_id: str
    status: str
    recipient_id: str
    at: dt.datetime | None
    errors: tuple[str, ...] = ()


@dataclasses.dataclass(frozen=True)
class WebhookBatch:
    #: The business phone number(s) the messages were sent to, by ``phone_number_id``.
    messages: list[tuple[str, InboundMessage]]
    statuses: list[StatusUpdate]
    problems: list[WebhookProblem]


def _text(message: Mapping[str, Any]) -> str | None:
    """The readable text of an inbound message, by its ``type``; ``None`` when unknown."""
    kind = message.get("type")
    part = message.get(kind) if isinstance(kind, str) else None
    part = part if isinstance(part, dict) else {}
    if kind == "text":
        body = part.get("body")
        return body if isinstance(body, str) else None
    if kind in ("image", "video", "document", "sticker", "audio"):
        caption = part.get("caption")
        return caption if isinstance(caption, str) else ""
    if kind == "button":
        text = part.get("text")
        return text if isinstance(text, str) else None
    if kind == "interactive":
        for key in ("button_reply", "list_reply"):
            reply = part.get(key)
            if isinstance(reply, dict) and isinstance(reply.get("title"), str):
                return str(reply["title"])
        return None
    if kind == "reaction":
        emoji = part.get("emoji")
        return emoji if isinstance(emoji, str) else ""
    if kind == "location":
        parts = [part.get(k) for k in ("name", "address")]
        return ", ".join(p for p in parts if isinstance(p, str)) or ""
    return None


def _when(value: Any) -> dt.datetime | None:
    try:
        seconds = int(value)
    except (TypeError, ValueError):
        return None
    return dt.datetime.fromtimestamp(seconds, dt.UTC)


def _message(raw: Any, names: Mapping[str, str], where: str) -> InboundMessage | WebhookProblem:
    if not isinstance(raw, dict):
        return WebhookProblem(where, "a message that is not an object", raw)
    message_id, sender = raw.get("id"), raw.get("from")
    created = _when(raw.get("timestamp"))
    if not isinstance(message_id, str) or not isinstance(sender, str) or created is None:
        return WebhookProblem(where, "a message without id, sender or timestamp", raw)
    if raw.get("type") == "unsupported" or raw.get("errors"):
        details = "; ".join(
            str(e.get("title") or e.get("message") or e)
            for e in raw.get("errors") or []
            if isinstance(e, dict)
        )
        return WebhookProblem(
            where,
            f"WhatsApp could not deliver this message's content ({details or 'unsupported'})",
            raw,
        )
    text = _text(raw)
    if text is None:
        return WebhookProblem(
            where, f"a message of type {raw.get('type')!r} this parser cannot read", raw
        )
    context = raw.get("context")
    in_reply_to = context.get("id") if isinstance(context, dict) else None
    return InboundMessage(
        remote_id=message_id,
        kind=MessageKind.direct,
        author=Author(remote_id=sender, handle=f"+{sender}", display_name=names.get(sender, "")),
        text=text,
        created_at=created,
        conversation_id=sender,
        in_reply_to=in_reply_to if isinstance(in_reply_to, str) else None,
        raw=dict(raw),
    )


def parse_notification(body: bytes, signature: str | None, app_secret: str) -> WebhookBatch:
    """Check the signature of a ``POST`` notification and read its messages and receipts.

    Raises :class:`WebhookRejected` when the signature is wrong or missing or the body is not
    JSON (nothing can be trusted then); otherwise every unreadable part is a
    :class:`WebhookProblem` and everything readable is returned."""
    payload = signed_json(body, signature, app_secret)
    messages: list[tuple[str, InboundMessage]] = []
    statuses: list[StatusUpdate] = []
    problems: list[WebhookProblem] = []
    if not isinstance(payload, dict) or payload.get("object") != "whatsapp_business_account":
        obj = payload.get("object") if isinstance(payload, dict) else None
        problems.append(WebhookProblem("object", f"not a WhatsApp notification ({obj!r})", payload))
        return WebhookBatch(messages, statuses, problems)
    entries = payload.get("entry")
    if not isinstance(entries, list):
        problems.append(WebhookProblem("entry", "no entry list", payload))
        return WebhookBatch(messages, statuses, problems)
    for e, entry in enumerate(entries):
        changes = entry.get("changes") if isinstance(entry, dict) else None
        if not isinstance(changes, list):
            problems.append(WebhookProblem(f"entry[{e}]", "an entry without changes", entry))
            continue
        for c, change in enumerate(changes):
            where = f"entry[{e}].changes[{c}]"
            value = change.get("value") if isinstance(change, dict) else None
            if not isinstance(change, dict) or change.get("field") != "messages":
                field = change.get("field") if isinstance(change, dict) else None
                problems.append(WebhookProblem(where, f"a change of field {field!r}", change))
                continue
            if not isinstance(value, dict):
                problems.append(WebhookProblem(where, "a change without a value", change))
                continue
            metadata = value.get("metadata")
            phone_id = metadata.get("phone_number_id") if isinstance(metadata, dict) else None
            if not isinstance(phone_id, str):
                problems.append(
                    WebhookProblem(f"{where}.value", "no metadata.phone_number_id", value)
                )
                continue
            names = {
                str(c.get("wa_id")): str((c.get("profile") or {}).get("name") or "")
                for c in value.get("contacts") or []
                if isinstance(c, dict) and isinstance(c.get("profile") or {}, dict)
            }
            for m, raw in enumerate(value.get("messages") or []):
                parsed = _message(raw, names, f"{where}.value.messages[{m}]")
                if isinstance(parsed, WebhookProblem):
                    problems.append(parsed)
                else:
                    messages.append((phone_id, parsed))
            for s, raw in enumerate(value.get("statuses") or []):
                if not isinstance(raw, dict) or not isinstance(raw.get("id"), str):
                    problems.append(
                        WebhookProblem(f"{where}.value.statuses[{s}]", "a status without id", raw)
                    )
                    continue
                statuses.append(
                    StatusUpdate(
                        message_id=raw["id"],
                        status=str(raw.get("status") or ""),
                        recipient_id=str(raw.get("recipient_id") or ""),
                        at=_when(raw.get("timestamp")),
                        errors=tuple(
                            str(err.get("title") or err.get("code"))
                            for err in raw.get("errors") or []
                            if isinstance(err, dict)
                        ),
                    )
                )
    return WebhookBatch(messages, statuses, problems)


def reply_target(message: InboundMessage) -> RemoteRef:
    """What a reply to ``message`` answers: the customer's number as the conversation and,
    for the 24-hour customer-service window, when they last wrote (``last_inbound_at``)."""
    return RemoteRef(
        remote_id=message.remote_id,
        conversation_id=message.conversation_id or message.author.remote_id,
        extra={
            "wa_id": message.author.remote_id,
            "last_inbound_at": message.created_at.isoformat(),
        },
    )
