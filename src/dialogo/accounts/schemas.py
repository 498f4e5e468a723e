"""Pydantic models in and out of the accounts domain."""

from __future__ import annotations

import datetime as dt
import re
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints

from dialogo.accounts.permissions import Permission, Role, Scope
from dialogo.core.clock import validate_timezone

EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$|^[^@\s]+@localhost$|^[^@\s]+@[^@\s.]+\.local$")
LANGUAGES = ("en", "it")


def _email(value: str) -> str:
    value = value.strip().lower()
    if not EMAIL_RE.match(value):
        raise ValueError("not a valid e-mail address")
    return value


def _language(value: str) -> str:
    if value not in LANGUAGES:
        raise ValueError(f"language must be one of {', '.join(LANGUAGES)}")
    return value


Email = Annotated[str, StringConstraints(max_length=320), AfterValidator(_email)]
Language = Annotated[str, AfterValidator(_language)]
TimeZone = Annotated[str, AfterValidator(validate_timezone)]
Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
Password = Annotated[str, StringConstraints(min_length=10, max_length=1024)]


class Out(BaseModel):
    model_config = ConfigDict(from_attributes=True)


class UserCreate(BaseModel):
    email: Email
    password: Password
    name: str = Field(default="", max_length=200)
    language: Language = "en"
    is_superuser: bool = False


class UserUpdate(BaseModel):
    name: str | None = Field(default=None, max_length=200)
    language: Language | None = None


class PasswordChange(BaseModel):
    current_password: str
    new_password: Password


class UserOut(Out):
    id: int
    email: str
    name: str
    language: str
    is_active: bool
    is_superuser: bool
    created_at: dt.datetime


class WorkspaceCreate(BaseModel):
    name: Name
    slug: Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9-]{1,78}$")] | None = None
    timezone: TimeZone = "Europe/Rome"
    language: Language = "it"


class WorkspaceUpdate(BaseModel):
    name: Name | None = None
    timezone: TimeZone | None = None
    language: Language | None = None


class WorkspaceOut(Out):
    id: int
    name: str
    slug: str
    timezone: str
    language: str
    has_logo: bool = False
    created_at: dt.datetime


class MembershipOut(BaseModel):
    workspace: WorkspaceOut
    role: Role
    permissions: list[Permission]


class MemberAdd(BaseModel):
    email: Email
    role: Role


class MemberUpdate(BaseModel):
    role: Role


class MemberOut(BaseModel):
    id: int
    user_id: int
    email: str
    name: str
    role: Role
    created_at: dt.datetime


class TokenCreate(BaseModel):
    name: Name
    scopes: list[Scope] = Field(min_length=1)
    workspace_id: int | None = None
    expires_in_days: int | None = Field(default=90, ge=1, le=3650)


class TokenOut(Out):
    id: int
    name: str
    prefix: str
    scopes: list[Scope]
    workspace_id: int | None
    created_at: dt.datetime
    expires_at: dt.datetime | None
    last_used_at: dt.datetime | None
    revoked_at: dt.datetime | None


class TokenCreated(TokenOut):
    token: str = Field(description="Shown once: store it now, it cannot be read again.")


class AuditEntryOut(Out):
    id: int
    workspace_id: int | None
    actor_user_id: int | None
    actor_token_id: int | None
    actor_label: str
    action: str
    entity_type: str
    entity_id: str | None
    before: dict[str, object] | None
    after: dict[str, object] | None
    at: dt.datetime
