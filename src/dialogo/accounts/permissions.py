"""Roles and the permission matrix, enforced in the service layer.

Every domain's permissions are declared here so that one table says who may do what; a
domain that is not built yet has its permissions reserved, so roles keep their meaning
as capabilities land.
"""

from __future__ import annotations

import enum


class Role(enum.StrEnum):
    owner = "owner"
    admin = "admin"
    editor = "editor"
    approver = "approver"
    agent = "agent"
    viewer = "viewer"


class Scope(enum.StrEnum):
    """What an API token may be used for, on top of its user's role."""

    read = "read"
    write = "write"
    admin = "admin"


class Permission(enum.StrEnum):
    workspace_read = "workspace.read"
    workspace_update = "workspace.update"
    workspace_delete = "workspace.delete"
    members_read = "members.read"
    members_manage = "members.manage"
    audit_read = "audit.read"
    channels_read = "channels.read"
    channels_manage = "channels.manage"
    posts_read = "posts.read"
    posts_write = "posts.write"
    posts_approve = "posts.approve"
    posts_publish = "posts.publish"
    inbox_read = "inbox.read"
    inbox_reply = "inbox.reply"
    inbox_assign = "inbox.assign"
    listening_read = "listening.read"
    listening_manage = "listening.manage"
    audience_read = "audience.read"
    audience_manage = "audience.manage"
    audience_export = "audience.export"
    analytics_read = "analytics.read"
    notifications_manage = "notifications.manage"

    @property
    def scope(self) -> Scope:
        if self in _ADMIN_SCOPE:
            return Scope.admin
        if self.value.endswith(".read"):
            return Scope.read
        return Scope.write


_ADMIN_SCOPE = {
    Permission.workspace_update,
    Permission.workspace_delete,
    Permission.members_manage,
    Permission.audit_read,
    Permission.channels_manage,
}

P = Permission
_READ_ALL = {p for p in Permission if p.value.endswith(".read")} - {P.audit_read}

MATRIX: dict[Role, frozenset[Permission]] = {
    Role.owner: frozenset(Permission),
    Role.admin: frozenset(set(Permission) - {P.workspace_delete}),
    Role.editor: frozenset(
        _READ_ALL
        | {
            P.posts_write,
            P.inbox_reply,
            P.listening_manage,
            P.audience_manage,
            P.notifications_manage,
        }
    ),
    Role.approver: frozenset(
        _READ_ALL | {P.posts_write, P.posts_approve, P.posts_publish, P.notifications_manage}
    ),
    Role.agent: frozenset(_READ_ALL | {P.inbox_reply, P.inbox_assign, P.notifications_manage}),
    Role.viewer: frozenset(_READ_ALL),
}

# Roles an actor may hand out or take away: nobody but an owner touches owners.
GRANTABLE: dict[Role, frozenset[Role]] = {
    Role.owner: frozenset(Role),
    Role.admin: frozenset(Role) - {Role.owner},
}


def role_allows(role: Role, permission: Permission) -> bool:
    return permission in MATRIX[role]


def scopes_allow(scopes: frozenset[Scope], permission: Permission) -> bool:
    needed = permission.scope
    if Scope.admin in scopes:
        return True
    if needed is Scope.read:
        return bool(scopes & {Scope.read, Scope.write})
    if needed is Scope.write:
        return Scope.write in scopes
    return False
