"""Meta's webhooks, shared by WhatsApp, Facebook Pages (Messenger) and Instagram: pure
functions, no I/O (Meta's docs: "Webhooks" — "Verification Requests" and "Event
Notifications" —, the Messenger Platform "messages" and "message_echoes" webhook events, the
Pages "feed" field, and the Instagram "comments", "mentions" and "messages" fields).

Every Meta webhook works the same way, so the pieces here serve every Meta network:

1. the subscription handshake, ``GET ?hub.mode=subscribe&hub.verify_token=…&hub.challenge=…``,
   answered with the challenge as plain text when the token is ours
   (:func:`verification_challenge`), 403 otherwise;
2. ``POST`` notifications signed with ``X-Hub-Signature-256``: ``sha256=`` + the HMAC-SHA256
   of the **raw** body keyed with the app secret (:func:`signature_valid`). Meta resends what
   it did not see acknowledged, so the same message can come twice: the inbox deduplicates on
   the remote id.

:func:`parse_page_notification` reads Messenger and Instagram notifications
(``object`` ``page`` or ``instagram``) into the inbox's own types:

- ``entry[].messaging[]`` — a direct message ``{sender: {id}, recipient: {id}, timestamp (ms),
  message: {mid, text, attachments[], reply_to: {mid}, is_echo}}``. Echoes of the account's
  own messages (``is_echo``, or a sender that is the account itself) and events that are not
  messages (deliveries, reads, reactions, postbacks, unsent messages) are counted in
  :attr:`PageBatch.ignored`, not stored. The thread of a direct message is the person
  (``dm:<PSID or IGSID>``), the same key the polling path builds from the Conversations API,
  and its ``mid`` is the message id the Conversations API returns, so a message that comes by
  both ways is stored once;
- ``entry[].changes[]`` of field ``feed`` (a Page: ``value.item == "comment"`` and
  ``verb == "add"``, with ``comment_id``, ``post_id``, ``parent_id``, ``message``, ``from``,
  ``created_time`` in seconds) and of field ``comments`` (Instagram: ``value.id``, ``text``,
  ``from {id, username}``, ``media {id}``, ``parent_id``) become comments and replies with
  the same ids the comments endpoints return. Other feed items (posts, reactions, edits,
  removals) are ignored. Instagram's ``mentions`` field (``value: {media_id, comment_id?}``)
  carries only ids, not the text: it becomes a :class:`MentionRef` (in
  :attr:`PageBatch.mentions`), whose content a job reads from the Graph API afterwards
  (:mod:`dialogo.inbox.instagram_mentions`); one without a ``media_id`` is a problem.

Nothing is dropped silently: an entry this parser cannot read becomes a
:class:`WebhookProblem` with where it was and why.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import hmac
import json
from collections.abc import Mapping
from typing import Any

from dialogo.core.errors import DomainError
from dialogo.providers.base import (
    Author,
    ConnectField,
    ConnectFieldKind,
    InboundMessage,
    MessageKind,
)
from dialogo.providers.fields import identifier as _id
from dialogo.providers.fields import mapping as _map
from dialogo.providers.fields import text as _str

SIGNATURE_HEADER = "X-Hub-Signature-256"
#: The channel setting Meta's handshake checks (Facebook, Instagram and Threads channels).
VERIFY_TOKEN_FIELD = ConnectField(
    "verify_token",
    "Webhook verify token",
    kind=ConnectFieldKind.extra,
    secret=True,
    required=False,
    help="For messages pushed at once: any long random string, typed again in the "
    "app's webhook settings for /webhooks/meta/<channel id>.",
)
_PREFIX = "sha256="
#: ``object`` of the notifications each network sends.
OBJECTS = {"facebook": "page", "instagram": "instagram"}


class WebhookRejected(DomainError):
    """The notification is not from Meta (bad or missing signature) or is not JSON: answer
    403/400 and keep nothing."""

    code = "webhook_rejected"
    status = 403


class WebhookMalformed(WebhookRejected):
    """A correctly signed body that is not JSON."""

    code = "webhook_malformed"
    status = 400


@dataclasses.dataclass(frozen=True)
class WebhookProblem:
    """One part of a notification that could not be read, kept for a person to look at."""

    where: str  # e.g. "entry[0].changes[1].value.messages[2]"
    reason: str
    raw: Any = None
    remote_id: str | None = None


def signature_for(body: bytes, app_secret: str) -> str:
    """The ``X-Hub-Signature-256`` value Meta sends for ``body``."""
    digest = hmac.new(app_secret.encode(), body, hashlib.sha256).hexdigest()
    return _PREFIX + digest


def signature_valid(body: bytes, header: str | None, app_secret: str) -> bool:
    """Whether ``header`` is the HMAC-SHA256 of the raw ``body`` with the app secret
    (compared in constant time). An empty secret never validates anything."""
    if not app_secret or not header or not header.startswith(_PREFIX):
        return False
    return hmac.compare_digest(header.strip().lower(), signature_for(body, app_secret))


def verification_challenge(params: Mapping[str, str], verify_token: str) -> str:
    """The ``hub.challenge`` to echo for Meta's subscription handshake, or
    :class:`WebhookRejected` when the mode or the token is not ours."""
    if not verify_token:
        raise WebhookRejected("no webhook verify token is configured for this channel")
    token = params.get("hub.verify_token", "")
    if params.get("hub.mode") != "subscribe" or not hmac.compare_digest(
        token.encode(), verify_token.encode()
    ):
        raise WebhookRejected("the webhook verification token does not match")
    challenge = params.get("hub.challenge", "")
    if not challenge:
        raise WebhookRejected("the verification request has no hub.challenge")
    return challenge


def signed_json(body: bytes, signature: str | None, app_secret: str) -> Any:
    """The decoded body of a notification whose signature is right, else
    :class:`WebhookRejected` (:class:`WebhookMalformed` for a signed body that is not JSON)."""
    if not signature_valid(body, signature, app_secret):
        raise WebhookRejected("the X-Hub-Signature-256 of this notification is not valid")
    try:
        return json.loads(body)
    except ValueError:
        raise WebhookMalformed("the notification body is not JSON") from None


# -- Messenger and Instagram ---------------------------------------------------------------------


def dm_thread(user_id: str) -> str:
    """The conversation key of a direct-message thread with one person (PSID or IGSID)."""
    return f"dm:{user_id}"


def when(value: Any) -> dt.datetime | None:
    """A Unix time in seconds or in milliseconds (Messenger's ``timestamp``) as aware UTC."""
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        return None
    try:
        number = float(value)
    except ValueError:
        return None
    if number <= 0:
        return None
    if number > 100_000_000_000:  # milliseconds (seconds would be after the year 5000)
        number /= 1000.0
    try:
        return dt.datetime.fromtimestamp(number, dt.UTC)
    except (OverflowError, OSError, ValueError):
        return None


@dataclasses.dataclass(frozen=True)
class MentionRef:
    """An Instagram @mention notification: the account was mentioned in the caption of
    ``media_id`` or, with ``comment_id``, in a comment on it. Only ids: the content is read
    from the Graph API later (``mentioned_media`` / ``mentioned_comment``)."""

    media_id: str
    comment_id: str | None
    where: str
    time: dt.datetime | None = None
    raw: Any = None

    @property
    def remote_id(self) -> str:
        """The id of the mentioning item (the comment, else the media): one inbox row each."""
        return self.comment_id or self.media_id


@dataclasses.dataclass(frozen=True)
class PageBatch:
    #: (the account the entry is for — Page id or Instagram account id —, the message)
    messages: list[tuple[str, InboundMessage]]
    problems: list[WebhookProblem]
    #: echoes of our own messages and events that are not messages (deliveries, reads…)
    ignored: int = 0
    #: (the Instagram account mentioned, the mention) — content fetched by a job
    mentions: list[tuple[str, MentionRef]] = dataclasses.field(default_factory=list)


def attachment_text(attachments: Any) -> str:
    """A readable stand-in for attachments (the inbox stores text): ``[image] <url>``."""
    parts = []
    for item in attachments if isinstance(attachments, list) else []:
        item = _map(item)
        kind = _str(item.get("type")) or "attachment"
        payload = _map(item.get("payload"))
        url = _str(payload.get("url")) or _str(_map(item.get("image_data")).get("url"))
        title = _str(payload.get("title")) or _str(item.get("name"))
        parts.append(" ".join(p for p in (f"[{kind}]", title, url) if p))
    return "\n".join(parts)


def direct_message(
    *,
    network: str,
    message_id: str,
    user_id: str,
    user_handle: str,
    user_name: str,
    text: str,
    created_at: dt.datetime,
    in_reply_to: str | None,
    raw: Mapping[str, Any],
) -> InboundMessage:
    """A direct message as both the webhook and the polling path build it (same id, same
    thread, same reply reference), so the two meet in one row."""
    return InboundMessage(
        remote_id=message_id,
        kind=MessageKind.direct,
        author=Author(remote_id=user_id, handle=user_handle or user_id, display_name=user_name),
        text=text,
        created_at=created_at,
        conversation_id=dm_thread(user_id),
        in_reply_to=in_reply_to,
        raw={
            **{k: v for k, v in raw.items() if k not in ("from", "to")},
            # what a reply needs (RemoteRef.extra): whom to send to, the window's start
            "dm_network": network,
            "dm_user_id": user_id,
            "dm_received_at": created_at.isoformat(),
        },
    )


def _messaging(
    raw: Any, account: str, network: str, where: str
) -> InboundMessage | WebhookProblem | None:
    """One ``messaging[]`` event: a message, a problem, or ``None`` (an echo, a receipt)."""
    if not isinstance(raw, dict):
        return WebhookProblem(where, "a messaging event that is not an object", raw)
    message = raw.get("message")
    if message is None:
        return None  # delivery, read, reaction, postback, referral…: not a message
    sender = _id(_map(raw.get("sender")).get("id"))
    if not isinstance(message, dict):
        return WebhookProblem(where, "a message that is not an object", raw)
    mid = _str(message.get("mid"))
    if message.get("is_echo") is True or (sender is not None and sender == account):
        return None  # our own message, sent by Dialogo or from Meta's inbox
    if message.get("is_deleted") is True:
        return None  # the person unsent a message: nothing to answer
    if message.get("is_unsupported") is True:
        return WebhookProblem(where, "Meta says this message's content is not supported", raw, mid)
    created = when(raw.get("timestamp"))
    if mid is None or sender is None or created is None:
        return WebhookProblem(where, "a message without mid, sender or timestamp", raw, mid)
    text = message.get("text")
    if text is not None and not isinstance(text, str):
        return WebhookProblem(where, "a message whose text is not text", raw, mid)
    body = "\n".join(p for p in (text or "", attachment_text(message.get("attachments"))) if p)
    if not body:
        return WebhookProblem(where, "a message with neither text nor attachments", raw, mid)
    reply_to = _str(_map(message.get("reply_to")).get("mid"))
    return direct_message(
        network=network,
        message_id=mid,
        user_id=sender,
        user_handle=sender,
        user_name="",
        text=body,
        created_at=created,
        in_reply_to=reply_to,
        raw={"mid": mid, "text": text or ""},
    )


def _page_comment(value: Mapping[str, Any], account: str, where: str, raw: Any) -> Any:
    """A Page ``feed`` change: a comment (or an answer to one), else ``None``."""
    if value.get("item") != "comment" or value.get("verb") != "add":
        return None  # posts, reactions, edits, removals: not new messages
    comment_id, post_id = _id(value.get("comment_id")), _id(value.get("post_id"))
    author = _map(value.get("from"))
    author_id = _id(author.get("id"))
    created = when(value.get("created_time"))
    if comment_id is None or post_id is None or author_id is None or created is None:
        return WebhookProblem(
            where, "a comment without comment_id, post_id, from or created_time", raw, comment_id
        )
    if author_id == account:
        return None  # the Page's own comment
    parent = _id(value.get("parent_id"))
    parent = parent if parent and parent != post_id else None
    return InboundMessage(
        remote_id=comment_id,
        kind=MessageKind.reply if parent else MessageKind.comment,
        author=Author(
            remote_id=author_id, handle=author_id, display_name=_str(author.get("name")) or ""
        ),
        text=_str(value.get("message")) or "",
        created_at=created,
        conversation_id=post_id,
        in_reply_to=parent or post_id,
        raw={"id": comment_id, "message": _str(value.get("message")) or ""},
    )


def _instagram_comment(
    value: Mapping[str, Any], account: str, created: dt.datetime | None, where: str, raw: Any
) -> Any:
    comment_id = _id(value.get("id"))
    author = _map(value.get("from"))
    author_id = _id(author.get("id"))
    media_id = _id(_map(value.get("media")).get("id"))
    if comment_id is None or author_id is None or media_id is None or created is None:
        return WebhookProblem(where, "a comment without id, from, media or time", raw, comment_id)
    if author_id == account:
        return None
    username = _str(author.get("username")) or author_id
    parent = _id(value.get("parent_id"))
    return InboundMessage(
        remote_id=comment_id,
        kind=MessageKind.reply if parent else MessageKind.comment,
        author=Author(remote_id=author_id, handle=username, display_name=username),
        text=_str(value.get("text")) or "",
        created_at=created,
        conversation_id=media_id,
        in_reply_to=parent or media_id,
        raw={"id": comment_id, "text": _str(value.get("text")) or ""},
    )


def _change(
    change: Any, network: str, account: str, entry_time: dt.datetime | None, where: str
) -> Any:
    if not isinstance(change, dict):
        return WebhookProblem(where, "a change that is not an object", change)
    field, value = change.get("field"), change.get("value")
    if not isinstance(value, dict):
        return WebhookProblem(where, f"a change of field {field!r} without a value", change)
    if network == "facebook" and field == "feed":
        return _page_comment(value, account, where, change)
    if network == "instagram" and field == "comments":
        created = when(value.get("timestamp")) or entry_time
        return _instagram_comment(value, account, created, where, change)
    if network == "instagram" and field == "mentions":
        media_id, comment_id = _id(value.get("media_id")), _id(value.get("comment_id"))
        if media_id is None:
            return WebhookProblem(
                where, "an Instagram mention notification without a media_id", change, comment_id
            )
        return MentionRef(media_id, comment_id, where, entry_time, change)
    return WebhookProblem(where, f"a change of field {field!r} this intake does not read", change)


def parse_page_notification(
    body: bytes, signature: str | None, app_secret: str, *, network: str
) -> PageBatch:
    """Check the signature of a Messenger (``network="facebook"``) or Instagram notification
    and read its direct messages and comments.

    Raises :class:`WebhookRejected` when the signature is wrong or missing or the body is not
    JSON (nothing can be trusted then); otherwise every unreadable part is a
    :class:`WebhookProblem` and everything readable is returned."""
    payload = signed_json(body, signature, app_secret)
    messages: list[tuple[str, InboundMessage]] = []
    problems: list[WebhookProblem] = []
    mentions: list[tuple[str, MentionRef]] = []
    ignored = 0
    expected = OBJECTS.get(network)
    if not isinstance(payload, dict) or payload.get("object") != expected:
        obj = payload.get("object") if isinstance(payload, dict) else None
        problems.append(
            WebhookProblem("object", f"not a {network} notification ({obj!r})", payload)
        )
        return PageBatch(messages, problems)
    entries = payload.get("entry")
    if not isinstance(entries, list):
        problems.append(WebhookProblem("entry", "no entry list", payload))
        return PageBatch(messages, problems)
    for e, entry in enumerate(entries):
        account = _id(entry.get("id")) if isinstance(entry, dict) else None
        if not isinstance(entry, dict) or account is None:
            problems.append(WebhookProblem(f"entry[{e}]", "an entry without an id", entry))
            continue
        events = entry.get("messaging")
        changes = entry.get("changes")
        if not isinstance(events, list) and not isinstance(changes, list):
            if isinstance(entry.get("standby"), list):
                ignored += len(entry["standby"])  # another app holds the thread (handover)
                continue
            problems.append(
                WebhookProblem(f"entry[{e}]", "an entry with neither messaging nor changes", entry)
            )
            continue
        results: list[tuple[str, Any]] = []
        for m, raw in enumerate(events if isinstance(events, list) else []):
            where = f"entry[{e}].messaging[{m}]"
            results.append((where, _messaging(raw, account, network, where)))
        entry_time = when(entry.get("time"))
        for c, raw in enumerate(changes if isinstance(changes, list) else []):
            where = f"entry[{e}].changes[{c}]"
            results.append((where, _change(raw, network, account, entry_time, where)))
        for _where, parsed in results:
            if parsed is None:
                ignored += 1
            elif isinstance(parsed, WebhookProblem):
                problems.append(parsed)
            elif isinstance(parsed, MentionRef):
                mentions.append((account, parsed))
            else:
                messages.append((account, parsed))
    return PageBatch(messages, problems, ignored, mentions)
