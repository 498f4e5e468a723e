"""The accounts service: users, owners and grants, tokens, sessions, slugs, logos, sign-in."""

from __future__ import annotations

import datetime as dt

import pytest
from pydantic import ValidationError
from sqlalchemy import func, select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from dialogo.accounts import service as accounts
from dialogo.accounts.models import ApiToken, Membership, User, WebSession, Workspace
from dialogo.accounts.permissions import Role, Scope
from dialogo.accounts.schemas import (
    MemberAdd,
    PasswordChange,
    TokenCreate,
    UserCreate,
    UserUpdate,
    WorkspaceCreate,
    WorkspaceUpdate,
)
from dialogo.core.errors import (
    AuthenticationFailed,
    Conflict,
    InvalidInput,
    NotFound,
    PermissionDenied,
    TooManyAttempts,
)
from dialogo.db.models import Base
from tests.accounts.helpers import png_bytes
from tests.factories import PASSWORD, add_member, make_user, make_workspace

pytestmark = pytest.mark.usefixtures("cheap_hashing")
P = accounts.Principal.for_user


def membership(db: Session, workspace: Workspace, user: User) -> Membership:
    found = db.scalar(
        select(Membership).where(
            Membership.workspace_id == workspace.id, Membership.user_id == user.id
        )
    )
    assert found is not None
    return found


# --- users -----------------------------------------------------------------------------------


def test_emails_are_normalised_and_unique(db: Session) -> None:
    user = accounts.create_user(db, UserCreate(email="  Ada@Example.COM ", password=PASSWORD))
    assert user.email == "ada@example.com"
    with pytest.raises(Conflict) as info:
        accounts.create_user(db, UserCreate(email="ADA@example.com", password=PASSWORD))
    assert info.value.code == "email_taken"
    assert accounts.get_user_by_email(db, "ADA@EXAMPLE.COM ") is not None


@pytest.mark.parametrize("email", ["", "no-at-sign", "two@@example.com", "a b@example.com"])
def test_invalid_emails(email: str) -> None:
    with pytest.raises(ValidationError):
        UserCreate(email=email, password=PASSWORD)


def test_short_passwords_are_refused() -> None:
    with pytest.raises(ValidationError, match="at least 10"):
        UserCreate(email="a@example.com", password="123456789")
    UserCreate(email="a@example.com", password="1234567890")


@pytest.mark.parametrize("language", ["fr", "EN", "", "english"])
def test_language_validation(language: str) -> None:
    for build in (
        lambda: UserCreate(email="a@example.com", password=PASSWORD, language=language),
        lambda: UserUpdate(language=language),
        lambda: WorkspaceCreate(name="Brand", language=language),
        lambda: WorkspaceUpdate(language=language),
    ):
        with pytest.raises(ValidationError, match="language must be one of en, it"):
            build()
    assert UserUpdate(language="it").language == "it"
    assert WorkspaceCreate(name="Brand", language="en").language == "en"


def test_time_zones_are_validated() -> None:
    with pytest.raises(ValidationError, match="IANA"):
        WorkspaceCreate(name="Brand", timezone="Europe/Atlantis")
    assert WorkspaceCreate(name="Brand", timezone="America/New_York").timezone == (
        "America/New_York"
    )


def test_only_superusers_create_users(db: Session) -> None:
    plain, admin = make_user(db), make_user(db, superuser=True)
    data = UserCreate(email="new@example.com", password=PASSWORD)
    with pytest.raises(PermissionDenied):
        accounts.create_user_as(db, P(plain), data)
    assert accounts.create_user_as(db, P(admin), data).email == "new@example.com"


def test_change_password(db: Session) -> None:
    user = make_user(db)
    accounts.create_web_session(db, user, ttl=dt.timedelta(hours=1))
    with pytest.raises(AuthenticationFailed):
        accounts.change_password(
            db, P(user), PasswordChange(current_password="nope", new_password="x" * 12)
        )
    accounts.change_password(
        db, P(user), PasswordChange(current_password=PASSWORD, new_password="x" * 12)
    )
    assert accounts.authenticate(db, user.email, "x" * 12) is not None
    assert accounts.authenticate(db, user.email, PASSWORD) is None
    # Every open session ends with the old password.
    assert db.scalar(select(func.count()).where(WebSession.user_id == user.id)) == 0


# --- owners and grants -----------------------------------------------------------------------


def test_the_last_owner_cannot_be_removed_or_demoted(db: Session) -> None:
    owner = make_user(db)
    workspace = make_workspace(db, owner)
    mine = membership(db, workspace, owner)
    for attempt in (
        lambda: accounts.update_member_role(db, P(owner), workspace.id, mine.id, Role.admin),
        lambda: accounts.remove_member(db, P(owner), workspace.id, mine.id),
    ):
        with pytest.raises(Conflict) as info:
            attempt()
        assert info.value.code == "last_owner"
    db.refresh(mine)
    assert mine.role == "owner"

    # With a second owner, one of them may step down; then the other is the last one again.
    second = add_member(db, workspace, owner, Role.owner)
    accounts.update_member_role(db, P(second), workspace.id, mine.id, Role.editor)
    theirs = membership(db, workspace, second)
    with pytest.raises(Conflict):
        accounts.remove_member(db, P(second), workspace.id, theirs.id)
    with pytest.raises(Conflict):
        accounts.update_member_role(db, P(second), workspace.id, theirs.id, Role.viewer)
    assert accounts._count_owners(db, workspace.id) == 1


def test_an_owner_may_leave_when_another_remains(db: Session) -> None:
    owner = make_user(db)
    workspace = make_workspace(db, owner)
    add_member(db, workspace, owner, Role.owner)
    accounts.remove_member(db, P(owner), workspace.id, membership(db, workspace, owner).id)
    assert accounts._count_owners(db, workspace.id) == 1


def test_admins_cannot_grant_or_touch_owner(db: Session) -> None:
    owner = make_user(db)
    workspace = make_workspace(db, owner)
    admin = add_member(db, workspace, owner, Role.admin)
    viewer = add_member(db, workspace, owner, Role.viewer)
    outsider = make_user(db)
    owner_m, viewer_m = membership(db, workspace, owner), membership(db, workspace, viewer)

    with pytest.raises(PermissionDenied):
        accounts.add_member(
            db, P(admin), workspace.id, MemberAdd(email=outsider.email, role=Role.owner)
        )
    with pytest.raises(PermissionDenied):
        accounts.update_member_role(db, P(admin), workspace.id, viewer_m.id, Role.owner)
    with pytest.raises(PermissionDenied):
        accounts.update_member_role(db, P(admin), workspace.id, owner_m.id, Role.viewer)
    with pytest.raises(PermissionDenied):
        accounts.remove_member(db, P(admin), workspace.id, owner_m.id)
    db.refresh(viewer_m)
    db.refresh(owner_m)
    assert (viewer_m.role, owner_m.role) == ("viewer", "owner")

    # What an admin may do: every role below owner.
    accounts.update_member_role(db, P(admin), workspace.id, viewer_m.id, Role.admin)
    accounts.add_member(
        db, P(admin), workspace.id, MemberAdd(email=outsider.email, role=Role.agent)
    )
    # And an owner may make owners.
    accounts.update_member_role(db, P(owner), workspace.id, viewer_m.id, Role.owner)
    assert accounts._count_owners(db, workspace.id) == 2


def test_adding_twice_is_a_conflict(db: Session) -> None:
    owner = make_user(db)
    workspace = make_workspace(db, owner)
    viewer = add_member(db, workspace, owner, Role.viewer)
    with pytest.raises(Conflict) as info:
        accounts.add_member(
            db, P(owner), workspace.id, MemberAdd(email=viewer.email, role="editor")
        )
    assert info.value.code == "already_member"


def test_roles_below_members_manage_cannot_manage(db: Session) -> None:
    owner = make_user(db)
    workspace = make_workspace(db, owner)
    for role in (Role.editor, Role.approver, Role.agent, Role.viewer):
        member = add_member(db, workspace, owner, role)
        with pytest.raises(PermissionDenied):
            accounts.add_member(
                db, P(member), workspace.id, MemberAdd(email=make_user(db).email, role="viewer")
            )


# --- API tokens ------------------------------------------------------------------------------


def all_stored_text(db: Session) -> str:
    """Every value in every table, as text."""
    chunks = []
    for table in Base.metadata.sorted_tables:
        for row in db.execute(select(table)):
            chunks.append(repr(tuple(row)))
    return "\n".join(chunks)


def test_tokens_are_stored_hashed(db: Session) -> None:
    user = make_user(db)
    token, row = accounts.create_api_token(
        db, P(user), TokenCreate(name="ci", scopes=[Scope.read, Scope.write])
    )
    db.flush()
    stored = all_stored_text(db)
    assert token not in stored
    assert token.split("_", 2)[2] not in stored  # not even the secret part
    assert row.token_hash in stored
    assert row.prefix in token

    principal = accounts.resolve_api_token(db, token)
    assert principal is not None
    assert (principal.user_id, principal.token_id) == (user.id, row.id)
    assert principal.scopes == frozenset({Scope.read, Scope.write})
    assert accounts.resolve_api_token(db, row.token_hash) is None
    assert accounts.resolve_api_token(db, token + "x") is None


def test_token_expiry_and_revocation(db: Session) -> None:
    user = make_user(db)
    token, row = accounts.create_api_token(
        db, P(user), TokenCreate(name="ci", scopes=[Scope.read], expires_in_days=1)
    )
    assert row.expires_at is not None
    expires = row.expires_at
    assert accounts.resolve_api_token(db, token, now=expires - dt.timedelta(seconds=1))
    assert accounts.resolve_api_token(db, token, now=expires) is None

    accounts.revoke_api_token(db, P(user), row.id)
    assert accounts.resolve_api_token(db, token) is None
    never, _ = accounts.create_api_token(
        db, P(user), TokenCreate(name="forever", scopes=[Scope.read], expires_in_days=None)
    )
    assert accounts.resolve_api_token(db, never, now=expires + dt.timedelta(days=3650))


def test_tokens_of_inactive_users_stop_working(db: Session) -> None:
    user = make_user(db)
    token, _ = accounts.create_api_token(db, P(user), TokenCreate(name="ci", scopes=[Scope.read]))
    user.is_active = False
    db.flush()
    assert accounts.resolve_api_token(db, token) is None


def test_tokens_cannot_mint_tokens_or_escape_their_scope(db: Session) -> None:
    user = make_user(db)
    token, _ = accounts.create_api_token(db, P(user), TokenCreate(name="ci", scopes=[Scope.admin]))
    principal = accounts.resolve_api_token(db, token)
    assert principal is not None
    with pytest.raises(PermissionDenied):
        accounts.create_api_token(db, principal, TokenCreate(name="child", scopes=[Scope.read]))
    read_token, row = accounts.create_api_token(
        db, P(user), TokenCreate(name="ro", scopes=[Scope.read])
    )
    reader = accounts.resolve_api_token(db, read_token)
    assert reader is not None
    with pytest.raises(PermissionDenied):
        accounts.revoke_api_token(db, reader, row.id)
    with pytest.raises(PermissionDenied):
        accounts.update_user(db, reader, UserUpdate(name="Mallory"))
    assert db.get(ApiToken, row.id).revoked_at is None  # type: ignore[union-attr]


def test_tokens_for_foreign_workspaces_are_refused(db: Session) -> None:
    user, stranger = make_user(db), make_user(db)
    workspace = make_workspace(db, stranger)
    with pytest.raises(NotFound):
        accounts.create_api_token(
            db, P(user), TokenCreate(name="x", scopes=[Scope.read], workspace_id=workspace.id)
        )


# --- web sessions ----------------------------------------------------------------------------


def test_sessions_expire(db: Session) -> None:
    user = make_user(db)
    token, web_session = accounts.create_web_session(db, user, ttl=dt.timedelta(hours=2))
    expires = web_session.expires_at
    now = dt.datetime.now(dt.UTC)
    assert dt.timedelta(hours=2) - dt.timedelta(minutes=1) < expires - now <= dt.timedelta(hours=2)
    assert accounts.resolve_web_session(db, token, now=expires - dt.timedelta(seconds=1))
    assert accounts.resolve_web_session(db, token, now=expires) is None
    assert accounts.resolve_web_session(db, web_session.token_hash) is None
    assert token not in all_stored_text(db)


def test_ended_sessions_and_inactive_users(db: Session) -> None:
    user = make_user(db)
    token, _ = accounts.create_web_session(db, user, ttl=dt.timedelta(hours=1))
    other, _ = accounts.create_web_session(db, user, ttl=dt.timedelta(hours=1))
    accounts.end_web_session(db, token)
    assert accounts.resolve_web_session(db, token) is None
    assert accounts.resolve_web_session(db, other) is not None
    user.is_active = False
    db.flush()
    assert accounts.resolve_web_session(db, other) is None


# --- sign-in throttling ----------------------------------------------------------------------


def test_throttling_window(db: Session) -> None:
    user = make_user(db)
    window = dt.timedelta(minutes=15)
    start = dt.datetime(2030, 5, 1, 12, 0, tzinfo=dt.UTC)
    for minute in range(3):
        at = start + dt.timedelta(minutes=minute)
        assert accounts.authenticate(db, user.email, "wrong", now=at) is None

    def check(now: dt.datetime) -> None:
        accounts.check_login_allowed(db, user.email, max_failures=3, window=window, now=now)

    with pytest.raises(TooManyAttempts) as info:
        check(start + dt.timedelta(minutes=5))
    # Allowed again when the oldest of the three failures leaves the window: 10 minutes later.
    assert info.value.retry_after == 10 * 60 + 1
    with pytest.raises(TooManyAttempts):
        check(start + window - dt.timedelta(seconds=1))
    check(start + window + dt.timedelta(seconds=1))
    accounts.check_login_allowed(db, "other@example.com", max_failures=3, window=window, now=start)


def test_inactive_users_cannot_sign_in(db: Session) -> None:
    user = make_user(db)
    user.is_active = False
    db.flush()
    assert accounts.authenticate(db, user.email, PASSWORD) is None


# --- workspaces: slugs, logos ----------------------------------------------------------------


def test_slugs_are_derived_and_unique(db: Session) -> None:
    owner = make_user(db)
    first = accounts.create_workspace(db, P(owner), WorkspaceCreate(name="Caffè Aurora!"))
    second = accounts.create_workspace(db, P(owner), WorkspaceCreate(name="caffe aurora"))
    third = accounts.create_workspace(db, P(owner), WorkspaceCreate(name="CAFFÈ — AURORA"))
    assert (first.slug, second.slug, third.slug) == (
        "caffe-aurora",
        "caffe-aurora-2",
        "caffe-aurora-3",
    )
    assert accounts.slugify("東京") == "ws-brand"
    assert accounts.slugify("X") == "ws-x"
    assert len(accounts.slugify("a" * 300)) <= 60


def test_explicit_slug_taken(db: Session) -> None:
    owner = make_user(db)
    accounts.create_workspace(db, P(owner), WorkspaceCreate(name="One", slug="brand"))
    with pytest.raises(Conflict) as info:
        accounts.create_workspace(db, P(owner), WorkspaceCreate(name="Two", slug="brand"))
    assert info.value.code == "slug_taken"
    with pytest.raises(ValidationError):
        WorkspaceCreate(name="Three", slug="Not-Lower")


def test_slug_uniqueness_is_enforced_by_the_database(db: Session) -> None:
    db.add(Workspace(name="A", slug="same"))
    db.flush()
    with pytest.raises(IntegrityError), db.begin_nested():
        db.add(Workspace(name="B", slug="same"))
        db.flush()


def test_foreign_keys_are_enforced(db: Session) -> None:
    with pytest.raises(IntegrityError), db.begin_nested():
        db.execute(
            text(
                "INSERT INTO memberships (workspace_id, user_id, role, created_at) "
                "VALUES (987654, 987654, 'owner', CURRENT_TIMESTAMP)"
            )
        )


def set_logo(db: Session, user: User, workspace: Workspace, content: bytes, kind: str) -> None:
    accounts.set_workspace_logo(db, P(user), workspace.id, content, kind)


@pytest.mark.parametrize(
    "content,kind",
    [
        (png_bytes(), "image/png"),
        (b"\xff\xd8\xff\xe0" + b"\x00" * 100, "image/jpeg"),
        (b"GIF89a" + b"\x00" * 20, "image/gif"),
        (b"RIFF\x10\x00\x00\x00WEBPVP8 ", "image/webp"),
        (b'<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg"/>', "image/svg+xml"),
    ],
)
def test_logo_types_accepted(db: Session, content: bytes, kind: str) -> None:
    owner = make_user(db)
    workspace = make_workspace(db, owner)
    set_logo(db, owner, workspace, content, kind)
    db.refresh(workspace)
    assert (workspace.logo, workspace.logo_content_type) == (content, kind)


@pytest.mark.parametrize(
    "content,kind,code",
    [
        (png_bytes(), "image/bmp", "logo_type"),
        (png_bytes(), "text/html", "logo_type"),
        (b"<html><script>alert(1)</script></html>", "image/png", "logo_type"),
        (png_bytes(), "image/jpeg", "logo_type"),
        (b"", "image/png", "logo_empty"),
        (png_bytes() + b"\x00" * accounts.MAX_LOGO_BYTES, "image/png", "logo_too_large"),
    ],
)
def test_logo_limits(db: Session, content: bytes, kind: str, code: str) -> None:
    owner = make_user(db)
    workspace = make_workspace(db, owner)
    with pytest.raises(InvalidInput) as info:
        set_logo(db, owner, workspace, content, kind)
    assert info.value.code == code
    db.refresh(workspace)
    assert workspace.logo is None


def test_logo_size_boundary(db: Session) -> None:
    owner = make_user(db)
    workspace = make_workspace(db, owner)
    exact = png_bytes()
    exact += b"\x00" * (accounts.MAX_LOGO_BYTES - len(exact))
    set_logo(db, owner, workspace, exact, "image/png")
    assert len(exact) == accounts.MAX_LOGO_BYTES == 512 * 1024
    with pytest.raises(InvalidInput):
        set_logo(db, owner, workspace, exact + b"\x00", "image/png")


def test_only_workspace_updaters_set_logos(db: Session) -> None:
    owner = make_user(db)
    workspace = make_workspace(db, owner)
    editor = add_member(db, workspace, owner, Role.editor)
    with pytest.raises(PermissionDenied):
        set_logo(db, editor, workspace, png_bytes(), "image/png")


def test_deleting_a_workspace_removes_its_memberships(db: Session) -> None:
    owner = make_user(db)
    workspace = make_workspace(db, owner)
    add_member(db, workspace, owner, Role.viewer)
    accounts.delete_workspace(db, P(owner), workspace.id)
    assert db.get(Workspace, workspace.id) is None
    count = db.scalar(select(func.count()).where(Membership.workspace_id == workspace.id))
    assert count == 0
