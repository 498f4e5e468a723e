"""Accounts service: users, sign-in, workspaces, memberships, tokens and the audit log.

Every function takes the session and, where it acts for someone, the ``Principal``; it checks
permissions itself, flushes, and leaves the commit to the boundary.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
import unicodedata

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from dialogo.accounts import security
from dialogo.accounts.audit import Actor, record
from dialogo.accounts.models import (
    ApiToken,
    AuditEntry,
    LoginAttempt,
    Membership,
    User,
    WebSession,
    Workspace,
)
from dialogo.accounts.permissions import (
    GRANTABLE,
    MATRIX,
    Permission,
    Role,
    Scope,
    role_allows,
    scopes_allow,
)
from dialogo.accounts.schemas import (
    MemberAdd,
    MemberOut,
    PasswordChange,
    TokenCreate,
    UserCreate,
    UserUpdate,
    WorkspaceCreate,
    WorkspaceUpdate,
)
from dialogo.core.clock import ensure_aware, utcnow
from dialogo.core.errors import (
    AuthenticationFailed,
    Conflict,
    InvalidInput,
    NotFound,
    PermissionDenied,
    TooManyAttempts,
)

ALL_SCOPES = frozenset(Scope)
MAX_LOGO_BYTES = 512 * 1024
LOGO_TYPES = {"image/png", "image/jpeg", "image/webp", "image/svg+xml", "image/gif"}


def _logo_matches(content: bytes, content_type: str) -> bool:
    """Whether the bytes are what the declared type says (the declared type is the client's)."""
    if content_type == "image/png":
        return content.startswith(b"\x89PNG\r\n\x1a\n")
    if content_type == "image/jpeg":
        return content.startswith(b"\xff\xd8\xff")
    if content_type == "image/gif":
        return content.startswith((b"GIF87a", b"GIF89a"))
    if content_type == "image/webp":
        return content[:4] == b"RIFF" and content[8:12] == b"WEBP"
    if content_type == "image/svg+xml":
        return b"<svg" in content[:4096].lower()
    return False


@dataclasses.dataclass(frozen=True)
class Principal:
    """Who is acting: a signed-in user, or a user through one of their API tokens."""

    user_id: int
    label: str
    is_superuser: bool = False
    token_id: int | None = None
    scopes: frozenset[Scope] = ALL_SCOPES
    token_workspace_id: int | None = None

    @property
    def actor(self) -> Actor:
        label = self.label if self.token_id is None else f"{self.label} (token {self.token_id})"
        return Actor(label=label, user_id=self.user_id, token_id=self.token_id)

    @classmethod
    def for_user(cls, user: User) -> Principal:
        return cls(user_id=user.id, label=user.email, is_superuser=user.is_superuser)


# --- users -----------------------------------------------------------------------------------


def create_user(session: Session, data: UserCreate) -> User:
    if session.scalar(select(User.id).where(User.email == data.email)) is not None:
        raise Conflict(f"a user with e-mail {data.email} already exists", code="email_taken")
    user = User(
        email=data.email,
        name=data.name,
        password_hash=security.hash_password(data.password),
        language=data.language,
        is_superuser=data.is_superuser,
    )
    session.add(user)
    session.flush()
    return user


def require_superuser(principal: Principal) -> None:
    if not principal.is_superuser or not scopes_allow(principal.scopes, Permission.members_manage):
        raise PermissionDenied("only an instance administrator can do this")
    _require_unrestricted(principal)


def create_user_as(session: Session, principal: Principal, data: UserCreate) -> User:
    require_superuser(principal)
    return create_user(session, data)


def count_users(session: Session) -> int:
    return int(session.scalar(select(func.count(User.id))) or 0)


def get_user(session: Session, user_id: int) -> User:
    user = session.get(User, user_id)
    if user is None:
        raise NotFound("user not found")
    return user


def get_user_by_email(session: Session, email: str) -> User | None:
    return session.scalar(select(User).where(User.email == email.strip().lower()))


def update_user(session: Session, principal: Principal, data: UserUpdate) -> User:
    _require_scope(principal, Scope.write)
    user = get_user(session, principal.user_id)
    for key, value in data.model_dump(exclude_unset=True, exclude_none=True).items():
        setattr(user, key, value)
    session.flush()
    return user


def change_password(session: Session, principal: Principal, data: PasswordChange) -> None:
    _require_scope(principal, Scope.admin)
    user = get_user(session, principal.user_id)
    if not security.verify_password(user.password_hash, data.current_password):
        raise AuthenticationFailed("the current password is wrong", code="wrong_password")
    user.password_hash = security.hash_password(data.new_password)
    # Signing in again everywhere is the point of changing a password.
    session.execute(delete(WebSession).where(WebSession.user_id == user.id))
    record(session, "password_changed", entity_type="users", entity_id=str(user.id))
    session.flush()


def _require_unrestricted(principal: Principal) -> None:
    """Refuse instance-wide actions to a token restricted to one workspace."""
    if principal.token_workspace_id is not None:
        raise PermissionDenied(
            f"this token is restricted to workspace {principal.token_workspace_id}"
        )


def _require_scope(principal: Principal, scope: Scope) -> None:
    if Scope.admin in principal.scopes or scope in principal.scopes:
        return
    if scope is Scope.read and Scope.write in principal.scopes:
        return
    raise PermissionDenied(f"this token lacks the {scope.value!r} scope")


# --- sign-in ---------------------------------------------------------------------------------


def check_login_allowed(
    session: Session,
    email: str,
    *,
    max_failures: int,
    window: dt.timedelta,
    now: dt.datetime | None = None,
) -> None:
    """Refuse a sign-in once an e-mail has failed too often in the window (brute force)."""
    now = now or utcnow()
    since = now - window
    failures = list(
        session.scalars(
            select(LoginAttempt.at)
            .where(
                LoginAttempt.email == email.strip().lower(),
                LoginAttempt.succeeded.is_(False),
                LoginAttempt.at > since,
            )
            .order_by(LoginAttempt.at.desc())
            .limit(max_failures)
        )
    )
    if len(failures) >= max_failures:
        oldest = ensure_aware(failures[-1])
        retry_after = max(1, int((oldest + window - now).total_seconds()) + 1)
        raise TooManyAttempts(
            f"too many failed sign-ins for this account; try again in {retry_after} seconds",
            retry_after=retry_after,
        )


def authenticate(
    session: Session,
    email: str,
    password: str,
    *,
    ip: str | None = None,
    now: dt.datetime | None = None,
) -> User | None:
    """Check e-mail and password and record the attempt; ``None`` when they do not match.

    The boundary must commit even when this returns ``None``: the failure counts.
    """
    email = email.strip().lower()
    user = get_user_by_email(session, email)
    ok = security.verify_password(user.password_hash if user else None, password)
    ok = ok and user is not None and user.is_active
    session.add(LoginAttempt(email=email, ip=ip, succeeded=ok, at=now or utcnow()))
    if ok and user is not None:
        if security.needs_rehash(user.password_hash):
            user.password_hash = security.hash_password(password)
        user.last_login_at = now or utcnow()
        session.flush()
        return user
    session.flush()
    return None


def create_web_session(
    session: Session,
    user: User,
    *,
    ttl: dt.timedelta,
    ip: str | None = None,
    user_agent: str | None = None,
) -> tuple[str, WebSession]:
    token, token_hash = security.new_session_token()
    web_session = WebSession(
        user_id=user.id,
        token_hash=token_hash,
        csrf_token=security.new_csrf_token(),
        expires_at=utcnow() + ttl,
        ip=ip,
        user_agent=(user_agent or "")[:300] or None,
    )
    session.add(web_session)
    session.flush()
    return token, web_session


def resolve_web_session(
    session: Session, token: str, *, now: dt.datetime | None = None
) -> tuple[User, WebSession] | None:
    web_session = session.scalar(
        select(WebSession).where(WebSession.token_hash == security.hash_token(token))
    )
    if web_session is None or ensure_aware(web_session.expires_at) <= (now or utcnow()):
        return None
    user = session.get(User, web_session.user_id)
    if user is None or not user.is_active:
        return None
    return user, web_session


def end_web_session(session: Session, token: str) -> None:
    session.execute(delete(WebSession).where(WebSession.token_hash == security.hash_token(token)))


# --- API tokens ------------------------------------------------------------------------------


def create_api_token(
    session: Session, principal: Principal, data: TokenCreate
) -> tuple[str, ApiToken]:
    if principal.token_id is not None:
        raise PermissionDenied("API tokens cannot create other tokens; sign in to do this")
    if data.workspace_id is not None:
        _membership(session, principal, data.workspace_id)
    token, prefix, token_hash = security.new_api_token()
    expires_at = (
        utcnow() + dt.timedelta(days=data.expires_in_days) if data.expires_in_days else None
    )
    row = ApiToken(
        user_id=principal.user_id,
        workspace_id=data.workspace_id,
        name=data.name,
        prefix=prefix,
        token_hash=token_hash,
        scopes=sorted({s.value for s in data.scopes}),
        expires_at=expires_at,
    )
    session.add(row)
    session.flush()
    return token, row


def list_api_tokens(session: Session, principal: Principal) -> list[ApiToken]:
    return list(
        session.scalars(
            select(ApiToken).where(ApiToken.user_id == principal.user_id).order_by(ApiToken.id)
        )
    )


def revoke_api_token(session: Session, principal: Principal, token_id: int) -> ApiToken:
    _require_scope(principal, Scope.admin)  # managing tokens is account administration
    row = session.get(ApiToken, token_id)
    if row is None or row.user_id != principal.user_id:
        raise NotFound("token not found")
    if row.revoked_at is None:
        row.revoked_at = utcnow()
        session.flush()
    return row


def resolve_api_token(
    session: Session, token: str, *, now: dt.datetime | None = None
) -> Principal | None:
    if not token.startswith(security.TOKEN_PREFIX):
        return None
    now = now or utcnow()
    row = session.scalar(select(ApiToken).where(ApiToken.token_hash == security.hash_token(token)))
    if row is None or row.revoked_at is not None:
        return None
    if row.expires_at is not None and ensure_aware(row.expires_at) <= now:
        return None
    user = session.get(User, row.user_id)
    if user is None or not user.is_active:
        return None
    last = ensure_aware(row.last_used_at) if row.last_used_at else None
    if last is None or now - last > dt.timedelta(minutes=1):
        row.last_used_at = now  # excluded from the audit log; coarse to spare writes
    return Principal(
        user_id=user.id,
        label=user.email,
        is_superuser=user.is_superuser,
        token_id=row.id,
        scopes=frozenset(Scope(s) for s in row.scopes),
        token_workspace_id=row.workspace_id,
    )


# --- workspaces and authorisation ------------------------------------------------------------


def _membership(session: Session, principal: Principal, workspace_id: int) -> Membership:
    """The principal's membership, or NotFound: another brand's data is not even acknowledged."""
    if principal.token_workspace_id is not None and principal.token_workspace_id != workspace_id:
        raise NotFound("workspace not found")
    membership = session.scalar(
        select(Membership).where(
            Membership.workspace_id == workspace_id, Membership.user_id == principal.user_id
        )
    )
    if membership is None:
        raise NotFound("workspace not found")
    return membership


def authorize(
    session: Session, principal: Principal, workspace_id: int, permission: Permission
) -> Membership:
    """Check that the principal may do ``permission`` in the workspace; return the membership."""
    membership = _membership(session, principal, workspace_id)
    role = Role(membership.role)
    if not role_allows(role, permission):
        raise PermissionDenied(
            f"your role ({role.value}) does not allow {permission.value}",
            permission=permission.value,
        )
    if not scopes_allow(principal.scopes, permission):
        raise PermissionDenied(
            f"this token's scopes do not allow {permission.value}", permission=permission.value
        )
    return membership


def permissions_of(role: Role) -> list[Permission]:
    return sorted(MATRIX[role], key=lambda p: p.value)


_SLUG_STRIP = re.compile(r"[^a-z0-9]+")


def slugify(name: str) -> str:
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    slug = _SLUG_STRIP.sub("-", ascii_name.lower()).strip("-")[:60]
    return slug if len(slug) >= 2 else f"ws-{slug or 'brand'}"


def _unique_slug(session: Session, base: str) -> str:
    slug, n = base, 1
    while session.scalar(select(Workspace.id).where(Workspace.slug == slug)) is not None:
        n += 1
        slug = f"{base}-{n}"
    return slug


def create_workspace(session: Session, principal: Principal, data: WorkspaceCreate) -> Workspace:
    if principal.token_id is not None:
        _require_scope(principal, Scope.admin)
        _require_unrestricted(principal)
    if data.slug is not None:
        if session.scalar(select(Workspace.id).where(Workspace.slug == data.slug)) is not None:
            raise Conflict(f"the address {data.slug!r} is taken", code="slug_taken")
        slug = data.slug
    else:
        slug = _unique_slug(session, slugify(data.name))
    workspace = Workspace(name=data.name, slug=slug, timezone=data.timezone, language=data.language)
    session.add(workspace)
    session.flush()
    session.add(
        Membership(workspace_id=workspace.id, user_id=principal.user_id, role=Role.owner.value)
    )
    session.flush()
    return workspace


def list_workspaces(session: Session, principal: Principal) -> list[tuple[Workspace, Role]]:
    query = (
        select(Workspace, Membership.role)
        .join(Membership, Membership.workspace_id == Workspace.id)
        .where(Membership.user_id == principal.user_id)
        .order_by(Workspace.name, Workspace.id)
    )
    if principal.token_workspace_id is not None:
        query = query.where(Workspace.id == principal.token_workspace_id)
    return [(ws, Role(role)) for ws, role in session.execute(query).all()]


def get_workspace(session: Session, principal: Principal, workspace_id: int) -> Workspace:
    authorize(session, principal, workspace_id, Permission.workspace_read)
    workspace = session.get(Workspace, workspace_id)
    if workspace is None:  # pragma: no cover - a membership implies the workspace
        raise NotFound("workspace not found")
    return workspace


def update_workspace(
    session: Session, principal: Principal, workspace_id: int, data: WorkspaceUpdate
) -> Workspace:
    authorize(session, principal, workspace_id, Permission.workspace_update)
    workspace = get_workspace(session, principal, workspace_id)
    for key, value in data.model_dump(exclude_unset=True, exclude_none=True).items():
        setattr(workspace, key, value)
    session.flush()
    return workspace


def set_workspace_logo(
    session: Session, principal: Principal, workspace_id: int, content: bytes, content_type: str
) -> Workspace:
    authorize(session, principal, workspace_id, Permission.workspace_update)
    if content_type not in LOGO_TYPES:
        raise InvalidInput(
            f"a logo must be one of {', '.join(sorted(LOGO_TYPES))}, not {content_type}",
            code="logo_type",
        )
    if len(content) > MAX_LOGO_BYTES:
        raise InvalidInput("a logo must be 512 KiB or smaller", code="logo_too_large")
    if not content:
        raise InvalidInput("the logo file is empty", code="logo_empty")
    if not _logo_matches(content, content_type):
        raise InvalidInput(
            f"the file is not a valid {content_type.removeprefix('image/')} image",
            code="logo_type",
        )
    workspace = get_workspace(session, principal, workspace_id)
    workspace.logo = content
    workspace.logo_content_type = content_type
    record(
        session,
        "logo_changed",
        entity_type="workspaces",
        entity_id=str(workspace_id),
        workspace_id=workspace_id,
        details={"bytes": len(content), "content_type": content_type},
    )
    session.flush()
    return workspace


def delete_workspace(session: Session, principal: Principal, workspace_id: int) -> None:
    authorize(session, principal, workspace_id, Permission.workspace_delete)
    workspace = get_workspace(session, principal, workspace_id)
    session.delete(workspace)
    session.flush()


# --- members ---------------------------------------------------------------------------------


def _member_out(membership: Membership, user: User) -> MemberOut:
    return MemberOut(
        id=membership.id,
        user_id=user.id,
        email=user.email,
        name=user.name,
        role=Role(membership.role),
        created_at=membership.created_at,
    )


def list_members(session: Session, principal: Principal, workspace_id: int) -> list[MemberOut]:
    authorize(session, principal, workspace_id, Permission.members_read)
    rows = session.execute(
        select(Membership, User)
        .join(User, User.id == Membership.user_id)
        .where(Membership.workspace_id == workspace_id)
        .order_by(User.email)
    ).all()
    return [_member_out(m, u) for m, u in rows]


def _check_grant(acting: Membership, role: Role) -> None:
    allowed = GRANTABLE.get(Role(acting.role), frozenset())
    if role not in allowed:
        raise PermissionDenied(f"your role ({acting.role}) cannot grant or change {role.value}")


def add_member(
    session: Session, principal: Principal, workspace_id: int, data: MemberAdd
) -> MemberOut:
    acting = authorize(session, principal, workspace_id, Permission.members_manage)
    _check_grant(acting, data.role)
    user = get_user_by_email(session, data.email)
    if user is None:
        raise NotFound(
            f"no user with e-mail {data.email}; an administrator must create the account first",
            code="user_not_found",
        )
    exists = session.scalar(
        select(Membership.id).where(
            Membership.workspace_id == workspace_id, Membership.user_id == user.id
        )
    )
    if exists is not None:
        raise Conflict(f"{data.email} is already a member", code="already_member")
    membership = Membership(workspace_id=workspace_id, user_id=user.id, role=data.role.value)
    session.add(membership)
    session.flush()
    return _member_out(membership, user)


def _get_member(session: Session, workspace_id: int, member_id: int) -> Membership:
    membership = session.get(Membership, member_id)
    if membership is None or membership.workspace_id != workspace_id:
        raise NotFound("member not found")
    return membership


def _count_owners(session: Session, workspace_id: int) -> int:
    return int(
        session.scalar(
            select(func.count(Membership.id)).where(
                Membership.workspace_id == workspace_id, Membership.role == Role.owner.value
            )
        )
        or 0
    )


def _ensure_an_owner_remains(session: Session, workspace_id: int) -> None:
    """Checked after the change, with the owners' rows locked: two owners demoting each other
    at the same moment must not both succeed (the check before the change cannot see that)."""
    owners = session.scalars(
        select(Membership.id)
        .where(Membership.workspace_id == workspace_id, Membership.role == Role.owner.value)
        .with_for_update()
    ).all()
    if not owners:
        raise Conflict("a workspace needs at least one owner", code="last_owner")


def update_member_role(
    session: Session, principal: Principal, workspace_id: int, member_id: int, role: Role
) -> MemberOut:
    acting = authorize(session, principal, workspace_id, Permission.members_manage)
    membership = _get_member(session, workspace_id, member_id)
    _check_grant(acting, Role(membership.role))
    _check_grant(acting, role)
    if (
        membership.role == Role.owner.value
        and role is not Role.owner
        and _count_owners(session, workspace_id) <= 1
    ):
        raise Conflict("a workspace needs at least one owner", code="last_owner")
    was_owner = membership.role == Role.owner.value
    with session.begin_nested():
        membership.role = role.value
        session.flush()
        if was_owner:
            _ensure_an_owner_remains(session, workspace_id)
    return _member_out(membership, get_user(session, membership.user_id))


def remove_member(
    session: Session, principal: Principal, workspace_id: int, member_id: int
) -> None:
    acting = authorize(session, principal, workspace_id, Permission.members_manage)
    membership = _get_member(session, workspace_id, member_id)
    _check_grant(acting, Role(membership.role))
    if membership.role == Role.owner.value and _count_owners(session, workspace_id) <= 1:
        raise Conflict("a workspace needs at least one owner", code="last_owner")
    was_owner = membership.role == Role.owner.value
    with session.begin_nested():
        session.delete(membership)
        session.flush()
        if was_owner:
            _ensure_an_owner_remains(session, workspace_id)


# --- audit log -------------------------------------------------------------------------------


def list_audit(
    session: Session,
    principal: Principal,
    workspace_id: int,
    *,
    limit: int = 100,
    before_id: int | None = None,
) -> list[AuditEntry]:
    authorize(session, principal, workspace_id, Permission.audit_read)
    query = select(AuditEntry).where(AuditEntry.workspace_id == workspace_id)
    if before_id is not None:
        query = query.where(AuditEntry.id < before_id)
    return list(session.scalars(query.order_by(AuditEntry.id.desc()).limit(min(limit, 500))))
