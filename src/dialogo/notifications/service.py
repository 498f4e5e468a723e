"""Notify a workspace's team or one member of it; list and resolve notifications.

A notification with a ``recipient_id`` is personal (a teammate mentioned in a note): only that
member sees it, and may dismiss it whatever their role. Without one it is for the whole team.
"""

from __future__ import annotations

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from dialogo.accounts.permissions import Permission, scopes_allow
from dialogo.accounts.service import Principal, authorize
from dialogo.core.clock import utcnow
from dialogo.core.errors import NotFound, PermissionDenied
from dialogo.notifications.models import Notification


def notify(
    session: Session,
    workspace_id: int,
    *,
    kind: str,
    title: str,
    body: str = "",
    link: str | None = None,
    severity: str = "warning",
    dedupe_key: str | None = None,
    recipient_id: int | None = None,
) -> Notification:
    """Add a notification, unless an unresolved one with the same ``dedupe_key`` exists.

    ``recipient_id``: for this member only (the caller checks they belong to the workspace)."""
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
        title=title,
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
