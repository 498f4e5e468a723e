"""Ingest: a provider's page of inbound messages becomes stored messages, threaded into
conversations, their authors linked to contacts, enriched once.

Guarantees:

- **Exactly one row per remote message**, whoever runs the ingest and how often: messages are
  written with ``INSERT … ON CONFLICT (channel_id, remote_id) DO NOTHING`` and only the rows
  this call really inserted (``RETURNING``) update their conversations. Contacts identities
  and conversations are created the same way, so two workers ingesting the same page at the
  same moment converge on the same rows.
- **Nothing dropped silently**: an item that cannot be stored (no id, no author, a naive or
  missing date, a text that is not text …) goes to the quarantine table with the reason.
- **The cursor never runs ahead of the rows**: it is written in the same transaction as the
  rows of its page (the job's unit of work), with a compare-and-set on the previous value, so
  a page is either stored with its cursor or not at all, and a slower concurrent run cannot
  move the cursor backwards.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import importlib
import logging
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from sqlalchemy import Executable, Insert, Table, bindparam, delete, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from dialogo.accounts.models import Membership
from dialogo.accounts.permissions import Permission, Role, role_allows
from dialogo.channels.models import Channel
from dialogo.core.clock import utcnow
from dialogo.core.text import has_surrogates, storable
from dialogo.inbox import rules
from dialogo.inbox.models import (
    Contact,
    ContactIdentity,
    Conversation,
    ConversationStatus,
    ConversationTag,
    Direction,
    InboxRule,
    InboxSettings,
    IngestCursor,
    Message,
    QuarantinedItem,
)
from dialogo.inbox.priority import content_priority
from dialogo.providers.base import InboundMessage, MessageKind, MessagePage

log = logging.getLogger("dialogo.inbox")

CONTACTS: Table = Contact.__table__  # type: ignore[assignment]
#: Rows per multi-row INSERT (SQLite allows 32,766 bound values per statement).
CHUNK = 500
MAX_ID = 500
PREVIEW = 300


# --- enrichment ---------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Enrichment:
    language: str | None
    sentiment: float | None
    label: str | None
    is_question: bool
    is_complaint: bool


Analyser = Callable[[str, str | None], Enrichment]


def _nlp_analyser() -> Analyser | None:
    """``dialogo.nlp.analyse`` when the NLP package provides it (built by another domain)."""
    try:
        module = importlib.import_module("dialogo.nlp")
    except ImportError:  # pragma: no cover - the package exists, maybe not the function
        return None
    analyse = getattr(module, "analyse", None)
    if analyse is None:
        return None

    def run(text: str, language: str | None) -> Enrichment:
        a = analyse(text, language=language)
        return Enrichment(
            language=a.language,
            sentiment=float(a.sentiment),
            label=a.label,
            is_question=bool(a.is_question),
            is_complaint=bool(a.is_complaint),
        )

    return run


def default_analyser() -> Analyser:
    found = _nlp_analyser()
    if found is not None:
        return found

    # Without the NLP package: the language the network declared, and a question mark.
    def fallback(text: str, language: str | None) -> Enrichment:
        return Enrichment(language, None, None, "?" in text, False)

    return fallback


# --- validation ---------------------------------------------------------------------------------


class Malformed(ValueError):
    pass


def check(message: Any) -> InboundMessage:
    """The message if it can be stored, else :class:`Malformed` with the reason."""
    if not isinstance(message, InboundMessage):
        raise Malformed(f"not an inbound message: {type(message).__name__}")
    if not isinstance(message.remote_id, str) or not message.remote_id.strip():
        raise Malformed("the message has no remote id")
    if len(message.remote_id) > MAX_ID:
        raise Malformed(f"the remote id is longer than {MAX_ID} characters")
    author = message.author
    if author is None or not isinstance(author.remote_id, str) or not author.remote_id.strip():
        raise Malformed("the message has no author")
    if len(author.remote_id) > MAX_ID:
        raise Malformed(f"the author id is longer than {MAX_ID} characters")
    if not isinstance(message.text, str):
        raise Malformed("the message text is not text")
    if "\x00" in message.text:
        raise Malformed("the message text contains a NUL character")
    if not isinstance(message.created_at, dt.datetime):
        raise Malformed("the message has no date")
    if message.created_at.tzinfo is None:
        raise Malformed("the message date has no time zone")
    for name in ("conversation_id", "in_reply_to"):
        value = getattr(message, name)
        if value is not None and (not isinstance(value, str) or len(value) > MAX_ID):
            raise Malformed(f"{name} is not an id of up to {MAX_ID} characters")
    try:
        MessageKind(message.kind)
    except ValueError:
        raise Malformed(f"unknown message kind {message.kind!r}") from None
    return _repaired(message)


def _repaired(message: InboundMessage) -> InboundMessage:
    """Lone surrogates (a bad decode upstream) replaced by U+FFFD: no driver can encode them,
    and one of them would otherwise fail the whole page, again on every retry."""
    a = message.author
    if not any(
        isinstance(v, str) and has_surrogates(v)
        for v in (message.text, message.url, message.remote_id, a.handle, a.display_name)
    ):
        return message
    return dataclasses.replace(
        message,
        text=storable(message.text),
        url=storable(message.url) if message.url else message.url,
        remote_id=storable(message.remote_id),
        author=dataclasses.replace(
            a,
            handle=storable(a.handle) if isinstance(a.handle, str) else a.handle,
            display_name=(
                storable(a.display_name) if isinstance(a.display_name, str) else a.display_name
            ),
        ),
        raw={
            k: v for k, v in message.raw.items() if not (isinstance(v, str) and has_surrogates(v))
        },
    )


def _jsonable(message: Any) -> dict[str, Any]:
    if dataclasses.is_dataclass(message) and not isinstance(message, type):
        try:
            data = dataclasses.asdict(message)
        except Exception:
            return {"repr": repr(message)[:20000]}
        return {k: _storable_json(v) for k, v in data.items()}
    return {"repr": repr(message)[:20000]}


def _storable_json(value: Any) -> Any:
    """A quarantined item as JSON both databases take (no NUL, no lone surrogate)."""
    if isinstance(value, dt.datetime):
        return value.isoformat()
    if isinstance(value, str):
        return storable(value)
    if isinstance(value, dict):
        return {str(k): _storable_json(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_storable_json(v) for v in value]
    return value


# --- dialect helpers ----------------------------------------------------------------------------


def _insert(session: Session, table: Any) -> Any:
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        return postgresql.insert(table)
    if dialect == "sqlite":
        return sqlite.insert(table)
    raise NotImplementedError(f"ingest on {dialect!r}")  # pragma: no cover


def _chunks(
    rows: Sequence[dict[str, Any]], size: int = CHUNK
) -> Iterable[Sequence[dict[str, Any]]]:
    for start in range(0, len(rows), size):
        yield rows[start : start + size]


# --- storing a page -----------------------------------------------------------------------------


@dataclasses.dataclass
class IngestReport:
    received: int = 0
    stored: int = 0  # new rows
    duplicates: int = 0
    quarantined: int = 0
    conversations: int = 0  # conversations that got new messages

    def add(self, other: IngestReport) -> None:
        for field in dataclasses.fields(self):
            setattr(self, field.name, getattr(self, field.name) + getattr(other, field.name))

    def as_dict(self) -> dict[str, int]:
        return dataclasses.asdict(self)


def quarantine(
    session: Session, channel: Channel, item: Any, reason: str, *, now: dt.datetime
) -> QuarantinedItem:
    remote_id = getattr(item, "remote_id", None)
    row = QuarantinedItem(
        workspace_id=channel.workspace_id,
        channel_id=channel.id,
        remote_id=remote_id[:MAX_ID] if isinstance(remote_id, str) else None,
        reason=reason,
        payload=_jsonable(item),
        created_at=now,
    )
    session.add(row)
    return row


def _link_contacts(
    session: Session, channel: Channel, messages: Sequence[InboundMessage], now: dt.datetime
) -> dict[str, int]:
    """author remote id → contact id, creating a contact per new identity (in bulk)."""
    authors: dict[str, InboundMessage] = {}
    for m in messages:
        authors[m.author.remote_id] = m  # the latest message carries the freshest profile
    if not authors:
        return {}
    wanted = list(authors)

    def existing() -> dict[str, tuple[int, int, str, str, int | None]]:
        found: dict[str, tuple[int, int, str, str, int | None]] = {}
        for start in range(0, len(wanted), CHUNK):
            rows = session.execute(
                select(
                    ContactIdentity.remote_id,
                    ContactIdentity.contact_id,
                    ContactIdentity.id,
                    ContactIdentity.handle,
                    ContactIdentity.display_name,
                    ContactIdentity.followers,
                ).where(
                    ContactIdentity.workspace_id == channel.workspace_id,
                    ContactIdentity.network == channel.network,
                    ContactIdentity.remote_id.in_(wanted[start : start + CHUNK]),
                )
            ).all()
            found.update({r[0]: (r[1], r[2], r[3], r[4], r[5]) for r in rows})
        return found

    def profile(rid: str) -> tuple[str, str, int | None]:
        author = authors[rid].author
        return (author.handle or "")[:255], (author.display_name or "")[:255], author.followers

    known = existing()
    missing = [rid for rid in wanted if rid not in known]
    for start in range(0, len(missing), CHUNK):
        chunk = missing[start : start + CHUNK]
        contact_ids = list(
            session.scalars(
                insert(CONTACTS).returning(CONTACTS.c.id, sort_by_parameter_order=True),
                [
                    {
                        "workspace_id": channel.workspace_id,
                        "display_name": (
                            authors[rid].author.display_name or authors[rid].author.handle or rid
                        )[:255],
                        "created_at": now,
                        "updated_at": now,
                    }
                    for rid in chunk
                ],
            )
        )
        rows = []
        for rid, contact_id in zip(chunk, contact_ids, strict=True):
            handle, name, followers = profile(rid)
            rows.append(
                {
                    "contact_id": contact_id,
                    "workspace_id": channel.workspace_id,
                    "network": channel.network,
                    "remote_id": rid,
                    "handle": handle,
                    "display_name": name,
                    "followers": followers,
                    "created_at": now,
                    "updated_at": now,
                }
            )
        linked = set(
            session.scalars(
                _insert(session, ContactIdentity.__table__)
                .on_conflict_do_nothing(index_elements=["workspace_id", "network", "remote_id"])
                .returning(ContactIdentity.__table__.c.contact_id),
                rows,
            )
        )
        # Another worker linked some of these authors a moment ago: use its contacts.
        orphans = [c for c in contact_ids if c not in linked]
        if orphans:
            session.execute(delete(Contact).where(Contact.id.in_(orphans)))
    if missing:
        known = existing()
    # Profiles change (a new display name, more followers): keep the identities current.
    changed = [
        {"identity_id": identity_id, "h": p[0], "n": p[1], "f": p[2]}
        for rid, (_c, identity_id, handle, name, followers) in known.items()
        if (p := profile(rid)) != (handle, name, followers)
    ]
    if changed:
        # A Core UPDATE on the table: given a list of parameters, an ORM ``update(Entity)``
        # switches to "bulk UPDATE by primary key" and refuses the ``identity_id`` bind.
        identities: Table = ContactIdentity.__table__  # type: ignore[assignment]
        session.execute(
            update(identities)
            .where(identities.c.id == bindparam("identity_id"))
            .values(
                handle=bindparam("h"),
                display_name=bindparam("n"),
                followers=bindparam("f"),
                updated_at=now,
            ),
            changed,
        )
    return {rid: values[0] for rid, values in known.items()}


def _thread_keys(
    session: Session, channel: Channel, messages: Sequence[InboundMessage]
) -> dict[str, str]:
    """remote id → the conversation's thread key: the network's conversation id, else the
    thread of the message answered (if stored), else the message itself (a new thread)."""
    keys: dict[str, str] = {}
    parents = {m.in_reply_to for m in messages if not m.conversation_id and m.in_reply_to}
    parent_keys: dict[str, str] = {}
    plist = list(parents)
    for start in range(0, len(plist), CHUNK):
        rows = session.execute(
            select(Message.remote_id, Conversation.thread_key)
            .join(Conversation, Conversation.id == Message.conversation_id)
            .where(
                Message.channel_id == channel.id,
                Message.remote_id.in_(plist[start : start + CHUNK]),
            )
        ).all()
        parent_keys.update({r[0]: r[1] for r in rows})
    for m in messages:
        if m.conversation_id:
            keys[m.remote_id] = m.conversation_id
        elif m.in_reply_to and m.in_reply_to in parent_keys:
            keys[m.remote_id] = parent_keys[m.in_reply_to]
        elif m.in_reply_to and m.in_reply_to in keys:  # answers a message of this page
            keys[m.remote_id] = keys[m.in_reply_to]
        else:
            keys[m.remote_id] = m.remote_id
    return keys


def _conversations(
    session: Session,
    channel: Channel,
    firsts: dict[str, tuple[InboundMessage, int | None]],
    now: dt.datetime,
) -> dict[str, int]:
    """thread key → conversation id, creating the missing ones (race-safe)."""
    rows: list[dict[str, Any]] = [
        {
            "workspace_id": channel.workspace_id,
            "channel_id": channel.id,
            "network": channel.network,
            "thread_key": key,
            "kind": str(m.kind),
            "contact_id": contact_id,
            "status": ConversationStatus.open.value,
            "priority": 0,
            "priority_reasons": [],
            "preview": "",
            "message_count": 0,
            "created_at": now,
            "updated_at": now,
        }
        for key, (m, contact_id) in firsts.items()
    ]
    keys = list(firsts)
    found: dict[str, int] = {}
    for start in range(0, len(keys), CHUNK):
        chunk = keys[start : start + CHUNK]
        found.update(
            dict(
                session.execute(
                    select(Conversation.thread_key, Conversation.id).where(
                        Conversation.channel_id == channel.id, Conversation.thread_key.in_(chunk)
                    )
                ).all()
            )
        )
    new = [r for r in rows if r["thread_key"] not in found]
    for chunk_rows in _chunks(new):
        session.execute(
            _insert(session, Conversation.__table__).on_conflict_do_nothing(
                index_elements=["channel_id", "thread_key"]
            ),
            list(chunk_rows),
        )
    missing = [k for k in keys if k not in found]
    for start in range(0, len(missing), CHUNK):
        chunk = missing[start : start + CHUNK]
        found.update(
            dict(
                session.execute(
                    select(Conversation.thread_key, Conversation.id).where(
                        Conversation.channel_id == channel.id, Conversation.thread_key.in_(chunk)
                    )
                ).all()
            )
        )
    return found


def store_messages(
    session: Session,
    channel: Channel,
    messages: Sequence[Any],
    *,
    now: dt.datetime | None = None,
    analyser: Analyser | None = None,
) -> IngestReport:
    """Store one page of inbound messages (flushes; the caller commits)."""
    now = now or utcnow()
    analyse = analyser or default_analyser()
    report = IngestReport(received=len(messages))
    good: list[InboundMessage] = []
    seen: set[str] = set()
    for item in messages:
        try:
            message = check(item)
        except Malformed as exc:
            quarantine(session, channel, item, str(exc), now=now)
            report.quarantined += 1
            continue
        if message.remote_id in seen:  # the same message twice in one page
            report.duplicates += 1
            continue
        seen.add(message.remote_id)
        good.append(message)
    if not good:
        session.flush()
        return report

    # Only the messages not stored yet need contacts, threads and enrichment.
    stored: set[str] = set()
    ids = [m.remote_id for m in good]
    for start in range(0, len(ids), CHUNK):
        stored.update(
            session.scalars(
                select(Message.remote_id).where(
                    Message.channel_id == channel.id,
                    Message.remote_id.in_(ids[start : start + CHUNK]),
                )
            )
        )
    fresh = [m for m in good if m.remote_id not in stored]
    report.duplicates += len(good) - len(fresh)
    if not fresh:
        return report

    contacts = _link_contacts(session, channel, fresh, now)
    keys = _thread_keys(session, channel, fresh)
    firsts: dict[str, tuple[InboundMessage, int | None]] = {}
    for m in sorted(fresh, key=lambda m: m.created_at):
        firsts.setdefault(keys[m.remote_id], (m, contacts.get(m.author.remote_id)))
    conversations = _conversations(session, channel, firsts, now)

    rows: list[dict[str, Any]] = []
    enrichment: dict[str, Enrichment] = {}
    for m in fresh:
        e = analyse(m.text, m.language)
        enrichment[m.remote_id] = e
        rows.append(
            {
                "workspace_id": channel.workspace_id,
                "channel_id": channel.id,
                "conversation_id": conversations[keys[m.remote_id]],
                "remote_id": m.remote_id,
                "direction": Direction.inbound.value,
                "kind": str(m.kind),
                "remote_conversation_id": m.conversation_id,
                "in_reply_to": m.in_reply_to,
                "contact_id": contacts.get(m.author.remote_id),
                "author_remote_id": m.author.remote_id[:MAX_ID],
                "author_handle": (m.author.handle or "")[:255],
                "author_name": (m.author.display_name or "")[:255],
                "author_followers": m.author.followers,
                "text": m.text,
                "url": m.url[:1000] if m.url else None,
                "created_at": m.created_at,
                "ingested_at": now,
                "language": (e.language or m.language or None),
                "sentiment": e.sentiment,
                "sentiment_label": e.label,
                "is_question": e.is_question,
                "is_complaint": e.is_complaint,
                "sent_by": None,
                "ref": reference_of(m),
            }
        )
    inserted: set[str] = set()
    for chunk in _chunks(rows):
        # executemany: one cached statement, sent as multi-row INSERTs ("insertmanyvalues").
        stmt: Executable = (
            _insert(session, Message.__table__)
            .on_conflict_do_nothing(index_elements=["channel_id", "remote_id"])
            .returning(Message.__table__.c.remote_id)
        )
        inserted.update(session.scalars(stmt, list(chunk)))
    report.stored = len(inserted)
    report.duplicates += len(fresh) - len(inserted)

    by_conversation: dict[int, list[InboundMessage]] = {}
    for m in fresh:
        if m.remote_id in inserted:
            by_conversation.setdefault(conversations[keys[m.remote_id]], []).append(m)
    # Row locks on every touched conversation, in id order (no deadlock between two ingests):
    # concurrent ingests of the same thread add up instead of overwriting each other.
    locked: dict[int, Conversation] = {}
    ids_ = sorted(by_conversation)
    for start in range(0, len(ids_), CHUNK):
        for conversation in session.scalars(
            select(Conversation)
            .where(Conversation.id.in_(ids_[start : start + CHUNK]))
            .order_by(Conversation.id)
            .with_for_update()
            .execution_options(populate_existing=True)
        ):
            locked[conversation.id] = conversation
    for conversation_id, new in by_conversation.items():
        _roll_up(locked[conversation_id], new, enrichment, now)
    _apply_rules(session, channel, locked, by_conversation, enrichment, now)
    report.conversations = len(by_conversation)
    session.flush()
    return report


def _apply_rules(
    session: Session,
    channel: Channel,
    conversations: dict[int, Conversation],
    new: dict[int, list[InboundMessage]],
    enrichment: dict[str, Enrichment],
    now: dt.datetime,
) -> None:
    """The workspace's rules (see :mod:`dialogo.inbox.rules` for the order) on each
    conversation that got new messages."""
    found = list(
        session.scalars(
            select(InboxRule).where(
                InboxRule.workspace_id == channel.workspace_id, InboxRule.enabled.is_(True)
            )
        )
    )
    if not found:
        return
    compiled = [rules.Rule(r.id, r.position, r.conditions, r.actions, r.stop) for r in found]
    may_reply = {
        user_id
        for user_id, role in session.execute(
            select(Membership.user_id, Membership.role).where(
                Membership.workspace_id == channel.workspace_id
            )
        )
        if role_allows(Role(role), Permission.inbox_reply)
    }
    settings: InboxSettings | None = None
    for conversation_id, messages in new.items():
        facts = [
            rules.Facts(
                channel_id=channel.id,
                kind=str(m.kind),
                language=enrichment[m.remote_id].language or m.language,
                text=m.text,
                sentiment=enrichment[m.remote_id].sentiment,
                followers=m.author.followers,
                is_question=enrichment[m.remote_id].is_question,
                is_complaint=enrichment[m.remote_id].is_complaint,
            )
            for m in messages
        ]
        outcome = rules.evaluate(compiled, facts)
        if not outcome.matched:
            continue
        conversation = conversations[conversation_id]
        for tag in outcome.tags:
            session.execute(
                _insert(session, ConversationTag.__table__)
                .values(conversation_id=conversation_id, tag=tag[:60].lower())
                .on_conflict_do_nothing(index_elements=["conversation_id", "tag"])
            )
        if outcome.assign_to is not None and outcome.assign_to in may_reply:
            conversation.assignee_id = outcome.assign_to
        if outcome.priority:
            conversation.priority += outcome.priority
            reasons = list(conversation.priority_reasons or [])
            if "rule" not in reasons:
                conversation.priority_reasons = [*reasons, "rule"]
        if outcome.close:
            conversation.status = ConversationStatus.closed.value
            conversation.resolved_at = now
            conversation.waiting_since = None
        if outcome.acknowledge is not None:
            # Imported here: acknowledge → replies → ingest (replies reuses ``_insert``).
            from dialogo.inbox import acknowledge

            if settings is None:
                settings = session.get(InboxSettings, channel.workspace_id) or InboxSettings(
                    workspace_id=channel.workspace_id, auto_ack_enabled=False
                )
            acknowledge.queue(session, conversation, outcome.acknowledge, settings)


def reference_of(message: InboundMessage) -> dict[str, str]:
    """The string values of the raw item: what a provider needs to answer it (a Bluesky
    CID and root, a Matrix room id)."""
    raw = message.raw or {}
    return {
        k: v for k, v in raw.items() if isinstance(k, str) and isinstance(v, str) and len(v) < 2000
    }


def _roll_up(
    conversation: Conversation,
    new: Sequence[InboundMessage],
    enrichment: dict[str, Enrichment],
    now: dt.datetime,
) -> None:
    """Update a (locked) conversation with the messages this call inserted."""
    ordered = sorted(new, key=lambda m: m.created_at)
    first, last = ordered[0], ordered[-1]
    conversation.message_count += len(ordered)
    if conversation.first_message_at is None or first.created_at < conversation.first_message_at:
        conversation.first_message_at = first.created_at
    if conversation.last_message_at is None or last.created_at >= conversation.last_message_at:
        conversation.last_message_at = last.created_at
        conversation.preview = last.text[:PREVIEW]
    if conversation.last_inbound_at is None or last.created_at > conversation.last_inbound_at:
        conversation.last_inbound_at = last.created_at
    if conversation.waiting_since is None:
        conversation.waiting_since = first.created_at
    if conversation.status in (ConversationStatus.closed.value, ConversationStatus.pending.value):
        conversation.status = ConversationStatus.open.value  # the customer wrote again
        conversation.resolved_at = None
    elif conversation.status == ConversationStatus.snoozed.value:
        conversation.status = ConversationStatus.open.value
        conversation.snoozed_until = None
    current = set(conversation.priority_reasons or [])
    base = content_priority(
        is_question=any(enrichment[m.remote_id].is_question for m in ordered),
        is_complaint=any(enrichment[m.remote_id].is_complaint for m in ordered),
        sentiment=min(
            (s for m in ordered if (s := enrichment[m.remote_id].sentiment) is not None),
            default=None,
        ),
        followers=max((m.author.followers or 0 for m in ordered), default=None),
    )
    if set(base.reasons) - current or not current:
        merged = sorted(current | set(base.reasons))
        conversation.priority_reasons = merged
        conversation.priority = max(conversation.priority, base.score)
    conversation.updated_at = now


# --- the cursor ---------------------------------------------------------------------------------


def cursor_of(session: Session, channel_id: int, *, now: dt.datetime | None = None) -> IngestCursor:
    row = session.get(IngestCursor, channel_id)
    if row is None:
        stmt: Insert = (
            _insert(session, IngestCursor)
            .values(channel_id=channel_id, messages_total=0, updated_at=now or utcnow())
            .on_conflict_do_nothing(index_elements=["channel_id"])
        )
        session.execute(stmt)
        row = session.get(IngestCursor, channel_id, populate_existing=True)
    assert row is not None
    return row


def advance_cursor(
    session: Session,
    channel_id: int,
    *,
    previous: str | None,
    new: str | None,
    stored: int,
    now: dt.datetime,
) -> bool:
    """Move the cursor from ``previous`` to ``new`` unless another run moved it meanwhile
    (then its rows are deduplicated against ours and its cursor stays)."""
    condition = (
        IngestCursor.cursor.is_(None) if previous is None else IngestCursor.cursor == previous
    )
    result = session.execute(
        update(IngestCursor)
        .where(IngestCursor.channel_id == channel_id, condition)
        .values(
            cursor=new,
            last_run_at=now,
            last_error=None,
            messages_total=IngestCursor.messages_total + stored,
            updated_at=now,
        )
        .execution_options(synchronize_session=False)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


def store_page(
    session: Session,
    channel: Channel,
    page: MessagePage,
    *,
    previous: str | None,
    now: dt.datetime,
    analyser: Analyser | None = None,
) -> IngestReport:
    """A fetched page and its cursor, in the caller's unit of work."""
    report = store_messages(session, channel, page.messages, now=now, analyser=analyser)
    if page.cursor is not None:
        advance_cursor(
            session, channel.id, previous=previous, new=page.cursor, stored=report.stored, now=now
        )
    session.flush()
    return report
