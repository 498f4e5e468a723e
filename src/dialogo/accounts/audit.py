"""The audit log: every write to an audited row is recorded with who, what, when, before/after.

Recording happens in a session ``after_flush`` hook, so no service can forget it. The boundary
says who is acting by calling :func:`set_actor` on its session.
"""

from __future__ import annotations

import base64
import dataclasses
import datetime as dt
import enum
from typing import Any

from sqlalchemy import event, insert, inspect
from sqlalchemy.orm import Session

from dialogo.accounts.models import Audited, AuditEntry
from dialogo.core.clock import utcnow

_ACTOR_KEY = "dialogo.actor"


@dataclasses.dataclass(frozen=True)
class Actor:
    label: str
    user_id: int | None = None
    token_id: int | None = None


SYSTEM = Actor(label="system")


def set_actor(session: Session, actor: Actor) -> None:
    session.info[_ACTOR_KEY] = actor


def get_actor(session: Session) -> Actor:
    actor = session.info.get(_ACTOR_KEY)
    return actor if isinstance(actor, Actor) else SYSTEM


def _jsonable(value: Any) -> Any:
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, bytes):
        return base64.b64encode(value[:64]).decode() + ("…" if len(value) > 64 else "")
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    return value


def _columns(obj: Audited) -> list[str]:
    mapper = inspect(type(obj))
    return [c.key for c in mapper.column_attrs if c.key not in type(obj).__audit_exclude__]


def _snapshot(obj: Audited) -> dict[str, Any]:
    return {key: _jsonable(getattr(obj, key)) for key in _columns(obj)}


def _changes(obj: Audited) -> tuple[dict[str, Any], dict[str, Any]]:
    state = inspect(obj)
    before: dict[str, Any] = {}
    after: dict[str, Any] = {}
    for key in _columns(obj):
        history = state.attrs[key].history
        if history.has_changes():
            before[key] = _jsonable(history.deleted[0]) if history.deleted else None
            after[key] = _jsonable(history.added[0]) if history.added else None
    return before, after


def _entry(obj: Audited, action: str, before: Any, after: Any, actor: Actor) -> dict[str, Any]:
    # Not ``InstanceState.identity``: in ``after_flush`` a new row has its key but no identity yet.
    identity = inspect(type(obj)).primary_key_from_instance(obj)
    entity_id = ",".join(str(i) for i in identity) if None not in identity else None
    return {
        "workspace_id": obj.audit_workspace_id(),
        "actor_user_id": actor.user_id,
        "actor_token_id": actor.token_id,
        "actor_label": actor.label,
        "action": action,
        "entity_type": type(obj).__tablename__,  # type: ignore[attr-defined]
        "entity_id": entity_id,
        "before": before,
        "after": after,
        "at": utcnow(),
    }


def _after_flush(session: Session, _context: Any) -> None:
    actor = get_actor(session)
    rows: list[dict[str, Any]] = []
    for obj in session.new:
        if isinstance(obj, Audited):
            rows.append(_entry(obj, "create", None, _snapshot(obj), actor))
    for obj in session.dirty:
        if isinstance(obj, Audited) and session.is_modified(obj, include_collections=False):
            before, after = _changes(obj)
            if after:
                rows.append(_entry(obj, "update", before, after, actor))
    for obj in session.deleted:
        if isinstance(obj, Audited):
            rows.append(_entry(obj, "delete", _snapshot(obj), None, actor))
    if rows:
        session.connection().execute(insert(AuditEntry), rows)


def record(
    session: Session,
    action: str,
    *,
    entity_type: str,
    entity_id: str | None = None,
    workspace_id: int | None = None,
    details: dict[str, Any] | None = None,
) -> None:
    """Record an event that is not a row change (a login, a revoked session, an export)."""
    actor = get_actor(session)
    session.add(
        AuditEntry(
            workspace_id=workspace_id,
            actor_user_id=actor.user_id,
            actor_token_id=actor.token_id,
            actor_label=actor.label,
            action=action,
            entity_type=entity_type,
            entity_id=entity_id,
            after=details,
        )
    )


def install(session_class: type[Session] = Session) -> None:
    """Register the hook once for every session of this class."""
    if not event.contains(session_class, "after_flush", _after_flush):
        event.listen(session_class, "after_flush", _after_flush)
