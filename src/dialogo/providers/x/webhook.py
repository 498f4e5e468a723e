"""X's Account Activity API webhooks: pure functions, no I/O (docs.x.com: "Account Activity
API" — "Securing webhooks" and "Account Activity data objects" —, the v1.1 "Tweet object" and
"Message Create object" the events carry).

1. The challenge-response check (CRC): X sends ``GET ?crc_token=…`` when the webhook is
   registered and then periodically; the answer is the JSON
   ``{"response_token": "sha256=" + base64(HMAC-SHA256(consumer secret, crc_token))}``
   (:func:`crc_response`). The key is the app's **consumer secret** (API key secret), not an
   OAuth 2.0 client secret or a token.
2. ``POST`` events signed with ``x-twitter-webhooks-signature``: ``sha256=`` + the base64
   HMAC-SHA256 of the **raw** body keyed with the same consumer secret
   (:func:`signature_valid`). X may deliver an event more than once: the inbox deduplicates
   on the remote id.

:func:`parse_activity` reads one delivery, ``{"for_user_id", "tweet_create_events",
"direct_message_events", "users", …}``, into the inbox's own types:

- ``tweet_create_events[]`` (v1.1 Tweet objects): the account's own posts and retweets are
  ignored; any other post is a ``reply`` when it answers one of the account's posts
  (``in_reply_to_user_id_str`` is the account), else a ``mention`` — the classification the
  polling path makes from the mentions timeline, with the same id (``id_str``). A post that
  starts a conversation is its own ``conversation_id`` (what X's v2 ``conversation_id`` is for
  it); an answer has none here (v1.1 objects do not carry the root), so the inbox threads it
  with the post it answers (:mod:`dialogo.inbox.x_webhook`);
- ``direct_message_events[]`` of type ``message_create``: the account's own messages
  (``sender_id`` is the account) are ignored; the others are ``direct`` messages threaded by
  the person (:func:`dialogo.providers.x.messaging.direct_message`, the same id and thread as
  ``GET /2/dm_events``). The sender's name comes from the delivery's ``users`` map;
- ``dm_events[]``, direct messages in the X API v2 DM event shape (``id``, ``event_type``,
  ``text``, ``sender_id``, ``dm_conversation_id``, ``participant_ids``, ``created_at``; the
  senders in ``includes.users`` or ``users``): read by the polling path's own function
  (:func:`dialogo.providers.x.messaging.polled_event`), so a **group conversation** is
  threaded per conversation (``dm:<dm_conversation_id>``, its participants kept in
  ``dm_participants``) exactly as ``GET /2/dm_events`` threads it, with the same id: a message
  the poller also reads is stored once. Events other than ``MessageCreate`` (participants
  joining or leaving) and the account's own messages are ignored. (X's Account Activity docs
  say the v1.1 ``direct_message_events`` carry one-to-one messages only, "group conversations
  not yet supported"; v2 DM events are how a group message reaches this intake.)
- the X Activity API's envelope (``{"data": {"event_type", "filter": {"user_id"},
  "payload", "includes"}}``, docs.x.com "X Activity API" event payloads) is unwrapped: the
  account is ``filter.user_id``; the payload is read as a delivery of its own (either list
  above) or, when it is one v2 DM event, as ``dm_events`` of one. Any other event type is a
  :class:`WebhookProblem` (quarantined: this intake does not read it).
- every other kind of event (likes, follows, blocks, typing indicators, read receipts, deleted
  posts, revoked subscriptions) is counted in :attr:`ActivityBatch.ignored`.

Nothing is dropped silently: an event this parser cannot read becomes a
:class:`WebhookProblem` with where it was and why.
"""

from __future__ import annotations

import base64
import dataclasses
import datetime as dt
import hashlib
import hmac
import json
from collections.abc import Mapping
from typing import Any

from dialogo.core.errors import DomainError
from dialogo.providers.base import Author, InboundMessage, MessageKind
from dialogo.providers.fields import identifier as _id
from dialogo.providers.fields import integer as _int
from dialogo.providers.fields import mapping as _map
from dialogo.providers.fields import text as _str
from dialogo.providers.fields import timestamp as _time
from dialogo.providers.x import messaging

SIGNATURE_HEADER = "x-twitter-webhooks-signature"
_PREFIX = "sha256="
_TWEET_TIME = "%a %b %d %H:%M:%S %z %Y"  # "Wed Oct 10 20:19:24 +0000 2018"
#: The event lists a delivery may hold that are not messages for the inbox.
OTHER_EVENTS = (
    "favorite_events",
    "follow_events",
    "unfollow_events",
    "block_events",
    "unblock_events",
    "mute_events",
    "unmute_events",
    "user_event",
    "direct_message_indicate_typing_events",
    "direct_message_mark_read_events",
    "tweet_delete_events",
)


class WebhookRejected(DomainError):
    """The delivery is not from X (bad or missing signature): answer 403 and keep nothing."""

    code = "webhook_rejected"
    status = 403


class WebhookMalformed(WebhookRejected):
    """A correctly signed body that is not JSON."""

    code = "webhook_malformed"
    status = 400


@dataclasses.dataclass(frozen=True)
class WebhookProblem:
    """One part of a delivery that could not be read, kept for a person to look at."""

    where: str  # e.g. "direct_message_events[2]"
    reason: str
    raw: Any = None
    remote_id: str | None = None


@dataclasses.dataclass(frozen=True)
class ActivityBatch:
    #: (the account the delivery is for — ``for_user_id`` —, the message)
    messages: list[tuple[str, InboundMessage]]
    problems: list[WebhookProblem]
    #: the account's own posts and messages, and events that are not messages
    ignored: int = 0


def _hmac(secret: str, data: bytes) -> str:
    digest = hmac.new(secret.encode(), data, hashlib.sha256).digest()
    return _PREFIX + base64.b64encode(digest).decode()


def crc_response(crc_token: str, consumer_secret: str) -> dict[str, str]:
    """The JSON answer to X's challenge-response check, or :class:`WebhookRejected` when no
    secret is configured or no token was sent."""
    if not consumer_secret:
        raise WebhookRejected("no X consumer secret is configured for this channel")
    if not crc_token:
        raise WebhookMalformed("the challenge-response check has no crc_token")
    return {"response_token": _hmac(consumer_secret, crc_token.encode())}


def signature_for(body: bytes, consumer_secret: str) -> str:
    """The ``x-twitter-webhooks-signature`` value X sends for ``body``."""
    return _hmac(consumer_secret, body)


def signature_valid(body: bytes, header: str | None, consumer_secret: str) -> bool:
    """Whether ``header`` is the base64 HMAC-SHA256 of the raw ``body`` with the consumer
    secret (compared in constant time; base64 is case-sensitive). An empty secret never
    validates anything."""
    if not consumer_secret or not header or not header.startswith(_PREFIX):
        return False
    return hmac.compare_digest(
        header.strip().encode(), signature_for(body, consumer_secret).encode()
    )


def tweet_time(item: Mapping[str, Any]) -> dt.datetime | None:
    """A v1.1 post's ``created_at`` (or its ``timestamp_ms``) as aware UTC."""
    raw = _str(item.get("created_at"))
    if raw is not None:
        try:
            return dt.datetime.strptime(raw, _TWEET_TIME).astimezone(dt.UTC)
        except ValueError:
            pass
    return millis(item.get("timestamp_ms"))


def millis(value: Any) -> dt.datetime | None:
    """Epoch milliseconds (a string or a number) as aware UTC."""
    number = _int(value)
    if number is None and isinstance(value, str) and value.isdigit():
        number = int(value)
    if number is None or number <= 0:
        return None
    try:
        return dt.datetime.fromtimestamp(number / 1000.0, dt.UTC)
    except (OverflowError, OSError, ValueError):
        return None


def _tweet(raw: Any, me: str, where: str) -> InboundMessage | WebhookProblem | None:
    if not isinstance(raw, dict):
        return WebhookProblem(where, "a post that is not an object", raw)
    post_id = _id(raw.get("id_str")) or _id(raw.get("id"))
    user = _map(raw.get("user"))
    author_id = _id(user.get("id_str")) or _id(user.get("id"))
    created = tweet_time(raw)
    if post_id is None or author_id is None or created is None:
        return WebhookProblem(where, "a post without id_str, user or created_at", raw, post_id)
    if author_id == me or "retweeted_status" in raw:
        return None  # the account's own post, or a repost: nothing to answer
    extended = _map(raw.get("extended_tweet"))
    text = _str(extended.get("full_text")) or _str(raw.get("full_text")) or _str(raw.get("text"))
    replied_to = _id(raw.get("in_reply_to_status_id_str")) or _id(raw.get("in_reply_to_status_id"))
    to_me = (_id(raw.get("in_reply_to_user_id_str")) or _id(raw.get("in_reply_to_user_id"))) == me
    handle = _str(user.get("screen_name")) or author_id
    return InboundMessage(
        remote_id=post_id,
        kind=MessageKind.reply if replied_to and to_me else MessageKind.mention,
        author=Author(
            remote_id=author_id,
            handle=handle,
            display_name=_str(user.get("name")) or handle,
            followers=_int(user.get("followers_count")),
        ),
        text=text or "",
        created_at=created,
        # a post that starts a conversation is its conversation; an answer's root is unknown
        conversation_id=None if replied_to else post_id,
        in_reply_to=replied_to,
        url=f"https://x.com/{handle}/status/{post_id}",
        language=_str(raw.get("lang")),
        raw={
            "id": post_id,
            "text": text or "",
            "in_reply_to_user_id": _id(raw.get("in_reply_to_user_id_str")) or "",
        },
    )


def _attachment(message_data: Mapping[str, Any]) -> str:
    media = _map(_map(message_data.get("attachment")).get("media"))
    url = _str(media.get("media_url_https")) or _str(media.get("expanded_url"))
    return f"[{_str(media.get('type')) or 'media'}] {url}" if url else ""


def _direct(
    raw: Any, me: str, users: Mapping[str, Any], where: str
) -> InboundMessage | WebhookProblem | None:
    if not isinstance(raw, dict):
        return WebhookProblem(where, "a direct message event that is not an object", raw)
    if raw.get("type") != "message_create":
        return None
    event_id = _id(raw.get("id"))
    create = _map(raw.get("message_create"))
    sender = _id(create.get("sender_id"))
    created = millis(raw.get("created_timestamp"))
    if event_id is None or sender is None or created is None:
        return WebhookProblem(
            where, "a message without id, sender_id or created_timestamp", raw, event_id
        )
    if sender == me:
        return None  # the account's own message (sent by Dialogo or in X's app)
    data = _map(create.get("message_data"))
    text = data.get("text")
    if text is not None and not isinstance(text, str):
        return WebhookProblem(where, "a message whose text is not text", raw, event_id)
    body = "\n".join(p for p in (text or "", _attachment(data)) if p)
    if not body:
        return WebhookProblem(where, "a message with neither text nor attachment", raw, event_id)
    recipient = _id(_map(create.get("target")).get("recipient_id")) or me
    user = _map(users.get(sender))
    low, high = sorted((sender, recipient), key=lambda i: (len(i), i))
    return messaging.direct_message(
        event_id=event_id,
        sender=sender,
        thread=sender,
        conversation=f"{low}-{high}",
        text=body,
        created_at=created,
        user=user,
        followers=_int(user.get("followers_count")),
    )


def _direct_v2(
    raw: Any, me: str, users: Mapping[str, Mapping[str, Any]], where: str
) -> InboundMessage | WebhookProblem | None:
    """One v2 DM event of a delivery (see the module docstring)."""
    if not isinstance(raw, dict):
        return WebhookProblem(where, "a direct message event that is not an object", raw)
    event_id = _id(raw.get("id"))
    if raw.get("event_type", "MessageCreate") != "MessageCreate":
        return None  # ParticipantsJoin / ParticipantsLeave
    sender = _id(raw.get("sender_id"))
    if event_id is None or sender is None or _time(raw.get("created_at")) is None:
        return WebhookProblem(where, "a message without id, sender_id or created_at", raw, event_id)
    if sender == me:
        return None  # the account's own message (sent by Dialogo or in X's app)
    text, participants = raw.get("text"), raw.get("participant_ids")
    if text is not None and not isinstance(text, str):
        return WebhookProblem(where, "a message whose text is not text", raw, event_id)
    if participants is not None and not (
        isinstance(participants, list) and all(isinstance(p, str) for p in participants)
    ):
        return WebhookProblem(where, "participant_ids is not a list of ids", raw, event_id)
    if not text:
        return WebhookProblem(where, "a message without text", raw, event_id)
    return messaging.polled_event(raw, users, me)


def _users(payload: Mapping[str, Any]) -> dict[str, Mapping[str, Any]]:
    """The delivery's users by id: the v1.1 ``users`` map, and v2 ``includes.users``."""
    found: dict[str, Mapping[str, Any]] = {}
    for key, value in _map(payload.get("users")).items():
        if isinstance(value, dict):  # the X Activity API nests each one under "data"
            found[str(key)] = _map(value.get("data")) or value
    for item in _map(payload.get("includes")).get("users") or []:
        if isinstance(item, dict) and _id(item.get("id")):
            found[str(item["id"])] = item
    return found


def _unwrap(payload: dict[str, Any]) -> dict[str, Any]:
    """An X Activity API delivery as an Account Activity one (see the module docstring);
    any other delivery unchanged."""
    data = payload.get("data")
    if "for_user_id" in payload or not isinstance(data, dict) or "event_type" not in data:
        return payload
    me = _id(_map(data.get("filter")).get("user_id"))
    inner = data.get("payload")
    out: dict[str, Any] = {"for_user_id": me, "includes": data.get("includes")}
    if isinstance(inner, dict) and ("direct_message_events" in inner or "dm_events" in inner):
        out.update({k: v for k, v in inner.items() if k != "for_user_id"})
    elif isinstance(inner, dict) and str(data.get("event_type")).startswith("dm."):
        out["dm_events"] = [inner]
    else:
        kind = str(data.get("event_type"))[:60]
        out[f"event {kind}"] = [inner]  # read as an event kind this intake does not read
    return out


def signed_json(body: bytes, signature: str | None, consumer_secret: str) -> Any:
    """The decoded body of a delivery whose signature is right, else :class:`WebhookRejected`
    (:class:`WebhookMalformed` for a signed body that is not JSON)."""
    if not signature_valid(body, signature, consumer_secret):
        raise WebhookRejected(f"the {SIGNATURE_HEADER} of this delivery is not valid")
    try:
        return json.loads(body)
    except ValueError:
        raise WebhookMalformed("the delivery body is not JSON") from None


def parse_activity(body: bytes, signature: str | None, consumer_secret: str) -> ActivityBatch:
    """Check the signature of an Account Activity delivery and read its posts and direct
    messages (see the module docstring).

    Raises :class:`WebhookRejected` when the signature is wrong or missing or the body is not
    JSON (nothing can be trusted then); otherwise every unreadable part is a
    :class:`WebhookProblem` and everything readable is returned."""
    payload = signed_json(body, signature, consumer_secret)
    messages: list[tuple[str, InboundMessage]] = []
    problems: list[WebhookProblem] = []
    if not isinstance(payload, dict):
        problems.append(WebhookProblem("body", "a delivery that is not an object", payload))
        return ActivityBatch(messages, problems)
    payload = _unwrap(payload)
    me = _id(payload.get("for_user_id"))
    if me is None:
        problems.append(WebhookProblem("for_user_id", "a delivery without for_user_id", payload))
        return ActivityBatch(messages, problems)
    users = _users(payload)
    ignored = 0
    results: list[InboundMessage | WebhookProblem | None] = []
    for key in ("tweet_create_events", "direct_message_events", "dm_events"):
        events = payload.get(key)
        if events is None:
            continue
        if not isinstance(events, list):
            problems.append(WebhookProblem(key, f"{key} is not a list", events))
            continue
        for index, raw in enumerate(events):
            where = f"{key}[{index}]"
            if key == "tweet_create_events":
                results.append(_tweet(raw, me, where))
            elif key == "dm_events":
                results.append(_direct_v2(raw, me, users, where))
            else:
                results.append(_direct(raw, me, users, where))
    for key in OTHER_EVENTS:
        value = payload.get(key)
        ignored += len(value) if isinstance(value, list) else int(value is not None)
    known = {"for_user_id", "users", "apps", "user_has_blocked", "is_blocked_by", "source"}
    known |= {"includes", "tweet_create_events", "direct_message_events", "dm_events"}
    known |= set(OTHER_EVENTS)
    for key in payload:
        if key not in known and isinstance(payload[key], list):  # an event list we do not know
            problems.append(
                WebhookProblem(
                    key, f"an event kind this intake does not read ({key})", payload[key]
                )
            )
    for parsed in results:
        if parsed is None:
            ignored += 1
        elif isinstance(parsed, WebhookProblem):
            problems.append(parsed)
        else:
            messages.append((me, parsed))
    return ActivityBatch(messages, problems, ignored)
