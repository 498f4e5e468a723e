"""Every write through the API leaves an audit entry: who, what, before and after; no secrets."""

from __future__ import annotations

import json
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from dialogo.accounts.models import ApiToken, AuditEntry, User, WebSession
from tests.accounts.helpers import png_bytes
from tests.api.conftest import Api, Auth, session_auth, token_auth
from tests.factories import PASSWORD, make_user

NEW_PASSWORD = "another long passphrase"
CREATED_PASSWORD = "created user passphrase"


def entries(db: Session, entity_type: str, entity_id: int | str, action: str) -> list[AuditEntry]:
    db.expire_all()
    return list(
        db.scalars(
            select(AuditEntry)
            .where(
                AuditEntry.entity_type == entity_type,
                AuditEntry.entity_id == str(entity_id),
                AuditEntry.action == action,
            )
            .order_by(AuditEntry.id)
        )
    )


def one(db: Session, entity_type: str, entity_id: int | str, action: str) -> AuditEntry:
    found = entries(db, entity_type, entity_id, action)
    assert len(found) == 1, (entity_type, entity_id, action, found)
    return found[0]


def assert_actor(entry: AuditEntry, user: User, token_id: int | None = None) -> None:
    assert entry.actor_user_id == user.id
    assert entry.actor_token_id == token_id
    assert user.email in entry.actor_label
    assert entry.at is not None


class Scenario:
    """An instance administrator doing every kind of write through the API."""

    def __init__(self, api: Api, db: Session) -> None:
        self.api, self.db = api, db
        self.admin = make_user(db, superuser=True)
        self.auth: Auth = session_auth(db, self.admin)
        db.commit()
        self.plain_tokens: list[str] = []

    def ok(self, method: str, url: str, status: int, **kwargs: Any) -> Any:
        response = self.api.request(method, url, auth=self.auth, **kwargs)
        assert response.status_code == status, response.text
        return response.json() if response.content else None


@pytest.fixture
def scenario(api: Api, db: Session) -> Scenario:
    return Scenario(api, db)


def test_create_user(scenario: Scenario, db: Session) -> None:
    user = scenario.ok(
        "POST",
        "/api/v1/users",
        201,
        json={"email": "new@example.com", "password": CREATED_PASSWORD},
    )
    entry = one(db, "users", user["id"], "create")
    assert_actor(entry, scenario.admin)
    assert entry.before is None
    assert entry.after is not None
    assert entry.after["email"] == "new@example.com"
    assert "password_hash" not in entry.after


def test_create_and_update_workspace(scenario: Scenario, db: Session) -> None:
    ws = scenario.ok("POST", "/api/v1/workspaces", 201, json={"name": "Caffè Aurora"})
    entry = one(db, "workspaces", ws["id"], "create")
    assert_actor(entry, scenario.admin)
    assert entry.workspace_id == ws["id"]
    assert entry.after is not None
    assert entry.after["name"] == "Caffè Aurora"
    assert entry.after["slug"] == ws["slug"]
    owner_membership = db.scalars(
        select(AuditEntry).where(
            AuditEntry.entity_type == "memberships",
            AuditEntry.workspace_id == ws["id"],
            AuditEntry.action == "create",
        )
    ).one()
    assert owner_membership.after is not None
    assert owner_membership.after["role"] == "owner"

    scenario.ok(
        "PATCH",
        f"/api/v1/workspaces/{ws['id']}",
        200,
        json={"name": "Aurora", "timezone": "Europe/London"},
    )
    [entry] = entries(db, "workspaces", ws["id"], "update")
    assert_actor(entry, scenario.admin)
    assert entry.before == {"name": "Caffè Aurora", "timezone": "Europe/Rome"}
    assert entry.after == {"name": "Aurora", "timezone": "Europe/London"}

    scenario.ok(
        "PUT",
        f"/api/v1/workspaces/{ws['id']}/logo",
        200,
        files={"file": ("logo.png", png_bytes(), "image/png")},
    )
    entry = one(db, "workspaces", ws["id"], "logo_changed")
    assert_actor(entry, scenario.admin)
    assert entry.after == {"bytes": len(png_bytes()), "content_type": "image/png"}

    content_type = entries(db, "workspaces", ws["id"], "update")[-1]
    assert (content_type.before, content_type.after) == (
        {"logo_content_type": None},
        {"logo_content_type": "image/png"},
    )

    # The workspace's own audit log lists all of it, newest first.
    listed = scenario.ok("GET", f"/api/v1/workspaces/{ws['id']}/audit", 200)
    assert sorted((e["entity_type"], e["action"]) for e in listed) == [
        ("memberships", "create"),
        ("workspaces", "create"),
        ("workspaces", "logo_changed"),
        ("workspaces", "update"),
        ("workspaces", "update"),
    ]
    assert [e["id"] for e in listed] == sorted((e["id"] for e in listed), reverse=True)
    assert listed[-1]["action"] == "create"


def test_add_change_remove_member(scenario: Scenario, db: Session) -> None:
    ws = scenario.ok("POST", "/api/v1/workspaces", 201, json={"name": "Brand"})
    someone = make_user(db)
    db.commit()
    members = f"/api/v1/workspaces/{ws['id']}/members"

    member = scenario.ok("POST", members, 201, json={"email": someone.email, "role": "viewer"})
    entry = one(db, "memberships", member["id"], "create")
    assert_actor(entry, scenario.admin)
    assert entry.workspace_id == ws["id"]
    assert entry.after is not None
    assert (entry.after["user_id"], entry.after["role"]) == (someone.id, "viewer")

    scenario.ok("PATCH", f"{members}/{member['id']}", 200, json={"role": "editor"})
    entry = one(db, "memberships", member["id"], "update")
    assert_actor(entry, scenario.admin)
    assert (entry.before, entry.after) == ({"role": "viewer"}, {"role": "editor"})

    scenario.ok("DELETE", f"{members}/{member['id']}", 204)
    entry = one(db, "memberships", member["id"], "delete")
    assert_actor(entry, scenario.admin)
    assert entry.after is None
    assert entry.before is not None
    assert (entry.before["user_id"], entry.before["role"]) == (someone.id, "editor")


def test_create_and_revoke_token(scenario: Scenario, db: Session) -> None:
    created = scenario.ok("POST", "/api/v1/tokens", 201, json={"name": "ci", "scopes": ["read"]})
    scenario.plain_tokens.append(created["token"])
    entry = one(db, "api_tokens", created["id"], "create")
    assert_actor(entry, scenario.admin)
    assert entry.after is not None
    assert (entry.after["name"], entry.after["scopes"]) == ("ci", ["read"])
    assert "token_hash" not in entry.after

    scenario.ok("DELETE", f"/api/v1/tokens/{created['id']}", 204)
    entry = one(db, "api_tokens", created["id"], "update")
    assert_actor(entry, scenario.admin)
    assert entry.before == {"revoked_at": None}
    assert entry.after is not None
    assert set(entry.after) == {"revoked_at"}
    assert entry.after["revoked_at"]


def test_writes_through_a_token_name_the_token(api: Api, db: Session) -> None:
    user = make_user(db)
    auth, token_id, _ = token_auth(db, user, ["admin"])
    db.commit()
    response = api.post("/api/v1/workspaces", json={"name": "Via token"}, auth=auth)
    assert response.status_code == 201, response.text
    entry = one(db, "workspaces", response.json()["id"], "create")
    assert_actor(entry, user, token_id)
    assert f"token {token_id}" in entry.actor_label


def test_profile_and_password_changes(scenario: Scenario, db: Session) -> None:
    scenario.ok("PATCH", "/api/v1/me", 200, json={"name": "Ada", "language": "it"})
    entry = one(db, "users", scenario.admin.id, "update")
    assert_actor(entry, scenario.admin)
    assert entry.after == {"name": "Ada", "language": "it"}

    scenario.ok(
        "POST",
        "/api/v1/me/password",
        204,
        json={"current_password": PASSWORD, "new_password": NEW_PASSWORD},
    )
    assert_actor(one(db, "users", scenario.admin.id, "password_changed"), scenario.admin)
    # The hash changed, but no "update" entry carries it.
    assert len(entries(db, "users", scenario.admin.id, "update")) == 1


def test_no_secret_ever_reaches_the_audit_log(scenario: Scenario, api: Api, db: Session) -> None:
    """Run every kind of write, then search the whole log for hashes, tokens and passwords."""
    test_create_user(scenario, db)
    test_create_and_update_workspace(scenario, db)
    test_add_change_remove_member(scenario, db)
    test_create_and_revoke_token(scenario, db)
    test_profile_and_password_changes(scenario, db)
    response = api.post(
        "/api/v1/auth/session", json={"email": scenario.admin.email, "password": NEW_PASSWORD}
    )
    assert response.status_code == 200

    db.expire_all()
    log = json.dumps(
        [
            {c.key: getattr(e, c.key) for c in AuditEntry.__table__.columns}
            for e in db.scalars(select(AuditEntry))
        ],
        default=str,
        ensure_ascii=False,
    )
    secrets = (
        [u.password_hash for u in db.scalars(select(User))]
        + [t.token_hash for t in db.scalars(select(ApiToken))]
        + [s.token_hash for s in db.scalars(select(WebSession))]
        + [s.csrf_token for s in db.scalars(select(WebSession))]
        + scenario.plain_tokens
        + [PASSWORD, NEW_PASSWORD, CREATED_PASSWORD]
    )
    assert len(secrets) >= 10
    assert "$argon2" not in log
    assert "password_hash" not in log
    assert "token_hash" not in log
    for secret in secrets:
        assert secret not in log
