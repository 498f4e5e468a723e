"""Automated acknowledgements: the one thing the inbox may send without a person.

A rule's ``acknowledge`` action names a saved reply. It only fires in a workspace whose admin
turned automated acknowledgements on (``InboxSettings.auto_ack_enabled``, off by default).
Then, for a conversation the rules did not close, it queues a :class:`Reply` with
``automated=True`` and no agent, sent by the same job as a person's reply (a real reply in the
thread, exactly once). Its text is the saved reply (``{name}``, ``{handle}``, ``{brand}``
filled) followed by a disclosure the workspace can edit (default: :data:`DEFAULT_DISCLOSURE`
in the workspace's language).

- At most once per conversation, and only while no person has answered it: the reply's
  idempotency key is ``ack-<conversation id>`` (unique), and the conversation is row-locked by
  the ingest that fires it.
- Never the first human response: sending it does not set ``first_response_at`` nor clear
  ``waiting_since`` (see :func:`dialogo.inbox.replies._sent`).
- Not in the per-agent personal share nor in the authenticity guard's corpus, and not an
  answer for suggestions (:mod:`dialogo.inbox.service`).
"""

from __future__ import annotations

import logging
from functools import cache
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from dialogo.accounts.models import Workspace
from dialogo.core import i18n
from dialogo.inbox import assist
from dialogo.inbox import replies as sending
from dialogo.inbox.models import (
    Conversation,
    ConversationStatus,
    Direction,
    InboxSettings,
    Message,
    Reply,
    ReplyStatus,
    SavedReply,
)
from dialogo.notifications import service as notifications

log = logging.getLogger("dialogo.inbox")

#: Marked for translation in ``dialogo.web.pages.inbox`` (extraction covers the web package).
DEFAULT_DISCLOSURE = "Automated message — a person will answer soon."
MAX_DISCLOSURE = 300
#: The catalogues live with the web pages; read as files (no web import from a domain).
_CATALOGUES = Path(__file__).resolve().parent.parent / "web" / "translations"


@cache
def default_disclosure(language: str) -> str:
    return i18n.translations(_CATALOGUES, language).gettext(DEFAULT_DISCLOSURE)


def idempotency_key(conversation_id: int) -> str:
    return f"ack-{conversation_id}"


def disclosure_of(settings: InboxSettings, language: str) -> str:
    custom = (settings.ack_disclosure or "").strip()
    return custom or default_disclosure(language)


def compose(body: str, disclosure: str) -> str:
    """The text sent: the acknowledgement, then the disclosure on its own paragraph."""
    return f"{body.strip()}\n\n{disclosure.strip()}" if disclosure.strip() else body.strip()


def queue(
    session: Session, conversation: Conversation, saved_reply_id: int, settings: InboxSettings
) -> Reply | None:
    """Queue the acknowledgement of a conversation (``None``: not sent, and why is logged or
    notified). The caller holds the conversation's row lock."""
    if not settings.auto_ack_enabled:
        return None
    if conversation.status == ConversationStatus.closed.value:
        return None  # closed by a rule (spam): nobody is answered
    if conversation.first_response_at is not None:
        return None  # a person already answers this conversation
    key = idempotency_key(conversation.id)
    if session.scalar(select(Reply.id).where(Reply.idempotency_key == key)) is not None:
        return None  # once per conversation
    saved = session.get(SavedReply, saved_reply_id)
    if saved is None or saved.workspace_id != conversation.workspace_id:
        notifications.notify(
            session,
            conversation.workspace_id,
            kind="inbox_ack_missing",
            severity="warning",
            params={"saved_reply_id": saved_reply_id},
            link=f"/w/{conversation.workspace_id}/inbox-rules",
            dedupe_key=f"inbox-ack-missing:{saved_reply_id}",
        )
        return None
    target = session.scalar(
        select(Message)
        .where(
            Message.conversation_id == conversation.id,
            Message.direction == Direction.inbound.value,
        )
        .order_by(Message.created_at.desc(), Message.id.desc())
        .limit(1)
    )
    if target is None:
        return None
    workspace = session.get(Workspace, conversation.workspace_id)
    try:
        body = assist.render(
            saved.body,
            {
                "name": target.author_name or target.author_handle,
                "handle": target.author_handle,
                "agent": "",
                "brand": workspace.name if workspace else "",
            },
        )
    except assist.UnknownVariable as exc:  # pragma: no cover - checked when saved
        log.warning("acknowledgement not sent: %s", exc)
        return None
    language = workspace.language if workspace else i18n.SOURCE_LANGUAGE
    reply = Reply(
        workspace_id=conversation.workspace_id,
        conversation_id=conversation.id,
        in_reply_to_id=target.id,
        agent_id=None,
        text=compose(body, disclosure_of(settings, language)),
        idempotency_key=key,
        status=ReplyStatus.queued.value,
        saved_reply_id=saved.id,
        copy_score=0.0,
        automated=True,
    )
    session.add(reply)
    session.flush()
    sending.enqueue_send(session, reply)
    session.flush()
    return reply
