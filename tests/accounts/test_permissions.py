"""The permission matrix, stated as policy: a change to who may do what must change this file."""

from __future__ import annotations

import pytest

from dialogo.accounts.permissions import (
    GRANTABLE,
    MATRIX,
    Permission,
    Role,
    Scope,
    role_allows,
    scopes_allow,
)

P = Permission
READS = {p for p in Permission if p.value.endswith(".read")}


def holders(permission: Permission) -> set[Role]:
    return {role for role in Role if role_allows(role, permission)}


def test_every_role_has_a_row() -> None:
    assert set(MATRIX) == set(Role)


def test_owner_may_do_everything_and_admin_all_but_delete() -> None:
    assert MATRIX[Role.owner] == frozenset(Permission)
    assert set(Permission) - MATRIX[Role.admin] == {P.workspace_delete}


def test_everyone_reads_except_the_audit_log() -> None:
    for role in Role:
        assert READS - {P.audit_read} <= MATRIX[role], role
    assert holders(P.audit_read) == {Role.owner, Role.admin}


@pytest.mark.parametrize(
    "permission,roles",
    [
        (P.workspace_delete, {Role.owner}),
        (P.workspace_update, {Role.owner, Role.admin}),
        (P.members_manage, {Role.owner, Role.admin}),
        (P.channels_manage, {Role.owner, Role.admin}),
        (P.posts_write, {Role.owner, Role.admin, Role.editor, Role.approver}),
        (P.posts_approve, {Role.owner, Role.admin, Role.approver}),
        (P.posts_publish, {Role.owner, Role.admin, Role.approver}),
        (P.inbox_reply, {Role.owner, Role.admin, Role.editor, Role.agent}),
        (P.inbox_assign, {Role.owner, Role.admin, Role.agent}),
        (P.listening_manage, {Role.owner, Role.admin, Role.editor}),
        (P.audience_manage, {Role.owner, Role.admin, Role.editor}),
        (P.audience_export, {Role.owner, Role.admin}),
    ],
)
def test_who_may_write(permission: Permission, roles: set[Role]) -> None:
    assert holders(permission) == roles


def test_viewers_only_read() -> None:
    assert MATRIX[Role.viewer] == frozenset(READS - {P.audit_read})


def test_only_owners_grant_owner() -> None:
    assert Role.owner in GRANTABLE[Role.owner]
    assert Role.owner not in GRANTABLE[Role.admin]
    for role in (Role.editor, Role.approver, Role.agent, Role.viewer):
        assert role not in GRANTABLE


def test_token_scopes() -> None:
    admin_only = {p for p in Permission if p.scope is Scope.admin}
    assert admin_only == {
        P.workspace_update,
        P.workspace_delete,
        P.members_manage,
        P.audit_read,
        P.channels_manage,
    }
    read, write, admin = (frozenset({s}) for s in (Scope.read, Scope.write, Scope.admin))
    assert scopes_allow(read, P.posts_read)
    assert not scopes_allow(read, P.posts_write)
    assert not scopes_allow(read, P.audit_read)
    assert scopes_allow(write, P.posts_read)
    assert scopes_allow(write, P.posts_write)
    assert not scopes_allow(write, P.members_manage)
    assert all(scopes_allow(admin, p) for p in Permission)
    assert not any(scopes_allow(frozenset(), p) for p in Permission)
