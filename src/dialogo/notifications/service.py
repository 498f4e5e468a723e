"""Notify a workspace's team or one member of it; list and resolve notifications.

A notification with a ``recipient_id`` is personal (a teammate mentioned in a note): only that
member sees it, and may dismiss it whatever their role. Without one it is for the whole team.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from dialogo.accounts.permissions import Permission, scopes_allow
from dialogo.accounts.service import Principal, authorize
from dialogo.core import i18n
from dialogo.core.clock import utcnow
from dialogo.core.errors import NotFound, PermissionDenied
from dialogo.notifications import kinds
from dialogo.notifications.models import Notification


def notify(
    session: Session,
    workspace_id: int,
    *,
    kind: str,
    params: Mapping[str, Any] | None = None,
    title: str | None = None,
    body: str = "",
    link: str | None = None,
    severity: str = "warning",
    dedupe_key: str | None = None,
    recipient_id: int | None = None,
) -> Notification:
    """Add a notification, unless an unresolved one with the same ``dedupe_key`` exists.

    ``params`` (JSON values): the wording of the kind's message in
    :data:`dialogo.notifications.kinds.MESSAGES`, rendered in each reader's language; the
    English rendering is stored as the title (and body, for kinds with a body template).
    Without ``params``, ``title`` is stored and always shown as written.
    ``recipient_id``: for this member only (the caller checks they belong to the workspace)."""
    if params is not None:
        params = dict(params)
        english = kinds.render_params(kind, params, i18n.SOURCE_LANGUAGE, body=body)
        if english is None:
            raise kinds.UnknownKind(
                f"no message for notification {kinds.message_key(kind, params)!r} with {params}"
            )
        title, body = english.title, english.body
    elif title is None:
        raise ValueError("a notification needs params (for its kind's message) or a title")
    if dedupe_key is not None:
        existing = session.scalar(
            select(Notification).where(
                Notification.workspace_id == workspace_id,
                Notification.dedupe_key == dedupe_key,
                Notification.resolved_at.is_(None),
            )
        )
        if existing is not None:
            return existing
    notification = Notification(
        workspace_id=workspace_id,
        kind=kind,
        params=params,
        title=title[: kinds.MAX_TITLE],
        body=body,
        link=link,
        severity=severity,
        dedupe_key=dedupe_key,
        recipient_id=recipient_id,
    )
    session.add(notification)
    session.flush()
    return notification


def resolve_by_key(session: Session, workspace_id: int, dedupe_key: str) -> int:
    """Mark open notifications with this key resolved (the problem went away)."""
    result = session.execute(
        update(Notification)
        .where(
            Notification.workspace_id == workspace_id,
            Notification.dedupe_key == dedupe_key,
            Notification.resolved_at.is_(None),
        )
        .values(resolved_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    return int(result.rowcount)  # type: ignore[attr-defined]


def list_notifications(
    session: Session,
    principal: Principal,
    workspace_id: int,
    *,
    include_resolved: bool = False,
    limit: int = 50,
) -> list[Notification]:
    """The team's notifications and the principal's own, newest first (never another
    member's personal ones)."""
    authorize(session, principal, workspace_id, Permission.workspace_read)
    query = select(Notification).where(
        Notification.workspace_id == workspace_id,
        or_(
            Notification.recipient_id.is_(None),
            Notification.recipient_id == principal.user_id,
        ),
    )
    if not include_resolved:
        query = query.where(Notification.resolved_at.is_(None))
    return list(session.scalars(query.order_by(Notification.id.desc()).limit(min(limit, 200))))


def resolve(
    session: Session, principal: Principal, workspace_id: int, notification_id: int
) -> Notification:
    """Dismiss a notification for the whole team (viewers and read-only tokens cannot), or
    one's own personal notification (any member). Another member's is not found."""
    authorize(session, principal, workspace_id, Permission.workspace_read)
    notification = session.get(Notification, notification_id)
    if (
        notification is None
        or notification.workspace_id != workspace_id
        or (
            notification.recipient_id is not None and notification.recipient_id != principal.user_id
        )
    ):
        raise NotFound("notification not found")
    if notification.recipient_id is None:
        authorize(session, principal, workspace_id, Permission.notifications_manage)
    elif not scopes_allow(principal.scopes, Permission.notifications_manage):
        # One's own, whatever the role; but a read-only token still writes nothing.
        raise PermissionDenied(
            "this token's scopes do not allow notifications.manage",
            permission=Permission.notifications_manage.value,
        )
    if notification.resolved_at is None:
        notification.resolved_at = utcnow()
        session.flush()
    return notification
