"""Direct messages on Messenger and Instagram, shared by the Facebook Pages and Instagram
providers (Meta's docs: Messenger Platform "Conversations API", "Send API" reference,
"Messaging policy" — standard messaging window and message tags —, and the Instagram API
"Conversations API" and "Send Messages").

**Reading** (polling): ``GET /<page or ig-user>/conversations?platform=messenger|instagram``
with ``fields=id,updated_time,messages.limit(N){id,created_time,from,to,message,attachments}``,
newest conversation first; pages follow ``paging.cursors.after`` while conversations are newer
than the cursor (the Conversations API has no time filter: "time-based pagination is not
available"). Each message newer than the cursor and not written by the account itself becomes
a ``direct`` message threaded by person (``dm:<PSID or IGSID>``), with the message id as its
remote id: the same id and thread the webhook builds from ``message.mid``
(:func:`dialogo.providers.meta.webhook.direct_message`), so the inbox stores a message that
came both ways once. Only the newest :data:`MESSAGES_PER_CONVERSATION` messages of a
conversation are read per poll (partial: a burst larger than that between two polls is only
complete through the webhook).

**Answering**: ``POST /<page or ig-user>/messages`` with ``recipient={"id": <PSID/IGSID>}``,
``message={"text": …}`` and the messaging type the policy allows, from when the person last
wrote (``RemoteRef.extra["dm_received_at"]``, set on every direct message we store):

- within 24 hours (the standard messaging window): ``messaging_type=RESPONSE``;
- within 7 days: ``messaging_type=MESSAGE_TAG`` with ``tag=HUMAN_AGENT`` (a person answering,
  which is what the inbox is; the app needs Meta's Human Agent permission);
- later, or when the time is unknown: :class:`InvalidPayload` (``outside_window`` /
  ``window_unknown``) before any request. If Meta still refuses (error 10, subcode 2018278,
  "sent outside of allowed window", or 551, "this person isn't available") it is an
  :class:`InvalidPayload` too, never a permission problem that would flag the channel.

The window is measured from the message answered: answering an older message of a thread
whose person wrote again later is refused more strictly than Meta would (safe side).
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from collections.abc import Callable, Mapping
from typing import Any

from dialogo.core.i18n import N_
from dialogo.providers.base import InboundMessage, PublishResult, RemoteRef, ValidationIssue
from dialogo.providers.errors import InsufficientScopes, InvalidPayload, ProviderError
from dialogo.providers.fields import identifier as _id
from dialogo.providers.fields import mapping as _map
from dialogo.providers.fields import text as _str
from dialogo.providers.fields import timestamp as _time
from dialogo.providers.meta.graph import GraphClient
from dialogo.providers.meta.webhook import attachment_text, direct_message

log = logging.getLogger("dialogo.providers")

WINDOW = dt.timedelta(hours=24)
HUMAN_AGENT_WINDOW = dt.timedelta(days=7)
CONVERSATIONS_PER_PAGE = 25
MAX_CONVERSATION_PAGES = 4
MESSAGES_PER_CONVERSATION = 25
#: Meta's "sent outside of allowed window" (code 10) and "person unavailable" (551).
_OUTSIDE_WINDOW_SUBCODE = 2018278
_UNAVAILABLE_CODE = 551


def is_direct(target: RemoteRef) -> bool:
    """Whether a reply target is a direct message (it names the person to write to)."""
    return bool(target.extra.get("dm_user_id"))


def messaging_type(received_at: str | None, now: dt.datetime) -> dict[str, str] | None:
    """The Send API fields the policy allows for an answer now to a message received at
    ``received_at``; ``None`` when no answer is allowed (or the time is unknown)."""
    when = _time(received_at)
    if when is None:
        return None
    age = now - when
    if age < WINDOW:
        return {"messaging_type": "RESPONSE"}
    if age < HUMAN_AGENT_WINDOW:
        return {"messaging_type": "MESSAGE_TAG", "tag": "HUMAN_AGENT"}
    return None


def window_issues(target: RemoteRef, now: dt.datetime, *, network: str) -> list[ValidationIssue]:
    """Why a direct answer to ``target`` cannot be sent now (empty when it can)."""
    if not target.extra.get("dm_user_id"):
        return [ValidationIssue("no_recipient", N_("no person to write to"), "reply_to")]
    received = target.extra.get("dm_received_at")
    if _time(received) is None:
        return [
            ValidationIssue(
                "window_unknown",
                N_(
                    "when the person last wrote is unknown, so %(network)s's messaging "
                    "window cannot be checked"
                ),
                "reply_to",
                params={"network": network},
            )
        ]
    if messaging_type(received, now) is None:
        return [
            ValidationIssue(
                "outside_window",
                N_(
                    "more than 7 days have passed since the person wrote: %(network)s "
                    "allows an answer within 24 hours, or within 7 days from a person "
                    "(human agent tag)"
                ),
                "reply_to",
                params={"network": network},
            )
        ]
    return []


def send_direct(
    graph: GraphClient,
    account: str,
    target: RemoteRef,
    text: str,
    *,
    network: str,
    now: dt.datetime,
    text_issues: list[ValidationIssue],
) -> PublishResult:
    """Answer a direct message through the Send API (see the module docstring)."""
    issues = text_issues + window_issues(target, now, network=network)
    if issues:
        raise InvalidPayload(
            f"{network.capitalize()} would refuse this message: "
            + "; ".join(i.message for i in issues),
            issues=[f"{i.field}: {i.code}" for i in issues],
            network=network,
        )
    kind = messaging_type(target.extra.get("dm_received_at"), now)
    assert kind is not None
    recipient = target.extra["dm_user_id"]
    data = {
        "recipient": json.dumps({"id": recipient}),
        "message": json.dumps({"text": text}, ensure_ascii=False),
        **kind,
    }
    try:
        body = graph.post(f"{account}/messages", operation="send message", data=data)
    except ProviderError as exc:
        raise _send_error(exc, network) from exc
    message_id = _str(body.get("message_id"))
    if message_id is None:
        raise ProviderError(
            f"{network.capitalize()} accepted the message but answered without its id",
            code=f"{network}_unexpected",
        )
    return PublishResult(
        remote_id=message_id,
        state={
            "text": text,
            "recipient_id": _id(body.get("recipient_id")) or recipient,
            "messaging_type": kind["messaging_type"],
            "tag": kind.get("tag", ""),
        },
    )


def _send_error(exc: ProviderError, network: str) -> ProviderError:
    """The Send API's own refusals are about the message, not the token."""
    code, subcode = exc.details.get("graph_code"), exc.details.get("graph_subcode")
    if code == 10 and subcode == _OUTSIDE_WINDOW_SUBCODE:
        return InvalidPayload(
            f"{network.capitalize()} refused the message: it is outside the allowed messaging "
            f"window ({exc.message})",
            issues=["outside_window"],
            network=network,
        )
    if code == _UNAVAILABLE_CODE:
        return InvalidPayload(
            f"{network.capitalize()} refused the message: the person is not available "
            f"({exc.message})",
            issues=["recipient_unavailable"],
            network=network,
        )
    return exc


def polled_message(
    item: Mapping[str, Any],
    me: Callable[[], frozenset[str]],
    network: str,
    after: dt.datetime | None,
) -> InboundMessage | None:
    """One message of a conversation, or ``None`` (ours, older than the cursor, or a shape
    the Conversations API does not document). ``me`` gives the ids (and username) the
    account itself appears under; it is asked only for messages that would be kept."""
    message_id, created = _id(item.get("id")), _time(item.get("created_time"))
    author = _map(item.get("from"))
    author_id = _id(author.get("id"))
    if message_id is None or created is None or author_id is None:
        return None
    if after is not None and created <= after:
        return None
    username = _str(author.get("username"))
    own = me()
    if author_id in own or (username is not None and username in own):
        return None  # the account's own message (sent by Dialogo or from Meta's inbox)
    text = _str(item.get("message")) or ""
    attachments = _map(item.get("attachments")).get("data")
    body = "\n".join(p for p in (text, attachment_text(attachments)) if p)
    return direct_message(
        network=network,
        message_id=message_id,
        user_id=author_id,
        user_handle=username or author_id,
        user_name=_str(author.get("name")) or username or "",
        text=body,
        created_at=created,
        in_reply_to=None,
        raw={"mid": message_id, "text": text, "created_time": created.isoformat()},
    )


def fetch_direct(
    graph: GraphClient,
    account: str,
    me: Callable[[], frozenset[str]],
    *,
    platform: str,
    network: str,
    after: dt.datetime | None,
) -> list[InboundMessage]:
    """Direct messages newer than ``after`` (see the module docstring). A token without the
    messaging permission (a channel connected before Dialogo read DMs) is logged and skipped,
    so comments are still read; connecting the channel again grants it."""
    fields = (
        f"id,updated_time,messages.limit({MESSAGES_PER_CONVERSATION})"
        "{id,created_time,from,to,message,attachments}"
    )
    params: dict[str, str | int] = {
        "platform": platform,
        "fields": fields,
        "limit": CONVERSATIONS_PER_PAGE,
    }
    out: list[InboundMessage] = []
    for _ in range(MAX_CONVERSATION_PAGES):
        try:
            body = graph.get(f"{account}/conversations", operation="conversations", params=params)
        except InsufficientScopes as exc:
            log.warning(
                "%s: direct messages not read, the token lacks the messaging permission "
                "(connect the channel again): %s",
                network,
                exc.message,
            )
            return out
        conversations = [c for c in body.get("data") or [] if isinstance(c, dict)]
        older = False
        for conversation in conversations:
            updated = _time(conversation.get("updated_time"))
            if after is not None and updated is not None and updated <= after:
                older = True
                continue
            for item in _map(conversation.get("messages")).get("data") or []:
                message = (
                    polled_message(item, me, network, after) if isinstance(item, dict) else None
                )
                if message is not None:
                    out.append(message)
        next_cursor = _str(_map(_map(body.get("paging")).get("cursors")).get("after"))
        if (
            older
            or not conversations
            or next_cursor is None
            or not _map(body.get("paging")).get("next")
        ):
            break
        params = {**params, "after": next_cursor}
    return out


def _own_results(
    items: Any, own: frozenset[str], *, text_field: str, time_field: str
) -> list[PublishResult]:
    """The items of a Graph list written by the account itself (``from.id`` or
    ``from.username`` / ``username`` among ``own``), newest first, as what reconciliation
    compares (``text``, ``created_at``)."""
    out: list[tuple[dt.datetime, PublishResult]] = []
    for item in items if isinstance(items, list) else []:
        if not isinstance(item, dict):
            continue
        item_id, created = _id(item.get("id")), _time(item.get(time_field))
        author = _map(item.get("from"))
        names = {_id(author.get("id")), _str(author.get("username")), _str(item.get("username"))}
        if item_id is None or created is None or not (names - {None}) & own:
            continue
        text = _str(item.get(text_field)) or ""
        out.append(
            (
                created,
                PublishResult(item_id, state={"text": text, "created_at": created.isoformat()}),
            )
        )
    out.sort(key=lambda pair: pair[0], reverse=True)
    return [result for _, result in out]


def recent_direct(
    graph: GraphClient,
    account: str,
    target: RemoteRef,
    own: frozenset[str],
    *,
    platform: str,
    limit: int,
) -> list[PublishResult]:
    """The account's own latest messages in the direct conversation of ``target``, to
    reconcile an answer whose outcome is unknown: the Conversations API's documented lookup of
    the conversation with one person (``GET /<account>/conversations?platform=…&user_id=<PSID
    or IGSID>``) with its newest messages. Empty when there is no such conversation yet."""
    person = target.extra.get("dm_user_id")
    if not person:
        return []
    count = min(max(limit, 1), MESSAGES_PER_CONVERSATION)
    body = graph.get(
        f"{account}/conversations",
        operation="conversation messages",
        params={
            "platform": platform,
            "user_id": person,
            "fields": f"id,messages.limit({count}){{id,created_time,from,message}}",
        },
    )
    out: list[PublishResult] = []
    for conversation in body.get("data") or []:
        if isinstance(conversation, dict):
            messages = _map(conversation.get("messages")).get("data")
            out += _own_results(messages, own, text_field="message", time_field="created_time")
    return out[:limit]


def recent_comment_replies(
    graph: GraphClient,
    target: RemoteRef,
    own: frozenset[str],
    *,
    edge: str,
    params: Mapping[str, str | int],
    text_field: str,
    time_field: str,
    limit: int,
) -> list[PublishResult]:
    """The account's own latest answers under the comment ``target`` (Facebook: ``GET
    /<comment>/comments``; Instagram: ``GET /<ig-comment>/replies``), keeping those whose
    author (``from``) is the account."""
    body = graph.get(f"{target.remote_id}/{edge}", operation="comment replies", params=params)
    return _own_results(body.get("data"), own, text_field=text_field, time_field=time_field)[:limit]
