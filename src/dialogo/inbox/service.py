"""The inbox's work: listing and reading conversations, assignment (manual, round-robin),
statuses, tags, internal notes, "someone else is replying", replies, the quarantine, settings.

Every function checks the principal's permission in the workspace; services flush, the
boundary commits.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
import secrets
from collections.abc import Sequence
from typing import Any

from sqlalchemy import and_, delete, func, or_, select
from sqlalchemy.orm import Session

from dialogo.accounts.models import Membership, User, Workspace
from dialogo.accounts.permissions import Permission, Role, role_allows
from dialogo.accounts.service import Principal, authorize
from dialogo.channels.models import Channel
from dialogo.core.clock import ensure_aware, utcnow
from dialogo.core.errors import Conflict, InvalidInput, NotFound
from dialogo.inbox import acknowledge, assist, mentions, rules, sla
from dialogo.inbox import replies as sending
from dialogo.inbox.models import (
    Contact,
    ContactIdentity,
    Conversation,
    ConversationNote,
    ConversationPresence,
    ConversationStatus,
    ConversationTag,
    Direction,
    InboxRule,
    InboxSettings,
    Message,
    QuarantinedItem,
    Reply,
    ReplyStatus,
    SavedReply,
)
from dialogo.inbox.priority import Priority, with_waiting
from dialogo.inbox.schemas import ConversationFilters, InboxSettingsIn
from dialogo.notifications import service as notifications

#: Someone who touched the reply form this recently is "replying".
PRESENCE_WINDOW = dt.timedelta(seconds=30)
MAX_TAG = 60
TAG_RE = re.compile(r"^[\w][\w .:/+-]*$", re.UNICODE)
MAX_REPLY = 10_000
MAX_NOTE = 10_000


def _conversation(
    session: Session,
    principal: Principal,
    workspace_id: int,
    conversation_id: int,
    permission: Permission,
) -> Conversation:
    authorize(session, principal, workspace_id, permission)
    conversation = session.get(Conversation, conversation_id)
    if conversation is None or conversation.workspace_id != workspace_id:
        raise NotFound("conversation not found")
    return conversation


def effective_priority(conversation: Conversation, now: dt.datetime) -> Priority:
    base = Priority(conversation.priority, tuple(conversation.priority_reasons or ()))
    waiting = ensure_aware(conversation.waiting_since) if conversation.waiting_since else None
    return with_waiting(base, waiting, now)


# --- reading ------------------------------------------------------------------------------------


def list_conversations(
    session: Session,
    principal: Principal,
    workspace_id: int,
    filters: ConversationFilters,
    *,
    now: dt.datetime | None = None,
) -> list[Conversation]:
    authorize(session, principal, workspace_id, Permission.inbox_read)
    now = now or utcnow()
    query = select(Conversation).where(Conversation.workspace_id == workspace_id)
    if filters.status == "active":  # open, and snoozed ones whose time came
        query = query.where(
            or_(
                Conversation.status == ConversationStatus.open.value,
                and_(
                    Conversation.status == ConversationStatus.snoozed.value,
                    Conversation.snoozed_until <= now,
                ),
            )
        )
    elif filters.status is not None:
        query = query.where(Conversation.status == filters.status)
    if filters.assignee == "me":
        query = query.where(Conversation.assignee_id == principal.user_id)
    elif filters.assignee == "unassigned":
        query = query.where(Conversation.assignee_id.is_(None))
    elif filters.assignee_id is not None:
        query = query.where(Conversation.assignee_id == filters.assignee_id)
    if filters.channel_id is not None:
        query = query.where(Conversation.channel_id == filters.channel_id)
    if filters.tag:
        query = query.where(
            Conversation.id.in_(
                select(ConversationTag.conversation_id).where(ConversationTag.tag == filters.tag)
            )
        )
    if filters.q:
        needle = f"%{filters.q.lower()}%"
        query = query.where(
            Conversation.id.in_(
                select(Message.conversation_id).where(
                    Message.workspace_id == workspace_id, func.lower(Message.text).like(needle)
                )
            )
        )
    query = query.order_by(
        Conversation.priority.desc(),
        Conversation.waiting_since.is_(None),
        Conversation.waiting_since,
        Conversation.last_message_at.desc(),
        Conversation.id.desc(),
    )
    return list(session.scalars(query.offset(filters.offset).limit(filters.limit)))


def get_conversation(
    session: Session, principal: Principal, workspace_id: int, conversation_id: int
) -> Conversation:
    return _conversation(session, principal, workspace_id, conversation_id, Permission.inbox_read)


def messages_of(session: Session, conversation: Conversation) -> list[Message]:
    return list(
        session.scalars(
            select(Message)
            .where(Message.conversation_id == conversation.id)
            .order_by(Message.created_at, Message.id)
        )
    )


def notes_of(session: Session, conversation: Conversation) -> list[ConversationNote]:
    return list(
        session.scalars(
            select(ConversationNote)
            .where(ConversationNote.conversation_id == conversation.id)
            .order_by(ConversationNote.created_at, ConversationNote.id)
        )
    )


def tags_of(session: Session, conversation_ids: Sequence[int]) -> dict[int, list[str]]:
    found: dict[int, list[str]] = {cid: [] for cid in conversation_ids}
    if not conversation_ids:
        return found
    rows = session.execute(
        select(ConversationTag.conversation_id, ConversationTag.tag)
        .where(ConversationTag.conversation_id.in_(list(conversation_ids)))
        .order_by(ConversationTag.tag)
    )
    for cid, tag in rows:
        found[cid].append(tag)
    return found


def replies_of(session: Session, conversation: Conversation) -> list[Reply]:
    return list(
        session.scalars(
            select(Reply).where(Reply.conversation_id == conversation.id).order_by(Reply.id)
        )
    )


def contact_of(
    session: Session, conversation: Conversation
) -> tuple[Contact | None, list[ContactIdentity]]:
    if conversation.contact_id is None:
        return None, []
    contact = session.get(Contact, conversation.contact_id)
    identities = list(
        session.scalars(
            select(ContactIdentity).where(ContactIdentity.contact_id == conversation.contact_id)
        )
    )
    return contact, identities


# --- assignment ---------------------------------------------------------------------------------


def assignable_members(session: Session, workspace_id: int) -> list[tuple[User, Role]]:
    """Members whose role may reply in the inbox, by user id."""
    rows = session.execute(
        select(User, Membership.role)
        .join(Membership, Membership.user_id == User.id)
        .where(Membership.workspace_id == workspace_id, User.is_active.is_(True))
        .order_by(User.id)
    ).all()
    return [(u, Role(r)) for u, r in rows if role_allows(Role(r), Permission.inbox_reply)]


def assign(
    session: Session,
    principal: Principal,
    workspace_id: int,
    conversation_id: int,
    assignee_id: int | None,
) -> Conversation:
    conversation = _conversation(
        session, principal, workspace_id, conversation_id, Permission.inbox_assign
    )
    if assignee_id is not None and assignee_id not in {
        u.id for u, _ in assignable_members(session, workspace_id)
    }:
        raise InvalidInput(
            "the assignee must be a member of the workspace who may reply in the inbox",
            field="assignee_id",
            code="assignee_invalid",
        )
    conversation.assignee_id = assignee_id
    conversation.updated_at = utcnow()
    session.flush()
    return conversation


def settings_of(session: Session, workspace_id: int, *, lock: bool = False) -> InboxSettings:
    query = select(InboxSettings).where(InboxSettings.workspace_id == workspace_id)
    if lock:
        query = query.with_for_update()
    row = session.scalar(query)
    if row is None:
        row = InboxSettings(workspace_id=workspace_id, business_hours={})
        session.add(row)
        session.flush()
    return row


def assign_round_robin(
    session: Session, principal: Principal, workspace_id: int, conversation_id: int
) -> Conversation:
    """The next member (by user id, after the one who got the last conversation)."""
    conversation = _conversation(
        session, principal, workspace_id, conversation_id, Permission.inbox_assign
    )
    members = [u.id for u, _ in assignable_members(session, workspace_id)]
    if not members:
        raise Conflict("no member of this workspace may reply in the inbox")
    settings = settings_of(session, workspace_id, lock=True)
    last = settings.last_assignee_id
    following = [m for m in members if last is None or m > last]
    chosen = following[0] if following else members[0]
    settings.last_assignee_id = chosen
    conversation.assignee_id = chosen
    conversation.updated_at = utcnow()
    session.flush()
    return conversation


# --- status, tags, notes ------------------------------------------------------------------------


def set_status(
    session: Session,
    principal: Principal,
    workspace_id: int,
    conversation_id: int,
    status: ConversationStatus,
    *,
    snoozed_until: dt.datetime | None = None,
    now: dt.datetime | None = None,
) -> Conversation:
    conversation = _conversation(
        session, principal, workspace_id, conversation_id, Permission.inbox_reply
    )
    now = now or utcnow()
    if status is ConversationStatus.snoozed:
        if snoozed_until is None or snoozed_until.tzinfo is None or snoozed_until <= now:
            raise InvalidInput(
                "snooze until a time in the future", field="snoozed_until", code="snooze_invalid"
            )
        conversation.snoozed_until = snoozed_until
    else:
        conversation.snoozed_until = None
    if status is ConversationStatus.closed and conversation.resolved_at is None:
        conversation.resolved_at = now
    elif status is not ConversationStatus.closed:
        conversation.resolved_at = None
    conversation.status = status.value
    conversation.updated_at = now
    session.flush()
    return conversation


def normalise_tag(tag: str) -> str:
    value = " ".join(tag.split()).lower()
    if not value or len(value) > MAX_TAG or not TAG_RE.match(value):
        raise InvalidInput(
            f"a tag is 1 to {MAX_TAG} letters, digits, spaces or . : / + -",
            field="tag",
            code="tag_invalid",
        )
    return value


def add_tag(
    session: Session, principal: Principal, workspace_id: int, conversation_id: int, tag: str
) -> list[str]:
    conversation = _conversation(
        session, principal, workspace_id, conversation_id, Permission.inbox_reply
    )
    value = normalise_tag(tag)
    if session.get(ConversationTag, (conversation.id, value)) is None:
        session.add(ConversationTag(conversation_id=conversation.id, tag=value))
        session.flush()
    return tags_of(session, [conversation.id])[conversation.id]


def remove_tag(
    session: Session, principal: Principal, workspace_id: int, conversation_id: int, tag: str
) -> list[str]:
    conversation = _conversation(
        session, principal, workspace_id, conversation_id, Permission.inbox_reply
    )
    session.execute(
        delete(ConversationTag).where(
            ConversationTag.conversation_id == conversation.id,
            ConversationTag.tag == " ".join(tag.split()).lower(),
        )
    )
    session.flush()
    return tags_of(session, [conversation.id])[conversation.id]


def mentionable_members(session: Session, workspace_id: int) -> list[tuple[User, str]]:
    """Active members of the workspace (any role) with the handle to mention them by
    (``@`` + e-mail local part), by handle."""
    users = session.scalars(
        select(User)
        .join(Membership, Membership.user_id == User.id)
        .where(Membership.workspace_id == workspace_id, User.is_active.is_(True))
        .order_by(User.id)
    ).all()
    handles = mentions.directory((u.id, u.email, u.name) for u in users)
    out = []
    for u in users:
        local = u.email.split("@", 1)[0].lower()
        if handles.get(local) == u.id:
            out.append((u, local))
        else:  # the local part is shared: the name without spaces, if it is unique
            own = sorted(h for h, uid in handles.items() if uid == u.id)
            if own:
                out.append((u, own[0]))
    return sorted(out, key=lambda pair: pair[1])


def mentionable(
    session: Session, principal: Principal, workspace_id: int, prefix: str | None = None
) -> list[tuple[User, str]]:
    """Members a note can mention (for autocomplete): handle or a word of the name starting
    with ``prefix`` (case-insensitive, a leading ``@`` ignored), at most 20."""
    authorize(session, principal, workspace_id, Permission.inbox_read)
    wanted = (prefix or "").strip().lstrip("@").lower()
    found = [
        (u, h)
        for u, h in mentionable_members(session, workspace_id)
        if not wanted
        or h.startswith(wanted)
        or any(w.lower().startswith(wanted) for w in (u.name or "").split())
    ]
    return found[:20]


def add_note(
    session: Session, principal: Principal, workspace_id: int, conversation_id: int, body: str
) -> ConversationNote:
    """An internal note. ``@handle`` mentions of members (see :mod:`dialogo.inbox.mentions`)
    are stored with it and each mentioned member (not the author) gets a notification of their
    own linking to the conversation; other ``@words`` stay plain text."""
    conversation = _conversation(
        session, principal, workspace_id, conversation_id, Permission.inbox_reply
    )
    text = body.strip()
    if not text:
        raise InvalidInput("a note needs some text", field="body", code="note_empty")
    if len(text) > MAX_NOTE:
        raise InvalidInput(
            f"a note has at most {MAX_NOTE} characters", field="body", code="note_too_long"
        )
    members = session.execute(
        select(User.id, User.email, User.name)
        .join(Membership, Membership.user_id == User.id)
        .where(Membership.workspace_id == workspace_id, User.is_active.is_(True))
    ).all()
    found = mentions.find(text, mentions.directory((int(i), e, n) for i, e, n in members))
    note = ConversationNote(
        conversation_id=conversation.id,
        workspace_id=workspace_id,
        author_id=principal.user_id,
        body=text,
        mentions=found,
    )
    session.add(note)
    session.flush()
    author = session.get(User, principal.user_id)
    who = (author.name or author.email) if author else principal.label
    for mention in found:
        if mention["user_id"] == principal.user_id:
            continue
        notifications.notify(
            session,
            workspace_id,
            kind="inbox_mention",
            severity="info",
            params={"who": who},
            body=text[:300],
            link=f"/w/{workspace_id}/inbox/{conversation.id}#note-{note.id}",
            recipient_id=int(mention["user_id"]),
        )
    return note


# --- "someone else is replying" -----------------------------------------------------------------


def touch_presence(
    session: Session,
    principal: Principal,
    workspace_id: int,
    conversation_id: int,
    *,
    now: dt.datetime | None = None,
) -> list[User]:
    """Record that this person is writing a reply; return the others writing one now."""
    conversation = _conversation(
        session, principal, workspace_id, conversation_id, Permission.inbox_reply
    )
    now = now or utcnow()
    row = session.get(ConversationPresence, (conversation.id, principal.user_id))
    if row is None:
        session.add(
            ConversationPresence(
                conversation_id=conversation.id, user_id=principal.user_id, seen_at=now
            )
        )
    else:
        row.seen_at = now
    session.flush()
    return others_replying(session, conversation.id, principal.user_id, now=now)


def others_replying(
    session: Session, conversation_id: int, user_id: int, *, now: dt.datetime
) -> list[User]:
    return list(
        session.scalars(
            select(User)
            .join(ConversationPresence, ConversationPresence.user_id == User.id)
            .where(
                ConversationPresence.conversation_id == conversation_id,
                ConversationPresence.user_id != user_id,
                ConversationPresence.seen_at >= now - PRESENCE_WINDOW,
            )
            .order_by(User.id)
        )
    )


# --- replies ------------------------------------------------------------------------------------


def latest_inbound(session: Session, conversation: Conversation) -> Message | None:
    return session.scalar(
        select(Message)
        .where(
            Message.conversation_id == conversation.id,
            Message.direction == Direction.inbound.value,
        )
        .order_by(Message.created_at.desc(), Message.id.desc())
        .limit(1)
    )


def create_reply(
    session: Session,
    principal: Principal,
    workspace_id: int,
    conversation_id: int,
    text: str,
    *,
    in_reply_to_id: int | None = None,
    saved_reply_id: int | None = None,
    idempotency_key: str | None = None,
    allow_canned: bool = True,
) -> Reply:
    """Queue a reply written by a person; a job sends it (exactly once) through the provider.

    ``idempotency_key``: the form's key, so a double submit queues one reply. The
    authenticity guard scores the text against recent replies (kept on the reply for the
    per-agent personal share); with ``allow_canned=False`` a near-copy of many recent
    replies is refused with ``reply_canned`` so the person can make it personal or confirm."""
    conversation = _conversation(
        session, principal, workspace_id, conversation_id, Permission.inbox_reply
    )
    body = text.strip()
    if not body:
        raise InvalidInput("a reply needs some text", field="text", code="reply_empty")
    if len(body) > MAX_REPLY:
        raise InvalidInput(
            f"a reply has at most {MAX_REPLY} characters", field="text", code="reply_too_long"
        )
    if idempotency_key is not None:
        if not re.fullmatch(r"[A-Za-z0-9_-]{8,64}", idempotency_key):
            raise InvalidInput("invalid idempotency key", field="idempotency_key")
        existing = session.scalar(select(Reply).where(Reply.idempotency_key == idempotency_key))
        if existing is not None:
            if existing.conversation_id != conversation.id:
                raise Conflict("this idempotency key was used for another reply")
            return existing
    if in_reply_to_id is not None:
        target = session.get(Message, in_reply_to_id)
        if target is None or target.conversation_id != conversation.id:
            raise InvalidInput("answer a message of this conversation", field="in_reply_to_id")
    else:
        target = latest_inbound(session, conversation)
    if target is None:
        raise Conflict("this conversation has no message to answer", code="nothing_to_answer")
    channel = session.get(Channel, conversation.channel_id)
    if channel is None:  # pragma: no cover - conversations cascade with their channel
        raise Conflict("the channel of this conversation was removed")
    guard = check_authenticity(session, workspace_id, body)
    if guard.canned and not allow_canned:
        raise Conflict(
            f"this reply nearly copies {guard.copies} recent replies",
            code="reply_canned",
            copies=guard.copies,
        )
    reply = Reply(
        workspace_id=workspace_id,
        conversation_id=conversation.id,
        in_reply_to_id=target.id,
        agent_id=principal.user_id,
        text=body,
        idempotency_key=idempotency_key or f"r{secrets.token_hex(12)}",
        status=ReplyStatus.queued.value,
        saved_reply_id=saved_reply_id,
        copy_score=guard.score,
    )
    session.add(reply)
    session.flush()
    sending.enqueue_send(session, reply)
    if conversation.assignee_id is None:  # whoever answers takes the conversation
        conversation.assignee_id = principal.user_id
    session.flush()
    return reply


# --- quarantine and settings --------------------------------------------------------------------


def list_quarantine(
    session: Session, principal: Principal, workspace_id: int, *, limit: int = 100
) -> list[QuarantinedItem]:
    """Malformed inbound items (admins: they are a provider's or a network's problem)."""
    authorize(session, principal, workspace_id, Permission.channels_manage)
    return list(
        session.scalars(
            select(QuarantinedItem)
            .where(QuarantinedItem.workspace_id == workspace_id)
            .order_by(QuarantinedItem.id.desc())
            .limit(min(limit, 500))
        )
    )


def get_settings(session: Session, principal: Principal, workspace_id: int) -> InboxSettings:
    authorize(session, principal, workspace_id, Permission.inbox_read)
    return settings_of(session, workspace_id)


def update_settings(
    session: Session, principal: Principal, workspace_id: int, data: InboxSettingsIn
) -> InboxSettings:
    authorize(session, principal, workspace_id, Permission.workspace_update)
    row = settings_of(session, workspace_id)
    row.first_response_minutes = data.first_response_minutes
    row.resolution_minutes = data.resolution_minutes
    row.business_hours = data.business_hours_json()
    row.auto_ack_enabled = data.auto_ack_enabled
    row.ack_disclosure = (data.ack_disclosure or "").strip() or None
    row.updated_at = utcnow()
    session.flush()
    return row


def set_acknowledgements(
    session: Session,
    principal: Principal,
    workspace_id: int,
    *,
    enabled: bool,
    disclosure: str | None,
) -> InboxSettings:
    """Turn automated acknowledgements on or off (admins), with the disclosure added to each
    (empty: the default, in the workspace's language); the other settings stay."""
    authorize(session, principal, workspace_id, Permission.workspace_update)
    text = " ".join((disclosure or "").split())
    if len(text) > acknowledge.MAX_DISCLOSURE:
        raise InvalidInput(
            f"the disclosure has at most {acknowledge.MAX_DISCLOSURE} characters",
            field="ack_disclosure",
            code="ack_disclosure_too_long",
        )
    row = settings_of(session, workspace_id)
    row.auto_ack_enabled = enabled
    row.ack_disclosure = text or None
    row.updated_at = utcnow()
    session.flush()
    return row


def workspace_timezone(session: Session, workspace_id: int) -> str:
    workspace = session.get(Workspace, workspace_id)
    return workspace.timezone if workspace is not None else "UTC"


@dataclasses.dataclass(frozen=True)
class Counts:
    active: int
    mine: int
    unassigned: int


def counts(session: Session, principal: Principal, workspace_id: int) -> Counts:
    authorize(session, principal, workspace_id, Permission.inbox_read)
    base = (
        select(func.count())
        .select_from(Conversation)
        .where(
            Conversation.workspace_id == workspace_id,
            Conversation.status == ConversationStatus.open.value,
        )
    )
    return Counts(
        active=int(session.scalar(base) or 0),
        mine=int(session.scalar(base.where(Conversation.assignee_id == principal.user_id)) or 0),
        unassigned=int(session.scalar(base.where(Conversation.assignee_id.is_(None))) or 0),
    )


# --- response times -----------------------------------------------------------------------------


def first_response_target(
    session: Session, conversation: Conversation, *, now: dt.datetime
) -> sla.Target | None:
    """When the first answer is due (business hours, the workspace's time zone)."""
    if conversation.first_message_at is None:
        return None
    settings = settings_of(session, conversation.workspace_id)
    return sla.first_response_target(
        ensure_aware(conversation.first_message_at),
        ensure_aware(conversation.first_response_at) if conversation.first_response_at else None,
        minutes=settings.first_response_minutes,
        hours=settings.business_hours or {},
        timezone=workspace_timezone(session, conversation.workspace_id),
        now=now,
    )


@dataclasses.dataclass(frozen=True)
class ResponseStats:
    first_response: sla.Stats
    resolution: sla.Stats
    timezone: str
    business_hours: bool


def response_stats(
    session: Session,
    principal: Principal,
    workspace_id: int,
    *,
    since: dt.datetime | None = None,
) -> ResponseStats:
    """First-response and resolution times of the workspace's conversations, in business
    seconds (the workspace's hours and time zone), against its targets."""
    authorize(session, principal, workspace_id, Permission.inbox_read)
    settings = settings_of(session, workspace_id)
    timezone = workspace_timezone(session, workspace_id)
    hours = settings.business_hours or {}
    query = select(
        Conversation.first_message_at, Conversation.first_response_at, Conversation.resolved_at
    ).where(Conversation.workspace_id == workspace_id, Conversation.first_message_at.is_not(None))
    if since is not None:
        query = query.where(Conversation.first_message_at >= since)
    first: list[float] = []
    resolved: list[float] = []
    for started, answered, closed in session.execute(query):
        if started is None:  # pragma: no cover - filtered out by the query
            continue
        start = ensure_aware(started)
        if answered is not None:
            first.append(sla.business_seconds(start, ensure_aware(answered), hours, timezone))
        if closed is not None:
            resolved.append(sla.business_seconds(start, ensure_aware(closed), hours, timezone))
    return ResponseStats(
        first_response=sla.stats(first, target_seconds=settings.first_response_minutes * 60),
        resolution=sla.stats(resolved, target_seconds=settings.resolution_minutes * 60),
        timezone=timezone,
        business_hours=bool(hours),
    )


# --- saved replies, authenticity, suggestions ---------------------------------------------------


def list_saved_replies(
    session: Session, principal: Principal, workspace_id: int
) -> list[SavedReply]:
    authorize(session, principal, workspace_id, Permission.inbox_read)
    return list(
        session.scalars(
            select(SavedReply)
            .where(SavedReply.workspace_id == workspace_id)
            .order_by(SavedReply.name)
        )
    )


def create_saved_reply(
    session: Session, principal: Principal, workspace_id: int, name: str, body: str
) -> SavedReply:
    authorize(session, principal, workspace_id, Permission.inbox_reply)
    name, body = name.strip(), body.strip()
    if not name or not body:
        raise InvalidInput(
            "a saved reply needs a name and a text", field="body", code="saved_empty"
        )
    try:
        assist.check_template(body)
    except assist.UnknownVariable as exc:
        raise InvalidInput(str(exc), field="body", code="saved_variables", names=exc.names) from exc
    if session.scalar(
        select(SavedReply.id).where(
            SavedReply.workspace_id == workspace_id, SavedReply.name == name
        )
    ):
        raise Conflict("a saved reply with this name exists", code="saved_name_taken")
    row = SavedReply(workspace_id=workspace_id, name=name[:120], body=body)
    session.add(row)
    session.flush()
    return row


def render_saved_reply(
    session: Session,
    principal: Principal,
    workspace_id: int,
    saved_reply_id: int,
    conversation: Conversation,
) -> str:
    authorize(session, principal, workspace_id, Permission.inbox_read)
    saved = session.get(SavedReply, saved_reply_id)
    if saved is None or saved.workspace_id != workspace_id:
        raise NotFound("saved reply not found")
    target = latest_inbound(session, conversation)
    agent = session.get(User, principal.user_id)
    workspace = session.get(Workspace, workspace_id)
    return assist.render(
        saved.body,
        {
            "name": (target.author_name or target.author_handle) if target else "",
            "handle": target.author_handle if target else "",
            "agent": (agent.name or agent.email) if agent else "",
            "brand": workspace.name if workspace else "",
        },
    )


#: Replies compared by the authenticity guard: the workspace's most recent ones.
RECENT_REPLIES = 200


def check_authenticity(session: Session, workspace_id: int, text: str) -> assist.Authenticity:
    recent = list(
        session.scalars(
            select(Reply.text)
            .where(Reply.workspace_id == workspace_id, Reply.automated.is_(False))
            .order_by(Reply.id.desc())
            .limit(RECENT_REPLIES)
        )
    )
    return assist.authenticity(text, recent)


@dataclasses.dataclass(frozen=True)
class AgentShare:
    user_id: int
    name: str
    replies: int
    personal_share: float | None


def personal_shares(session: Session, principal: Principal, workspace_id: int) -> list[AgentShare]:
    """Per agent: how many replies, and the share that copies no recent reply (automated
    acknowledgements are nobody's and are left out)."""
    authorize(session, principal, workspace_id, Permission.inbox_read)
    scores: dict[int, list[float]] = {}
    for agent_id, score in session.execute(
        select(Reply.agent_id, Reply.copy_score).where(
            Reply.workspace_id == workspace_id,
            Reply.agent_id.is_not(None),
            Reply.automated.is_(False),
        )
    ):
        if agent_id is not None:
            scores.setdefault(int(agent_id), []).append(float(score))
    out = []
    for user_id, values in sorted(scores.items()):
        user = session.get(User, user_id)
        out.append(
            AgentShare(
                user_id,
                (user.name or user.email) if user else str(user_id),
                len(values),
                assist.personal_share(values),
            )
        )
    return out


#: Past conversations the suggestions are drawn from (the most recent ones).
SUGGESTION_POOL = 5000


def past_examples(
    session: Session, workspace_id: int, *, limit: int = SUGGESTION_POOL
) -> list[assist.Example]:
    """(first customer message, first answer a person sent) of past conversations."""
    inbound = (
        select(Message.conversation_id, func.min(Message.id).label("mid"))
        .where(Message.workspace_id == workspace_id, Message.direction == Direction.inbound.value)
        .group_by(Message.conversation_id)
        .subquery()
    )
    outbound = (
        select(Message.conversation_id, func.min(Message.id).label("mid"))
        .where(
            Message.workspace_id == workspace_id,
            Message.direction == Direction.outbound.value,
            Message.automated.is_(False),  # an acknowledgement is not an answer
        )
        .group_by(Message.conversation_id)
        .subquery()
    )
    q_msg = Message.__table__.alias("q")
    a_msg = Message.__table__.alias("a")
    rows = session.execute(
        select(inbound.c.conversation_id, q_msg.c.text, a_msg.c.text)
        .join(outbound, outbound.c.conversation_id == inbound.c.conversation_id)
        .join(q_msg, q_msg.c.id == inbound.c.mid)
        .join(a_msg, a_msg.c.id == outbound.c.mid)
        .order_by(inbound.c.conversation_id.desc())
        .limit(limit)
    ).all()
    return [assist.Example(question=q, answer=a, ref=str(cid)) for cid, q, a in rows]


def suggestions(
    session: Session,
    principal: Principal,
    workspace_id: int,
    conversation: Conversation,
    k: int = 3,
) -> list[assist.Suggestion]:
    """Answers people gave to the most similar past conversations (a person edits and sends)."""
    authorize(session, principal, workspace_id, Permission.inbox_read)
    target = latest_inbound(session, conversation)
    if target is None:
        return []
    index = assist.SuggestionIndex(past_examples(session, workspace_id))
    return index.suggest(target.text, k, exclude_ref=str(conversation.id))


# --- rules --------------------------------------------------------------------------------------


def list_rules(session: Session, principal: Principal, workspace_id: int) -> list[InboxRule]:
    authorize(session, principal, workspace_id, Permission.inbox_read)
    return list(
        session.scalars(
            select(InboxRule)
            .where(InboxRule.workspace_id == workspace_id)
            .order_by(InboxRule.position, InboxRule.id)
        )
    )


def create_rule(
    session: Session,
    principal: Principal,
    workspace_id: int,
    *,
    name: str,
    conditions: dict[str, Any],
    actions: dict[str, Any],
    position: int = 0,
    stop: bool = False,
    enabled: bool = True,
) -> InboxRule:
    """A rule, checked before it is stored (see :mod:`dialogo.inbox.rules`)."""
    authorize(session, principal, workspace_id, Permission.workspace_update)
    _check_rule(session, workspace_id, name, conditions, actions)
    rule = InboxRule(
        workspace_id=workspace_id,
        name=name.strip()[:120],
        position=position,
        stop=stop,
        enabled=enabled,
        conditions=conditions,
        actions=actions,
    )
    session.add(rule)
    session.flush()
    return rule


def _check_rule(
    session: Session,
    workspace_id: int,
    name: str,
    conditions: dict[str, Any],
    actions: dict[str, Any],
) -> None:
    if not name.strip():
        raise InvalidInput(
            "a rule needs a name", field="name", code="rule_invalid", reason="no_name"
        )
    try:
        rules.validate(conditions, actions)
    except rules.RuleError as exc:
        reason = {"reason": exc.reason} if exc.reason else {}
        raise InvalidInput(str(exc), field="rule", code="rule_invalid", **reason) from exc
    if "tag" in actions:
        normalise_tag(str(actions["tag"]))
    channel_id = conditions.get("channel_id")
    if channel_id is not None:
        channel = session.get(Channel, channel_id)
        if channel is None or channel.workspace_id != workspace_id:
            raise InvalidInput(
                "the channel is not one of this workspace's",
                field="channel_id",
                code="rule_invalid",
                reason="unknown_channel",
            )
    saved_id = actions.get("acknowledge")
    if saved_id is not None:
        saved = session.get(SavedReply, saved_id)
        if saved is None or saved.workspace_id != workspace_id:
            raise InvalidInput(
                "the acknowledgement must be one of this workspace's saved replies",
                field="acknowledge",
                code="rule_ack_invalid",
            )
        if "agent" in assist.check_template(saved.body):
            raise InvalidInput(
                "an automated acknowledgement has no agent: its saved reply cannot use {agent}",
                field="acknowledge",
                code="rule_ack_agent",
            )
    # A member who may not reply (or loses that right later) is skipped at ingest.
    assignee = actions.get("assign_to")
    if assignee is not None and not session.scalar(
        select(Membership.user_id).where(
            Membership.workspace_id == workspace_id, Membership.user_id == assignee
        )
    ):
        raise InvalidInput(
            "the assignee must be a member of the workspace",
            field="assign_to",
            code="assignee_invalid",
        )


def get_rule(session: Session, principal: Principal, workspace_id: int, rule_id: int) -> InboxRule:
    authorize(session, principal, workspace_id, Permission.inbox_read)
    rule = session.get(InboxRule, rule_id)
    if rule is None or rule.workspace_id != workspace_id:
        raise NotFound("rule not found")
    return rule


def update_rule(
    session: Session,
    principal: Principal,
    workspace_id: int,
    rule_id: int,
    *,
    name: str,
    conditions: dict[str, Any],
    actions: dict[str, Any],
    position: int,
    stop: bool,
    enabled: bool,
) -> InboxRule:
    """Replace a rule's fields, checked like a new rule (nothing changes when refused)."""
    authorize(session, principal, workspace_id, Permission.workspace_update)
    rule = get_rule(session, principal, workspace_id, rule_id)
    _check_rule(session, workspace_id, name, conditions, actions)
    rule.name = name.strip()[:120]
    rule.conditions = conditions
    rule.actions = actions
    rule.position = position
    rule.stop = stop
    rule.enabled = enabled
    session.flush()
    return rule


def delete_rule(session: Session, principal: Principal, workspace_id: int, rule_id: int) -> None:
    authorize(session, principal, workspace_id, Permission.workspace_update)
    rule = get_rule(session, principal, workspace_id, rule_id)
    session.delete(rule)
    session.flush()
