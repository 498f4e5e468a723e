"""The audit hook records every write to an audited row, whoever the service is called by."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from dialogo.accounts import service as accounts
from dialogo.accounts.audit import Actor, get_actor, record, set_actor
from dialogo.accounts.models import AuditEntry, LoginAttempt, Workspace
from dialogo.accounts.schemas import WorkspaceUpdate
from dialogo.accounts.tasks import purge_expired
from dialogo.core.clock import FrozenClock
from dialogo.jobs.registry import JobContext
from tests.factories import make_user, make_workspace

pytestmark = pytest.mark.usefixtures("cheap_hashing")


def log_of(db: Session, entity_type: str, entity_id: int) -> list[tuple[str, Any, Any, str]]:
    rows = db.scalars(
        select(AuditEntry)
        .where(AuditEntry.entity_type == entity_type, AuditEntry.entity_id == str(entity_id))
        .order_by(AuditEntry.id)
    )
    return [(e.action, e.before, e.after, e.actor_label) for e in rows]


def test_without_an_actor_the_system_is_named(db: Session) -> None:
    assert get_actor(db).label == "system"
    user = make_user(db)
    [(action, before, after, label)] = log_of(db, "users", user.id)
    assert (action, before, label) == ("create", None, "system")
    assert after["email"] == user.email
    assert "password_hash" not in after


def test_create_update_delete(db: Session) -> None:
    owner = make_user(db)
    set_actor(db, Actor(label="tester", user_id=owner.id))
    workspace = make_workspace(db, owner, "Before")
    principal = accounts.Principal.for_user(owner)
    accounts.update_workspace(db, principal, workspace.id, WorkspaceUpdate(name="Before"))
    accounts.update_workspace(db, principal, workspace.id, WorkspaceUpdate(name="After"))
    accounts.delete_workspace(db, principal, workspace.id)

    log = log_of(db, "workspaces", workspace.id)
    assert [a for a, *_ in log] == ["create", "update", "delete"], "a no-op update is not logged"
    assert log[1][1:3] == ({"name": "Before"}, {"name": "After"})
    assert log[2][1]["name"] == "After"
    assert log[2][2] is None
    assert {label for *_, label in log} == {"tester"}
    # The record outlives the row it describes.
    assert db.get(Workspace, workspace.id) is None


def test_record_events(db: Session) -> None:
    set_actor(db, Actor(label="cli"))
    record(db, "exported", entity_type="contacts", entity_id="7", details={"rows": 3})
    db.flush()
    entry = db.scalars(select(AuditEntry).where(AuditEntry.action == "exported")).one()
    assert (entry.actor_label, entry.entity_id, entry.after) == ("cli", "7", {"rows": 3})


def test_purge_expired_sessions_and_attempts(db: Session, ctx: Any) -> None:
    user = make_user(db)
    clock = FrozenClock(dt.datetime.now(dt.UTC) + dt.timedelta(days=2))
    old, _ = accounts.create_web_session(db, user, ttl=dt.timedelta(hours=1))
    fresh, _ = accounts.create_web_session(db, user, ttl=dt.timedelta(days=30))
    accounts.authenticate(db, user.email, "wrong password")
    db.flush()
    job = JobContext(
        session=db, settings=ctx.settings, clock=clock, job_id=1, attempt=1, workspace_id=None
    )
    result = purge_expired(job, {})
    assert result["sessions"] >= 1
    assert result["attempts"] >= 1
    assert accounts.resolve_web_session(db, old) is None
    assert accounts.resolve_web_session(db, fresh) is not None
    assert db.scalars(select(LoginAttempt).where(LoginAttempt.email == user.email)).all() == []
