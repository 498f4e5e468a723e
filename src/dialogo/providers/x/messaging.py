"""Direct messages on X through the X API v2 (docs.x.com: "Direct Messages" — "Get DM events",
"Create DM message by participant ID", "Create DM message by conversation ID"; scopes
``dm.read`` and ``dm.write``, with ``tweet.read`` and ``users.read``).

**Reading** (polling): ``GET /2/dm_events?event_types=MessageCreate`` with the fields
:data:`DM_EVENT_FIELDS` and the senders expanded, newest first, 100 per page, paged with
``pagination_token``. The endpoint has no ``since_id``, so the cursor is the newest event id
already read (event ids are Snowflake ids: a larger id is a later event), and a page is read
until an event at or below it appears. A burst larger than a page is followed across calls with
X's ``next_token`` the way mentions are (:class:`DmCursor`); the very first read (no cursor)
takes one page only, not the 30 days X keeps.

Each event becomes a ``direct`` message; the account's own messages (``sender_id`` is the
account: sent by Dialogo or in X's own app) are skipped. The thread is the other person of a
one-to-one conversation (``dm:<user id>``, what :func:`dm_thread` builds from the webhook's
sender too), or ``dm:<dm_conversation_id>`` for a group conversation, whose participants are
kept (``dm_participants``). The remote id is the event id, the same id the webhook's
``direct_message_events[].id`` (or v2 ``dm_events[].id``) carries, so a message that arrives
both ways is one row.

**Answering**: ``POST /2/dm_conversations/with/:participant_id/messages`` with
``{"text": …}`` for a one-to-one conversation, ``POST /2/dm_conversations/:id/messages`` for a
group; X answers ``{"data": {"dm_conversation_id", "dm_event_id"}}``. Text only (up to
:data:`DM_TEXT_LIMIT` characters; media would need the DM media upload, not done here).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Mapping, Sequence
from typing import Any

from dialogo.core.i18n import N_, Nn_, Plural
from dialogo.providers.base import (
    Author,
    Draft,
    InboundMessage,
    MessageKind,
    PublishResult,
    RemoteRef,
    ValidationIssue,
)
from dialogo.providers.errors import InvalidPayload, ProviderError
from dialogo.providers.fields import identifier as _id
from dialogo.providers.fields import integer as _int
from dialogo.providers.fields import mapping as _dict
from dialogo.providers.fields import text as _str
from dialogo.providers.fields import timestamp as _time
from dialogo.providers.x.client import NETWORK, XClient

DM_TEXT_LIMIT = 10_000
DM_EVENT_FIELDS = "id,text,event_type,dm_conversation_id,created_at,sender_id,participant_ids"
DM_PAGE = 100


def dm_thread(key: str) -> str:
    """The conversation key of a direct-message thread: the other person's user id for a
    one-to-one conversation, the ``dm_conversation_id`` for a group."""
    return f"dm:{key}"


def snowflake_after(event_id: str, since: str | None) -> bool:
    """Whether ``event_id`` is later than ``since`` (Snowflake ids compare as numbers)."""
    if since is None:
        return True
    if event_id.isdigit() and since.isdigit():
        return int(event_id) > int(since)
    return event_id != since  # not documented ids: never hide a message


def newest_id(ids: list[str]) -> str | None:
    digits = [i for i in ids if i.isdigit()]
    return max(digits, key=int) if digits else None


def is_direct(target: RemoteRef) -> bool:
    """Whether a reply target is an X direct message."""
    return target.extra.get("dm_network") == NETWORK and bool(
        target.extra.get("dm_user_id") or target.extra.get("dm_conversation_id")
    )


@dataclasses.dataclass(frozen=True)
class DmCursor:
    """``since`` = the newest event id already returned; while a burst is paged, ``page`` is
    X's ``next_token`` and ``newest`` the newest id of the burst's first page."""

    since: str | None = None
    page: str | None = None
    newest: str | None = None

    def encode(self) -> str:
        return f"{self.since or ''}|{self.page or ''}|{self.newest or ''}"

    @classmethod
    def decode(cls, text: str | None) -> DmCursor:
        if not text:
            return cls()
        since, page, newest = [*text.split("|"), "", ""][:3]
        return cls(since=since or None, page=page or None, newest=newest or None)


def direct_message(
    *,
    event_id: str,
    sender: str,
    thread: str,
    conversation: str | None,
    text: str,
    created_at: dt.datetime,
    user: Mapping[str, Any],
    followers: int | None,
    participants: Sequence[str] = (),
) -> InboundMessage:
    """A direct message as both the polling path and the webhook build it (same id, same
    thread, same reply reference), so the two meet in one row. A group's ``participants``
    (user ids) are kept in the reference as ``dm_participants``, comma-separated."""
    handle = _str(user.get("username")) or _str(user.get("screen_name")) or sender
    raw = {
        "id": event_id,
        "text": text,
        # what a reply needs (RemoteRef.extra): whom, or which group, to write to
        "dm_network": NETWORK,
        "dm_user_id": sender,
        "dm_received_at": created_at.isoformat(),
    }
    if conversation:
        raw["dm_conversation_id"] = conversation
    if participants:
        raw["dm_participants"] = ",".join(sorted(set(participants), key=lambda i: (len(i), i)))
    return InboundMessage(
        remote_id=event_id,
        kind=MessageKind.direct,
        author=Author(
            remote_id=sender,
            handle=handle,
            display_name=_str(user.get("name")) or handle,
            followers=followers,
        ),
        text=text,
        created_at=created_at,
        conversation_id=dm_thread(thread),
        url=f"https://x.com/messages/{conversation}" if conversation else None,
        raw=raw,
    )


def polled_event(
    item: Mapping[str, Any], users: Mapping[str, Mapping[str, Any]], me: str
) -> InboundMessage | None:
    """One ``dm_events`` item, or ``None`` (ours, not a message, or not a documented shape)."""
    event_id, sender = _id(item.get("id")), _id(item.get("sender_id"))
    created = _time(item.get("created_at"))
    if item.get("event_type", "MessageCreate") != "MessageCreate":
        return None  # ParticipantsJoin / ParticipantsLeave
    if event_id is None or sender is None or created is None or sender == me:
        return None
    conversation = _str(item.get("dm_conversation_id"))
    participants = [p for p in (item.get("participant_ids") or []) if isinstance(p, str)]
    if participants:
        one_to_one = len(set(participants)) <= 2
    else:  # a one-to-one conversation's id is its two user ids joined by "-"
        one_to_one = conversation is None or "-" in conversation
    user = users.get(sender, {})
    followers = _int(_dict(user.get("public_metrics")).get("followers_count"))
    return direct_message(
        event_id=event_id,
        sender=sender,
        thread=sender if one_to_one or conversation is None else conversation,
        conversation=conversation,
        text=_str(item.get("text")) or "",
        created_at=created,
        user=user,
        followers=followers if followers is not None else _int(user.get("followers_count")),
        participants=participants if not one_to_one else (),
    )


@dataclasses.dataclass(frozen=True)
class DmPage:
    messages: list[InboundMessage]
    cursor: DmCursor


def fetch_direct(client: XClient, me: str, cursor: DmCursor, user_fields: str) -> DmPage:
    """One page of direct messages after ``cursor`` (see the module docstring)."""
    params: dict[str, str | int] = {
        "event_types": "MessageCreate",
        "dm_event.fields": DM_EVENT_FIELDS,
        "expansions": "sender_id",
        "user.fields": user_fields,
        "max_results": DM_PAGE,
    }
    if cursor.page:
        params["pagination_token"] = cursor.page
    body = client.get("/2/dm_events", operation="dm_events", params=params)
    body = body if isinstance(body, dict) else {}
    users = {
        str(u["id"]): u
        for u in _dict(body.get("includes")).get("users") or []
        if isinstance(u, dict) and _str(u.get("id"))
    }
    items = [i for i in body.get("data") or [] if isinstance(i, dict)]
    ids = [i for i in (_id(item.get("id")) for item in items) if i is not None]
    fresh = [item for item in items if snowflake_after(_id(item.get("id")) or "", cursor.since)]
    messages = [m for m in (polled_event(item, users, me) for item in fresh) if m is not None]
    newest = cursor.newest or newest_id(ids)
    next_token = _str(_dict(body.get("meta")).get("next_token"))
    caught_up = len(fresh) < len(items)  # reached an event already read
    if next_token and cursor.since is not None and not caught_up:
        following = DmCursor(since=cursor.since, page=next_token, newest=newest)
    else:  # the burst is read, or this is the first read ever (one page only)
        # "0" once read, even with no message at all: from then on every burst is paged
        following = DmCursor(since=newest or cursor.since or "0")
    return DmPage(messages, following)


def dm_issues(draft: Draft) -> list[ValidationIssue]:
    """Why X would refuse ``draft`` as an answer to a direct message (empty when it would not)."""
    issues: list[ValidationIssue] = []
    if not draft.text.strip():
        issues.append(ValidationIssue("empty", N_("a direct message needs text"), "text"))
    if len(draft.text) > DM_TEXT_LIMIT:
        issues.append(
            ValidationIssue(
                "too_long",
                Plural(
                    Nn_(
                        "%(length)s character; X allows %(dm_text_limit)s in a direct message",
                        "%(length)s characters; X allows %(dm_text_limit)s in a direct message",
                    ),
                    count="length",
                ),
                "text",
                params={"length": len(draft.text), "dm_text_limit": DM_TEXT_LIMIT},
            )
        )
    if draft.media:
        issues.append(
            ValidationIssue("media", N_("an answer to a direct message is text only here"), "media")
        )
    if draft.thread:
        issues.append(
            ValidationIssue("thread", N_("a direct message cannot start a thread"), "thread")
        )
    return issues


def send_direct(client: XClient, target: RemoteRef, draft: Draft) -> PublishResult:
    """Answer a direct message (see the module docstring)."""
    issues = dm_issues(draft)
    if issues:
        raise InvalidPayload(
            "X would refuse this direct message: " + "; ".join(i.message for i in issues),
            issues=[f"{i.field}: {i.code}" for i in issues],
            network=NETWORK,
        )
    conversation = target.extra.get("dm_conversation_id", "")
    person = target.extra.get("dm_user_id", "")
    one_to_one = not conversation or "-" in conversation  # a group's id has no "-"
    if person and one_to_one:
        path = f"/2/dm_conversations/with/{person}/messages"
    else:
        path = f"/2/dm_conversations/{conversation}/messages"
    body = client.post(path, operation="dm_conversations messages", json={"text": draft.text})
    data = _dict(body.get("data")) if isinstance(body, dict) else {}
    event_id = _id(data.get("dm_event_id"))
    if event_id is None:
        raise ProviderError(
            "X accepted the direct message but answered without its id", code="x_unexpected"
        )
    return PublishResult(
        remote_id=event_id,
        state={
            "text": draft.text,
            "dm_conversation_id": _str(data.get("dm_conversation_id")) or conversation,
            "recipient_id": person,
        },
    )


def recent_direct(client: XClient, me: str, target: RemoteRef, limit: int) -> list[PublishResult]:
    """Our own latest messages in the direct conversation of ``target``, newest first, to
    reconcile an answer whose outcome is unknown: ``GET
    /2/dm_conversations/with/:participant_id/dm_events`` for a one-to-one conversation, ``GET
    /2/dm_conversations/:dm_conversation_id/dm_events`` for a group (the same choice as
    :func:`send_direct`), keeping the ``MessageCreate`` events whose ``sender_id`` is us."""
    conversation = target.extra.get("dm_conversation_id", "")
    person = target.extra.get("dm_user_id", "")
    one_to_one = not conversation or "-" in conversation
    if person and one_to_one:
        path = f"/2/dm_conversations/with/{person}/dm_events"
    elif conversation:
        path = f"/2/dm_conversations/{conversation}/dm_events"
    else:
        return []
    body = client.get(
        path,
        operation="dm_conversations dm_events",
        params={
            "event_types": "MessageCreate",
            "dm_event.fields": DM_EVENT_FIELDS,
            "max_results": max(1, min(limit, DM_PAGE)),
        },
    )
    items = body.get("data") if isinstance(body, dict) else None
    out: list[PublishResult] = []
    for item in items if isinstance(items, list) else []:
        if not isinstance(item, dict) or _id(item.get("sender_id")) != me:
            continue
        event_id = _id(item.get("id"))
        if event_id is None or item.get("event_type", "MessageCreate") != "MessageCreate":
            continue
        out.append(
            PublishResult(
                remote_id=event_id,
                state={
                    "text": _str(item.get("text")) or "",
                    "created_at": _str(item.get("created_at")) or "",
                    "dm_conversation_id": _str(item.get("dm_conversation_id")) or conversation,
                },
            )
        )
    return out[:limit]
