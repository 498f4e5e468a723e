"""Row factories for tests: they go through the services, as the application does."""

from __future__ import annotations

import secrets

from sqlalchemy.orm import Session

from dialogo.accounts import service as accounts
from dialogo.accounts.models import User, Workspace
from dialogo.accounts.permissions import Role
from dialogo.accounts.schemas import MemberAdd, UserCreate, WorkspaceCreate

PASSWORD = "correct horse battery"


def make_user(
    session: Session, *, email: str | None = None, superuser: bool = False, language: str = "en"
) -> User:
    return accounts.create_user(
        session,
        UserCreate(
            email=email or f"u-{secrets.token_hex(4)}@example.com",
            password=PASSWORD,
            name="Test User",
            language=language,
            is_superuser=superuser,
        ),
    )


def make_workspace(session: Session, owner: User, name: str = "Brand") -> Workspace:
    return accounts.create_workspace(
        session, accounts.Principal.for_user(owner), WorkspaceCreate(name=name)
    )


def add_member(session: Session, workspace: Workspace, owner: User, role: Role) -> User:
    user = make_user(session)
    accounts.add_member(
        session,
        accounts.Principal.for_user(owner),
        workspace.id,
        MemberAdd(email=user.email, role=role),
    )
    return user
