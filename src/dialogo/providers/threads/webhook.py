"""Threads webhooks (Meta's docs: "Webhooks for Threads"): pure functions, no I/O.

Threads notifications come through Meta's webhook machinery — the same ``GET
hub.challenge`` handshake with a verify token of ours, the same ``X-Hub-Signature-256``
(HMAC-SHA256 of the raw body, keyed with the **Threads** app secret) — but not in the Graph
``{object, entry[]}`` envelope. One notification is::

    {"app_id": "…", "topic": "moderate" | "interaction", "target_id": "…", "time": 1723226877,
     "subscription_id": "…", "has_uid_field": false,
     "values": {"field": "replies" | "mentions" | "publish" | "delete", "value": {…}}}

(deliveries have also been seen with ``values`` as a list of such objects: both are read).

- ``replies`` (topic ``moderate``): ``value`` is the reply — ``id``, ``username``, ``text``,
  ``media_type``, ``permalink``, ``replied_to {id}``, ``root_post {id, owner_id, username}``,
  ``shortcode``, ``timestamp`` — on a post of the account (``root_post.owner_id``);
- ``mentions`` (topic ``interaction``): ``value`` is the post that mentions the account,
  ``target_id`` is the mentioned user's id;
- ``delete``: ``value`` names the deleted post or reply by ``id`` (with ``deleted_at`` or
  ``timestamp`` when given): handed back in :attr:`ThreadsBatch.deleted`, so a stored message
  with that id is marked deleted (one the inbox never stored is nothing to do);
- ``publish`` is the account's own activity: ignored (counted).

Threads has no edit notification. A ``replies`` or ``mentions`` notification for a post the
inbox already holds, with text, is read as its current content (the inbox applies the new
text, :func:`dialogo.inbox.pushed.apply_edits`); one naming the post only by id changes
nothing stored (the fetch job sees the row and stops).

A reply or mention is read with the same code as polling
(:meth:`ThreadsProvider._message`: the same remote id, thread and author), so a message that
comes both ways is stored once. A value carrying only an id (no ``username`` or
``timestamp``) is handed back in :attr:`ThreadsBatch.fetch`, to be fetched from the API by a
job; anything else unreadable is a :class:`WebhookProblem`.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from typing import Any

from dialogo.providers.base import InboundMessage, MessageKind
from dialogo.providers.fields import identifier as _id
from dialogo.providers.fields import mapping as _map
from dialogo.providers.fields import text as _str
from dialogo.providers.fields import timestamp as _timestamp
from dialogo.providers.meta.webhook import WebhookProblem, signed_json, when
from dialogo.providers.threads.provider import ThreadsProvider

#: The fields stored in the inbox, and the kind of message each brings.
KINDS = {"replies": MessageKind.reply, "mentions": MessageKind.mention}
#: The account's own activity: nothing to answer.
IGNORED = frozenset({"publish"})
DELETE = "delete"


@dataclasses.dataclass(frozen=True)
class ToFetch:
    """A reply or mention the notification names only by id: fetch it, then store it."""

    where: str
    media_id: str
    kind: MessageKind
    raw: Any = None

    @property
    def remote_id(self) -> str:
        return self.media_id


@dataclasses.dataclass(frozen=True)
class Deleted:
    """A post or reply Threads says was deleted."""

    where: str
    media_id: str
    deleted_at: dt.datetime | None = None
    raw: Any = None

    @property
    def remote_id(self) -> str:
        return self.media_id


@dataclasses.dataclass(frozen=True)
class ThreadsBatch:
    #: (the account the notification is for — ``""`` when it does not say —, the message)
    messages: list[tuple[str, InboundMessage]]
    fetch: list[tuple[str, ToFetch]]
    problems: list[WebhookProblem]
    #: the account's own posts and replies
    ignored: int = 0
    #: the posts and replies deleted (their stored messages are marked)
    deleted: list[Deleted] = dataclasses.field(default_factory=list)


def _when(value: Any) -> dt.datetime | None:
    """ISO 8601 as Threads writes it, or a Unix time."""
    return _timestamp(value) if isinstance(value, str) and "T" in value else when(value)


def _account(field: str, value: dict[str, Any], payload: dict[str, Any]) -> str:
    if field == "mentions":
        return _id(payload.get("target_id")) or ""
    return _id(_map(value.get("root_post")).get("owner_id")) or ""


def parse_threads_notification(
    body: bytes, signature: str | None, app_secret: str, *, username: str = ""
) -> ThreadsBatch:
    """Check the signature of a Threads notification and read its replies and mentions;
    ``username`` is the account's own (its replies in its threads are not messages to it).

    Raises :class:`WebhookRejected` when the signature is wrong or missing, or
    :class:`WebhookMalformed` when the signed body is not JSON; everything else unreadable is
    a :class:`WebhookProblem`."""
    payload = signed_json(body, signature, app_secret)
    batch = ThreadsBatch([], [], [])
    values = payload.get("values") if isinstance(payload, dict) else None
    if not isinstance(payload, dict) or not isinstance(values, dict | list):
        batch.problems.append(
            WebhookProblem("values", "not a Threads notification (no values)", payload)
        )
        return batch
    items = values if isinstance(values, list) else [values]
    ignored = 0
    own = username.lstrip("@").lower()
    for index, item in enumerate(items):
        where = f"values[{index}]" if isinstance(values, list) else "values"
        field, value = _map(item).get("field"), _map(_map(item).get("value"))
        if field in IGNORED:
            ignored += 1
            continue
        if field == DELETE:
            gone = _id(value.get("id"))
            if gone is None:
                reason = "a Threads delete notification without an id"
                batch.problems.append(WebhookProblem(where, reason, item))
                continue
            stamp = _when(value.get("deleted_at")) or _when(value.get("timestamp"))
            batch.deleted.append(Deleted(where, gone, stamp, item))
            continue
        kind = KINDS.get(str(field))
        if kind is None or not value:
            reason = (
                f"a Threads notification of field {field!r} this intake does not read"
                if kind is None
                else f"a Threads {field} notification without a value"
            )
            batch.problems.append(WebhookProblem(where, reason, item))
            continue
        account = _account(str(field), value, payload)
        author = (_str(value.get("username")) or "").lower()
        if own and author == own:
            ignored += 1  # the account answering in its own thread
            continue
        message = ThreadsProvider._message(value, kind, None)
        media_id = _id(value.get("id"))
        if message is not None:
            batch.messages.append((account, message))
        elif media_id is not None:
            batch.fetch.append((account, ToFetch(where, media_id, kind, item)))
        else:
            batch.problems.append(WebhookProblem(where, f"a Threads {field} without an id", item))
    return dataclasses.replace(batch, ignored=ignored)
