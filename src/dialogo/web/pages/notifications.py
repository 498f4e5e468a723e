"""The workspace's open notifications, shown on its home page, and dismissing them.

A notification with parameters is worded in the viewer's language from the catalogue of kinds
(:mod:`dialogo.notifications.kinds`); one stored before kinds had parameters shows its stored
title. "A channel needs attention" is worded from the channel's current state (it may have
gone from "needs re-authorisation" to "disconnected" while the notification was open).
"""

from __future__ import annotations

import dataclasses
import datetime as dt

from fastapi import APIRouter, Response
from fastapi.responses import RedirectResponse

from dialogo.accounts.permissions import Permission
from dialogo.channels import service as channels
from dialogo.channels.models import Channel, ChannelStatus
from dialogo.core.errors import DomainError
from dialogo.notifications import kinds
from dialogo.notifications import service as notifications
from dialogo.notifications.models import Notification
from dialogo.web import cookies, messages, templating
from dialogo.web.cookies import Flash
from dialogo.web.shell import CHANNEL_ATTENTION, FormViewer, Viewer

router = APIRouter()

#: A teammate mentioned the viewer in a note (``dialogo.inbox.service.add_note``).
INBOX_MENTION = "inbox_mention"


@dataclasses.dataclass(frozen=True)
class Note:
    id: int
    title: str
    body: str
    link: str | None
    link_label: str
    created_at: dt.datetime
    severity: str
    personal: bool = False  # for the viewer only (a mention): they may always dismiss it


def _channel_id(notification: Notification) -> int | None:
    key = notification.dedupe_key or ""
    prefix = "channel:"
    raw = key[len(prefix) :] if key.startswith(prefix) else ""
    return int(raw) if raw.isdigit() and len(raw) < 19 else None


def _channel_title(viewer: Viewer, channel: Channel) -> str:
    network = viewer.network_name(channel.network)
    if channel.status == ChannelStatus.disconnected.value:
        text = viewer.gettext("%(name)s (%(network)s) was disconnected by the network")
    else:
        text = viewer.gettext("%(name)s (%(network)s) needs to be authorised again")
    return text % {"name": channel.name, "network": network}


def open_notifications(viewer: Viewer, workspace_id: int) -> list[Note]:
    """The open notifications, newest first, ready to show."""
    found = notifications.list_notifications(viewer.session, viewer.principal, workspace_id)
    by_id: dict[int, Channel] = {}
    if any(n.kind == CHANNEL_ATTENTION for n in found):
        listed = channels.list_channels(viewer.session, viewer.principal, workspace_id)
        by_id = {c.id: c for c in listed}
    notes = []
    for n in found:
        worded = kinds.render(n, viewer.language, network_name=viewer.network_name)
        title = worded.title
        link_label = viewer.tr.pgettext("notification link", "Open")
        if n.kind == CHANNEL_ATTENTION:
            channel = by_id.get(_channel_id(n) or 0)
            if channel is not None:  # its current state (it may have changed since)
                title = _channel_title(viewer, channel)
            link_label = viewer.gettext("Go to the channels")
        elif n.kind == INBOX_MENTION:
            link_label = viewer.gettext("Open the conversation")
        notes.append(
            Note(
                id=n.id,
                title=title,
                body=worded.body,
                link=cookies.safe_next(n.link, "") or None,
                link_label=link_label,
                created_at=n.created_at,
                severity=n.severity,
                personal=n.recipient_id is not None,
            )
        )
    return notes


def _section(
    viewer: Viewer, workspace_id: int, message: Flash | None = None, status: int = 200
) -> Response:
    workspace, role = viewer.workspace(workspace_id)
    return viewer.render(
        "_notifications.html",
        active="home",
        workspace=workspace,
        role=role,
        notes=open_notifications(viewer, workspace_id),
        can_dismiss=viewer.can(role, Permission.notifications_manage),
        message=message,
        now=viewer.ctx.clock.now(),
        status=status,
    )


@router.post("/w/{workspace_id}/notifications/{notification_id}/dismiss")
def dismiss(workspace_id: int, notification_id: int, viewer: FormViewer) -> Response:
    viewer.workspace(workspace_id, Permission.workspace_read)
    try:
        notifications.resolve(viewer.session, viewer.principal, workspace_id, notification_id)
    except DomainError as exc:
        viewer.session.rollback()
        text = messages.domain_error(viewer.tr, exc)
        if templating.is_htmx(viewer.request):
            return _section(viewer, workspace_id, Flash("error", text), exc.status)
        response = RedirectResponse(f"/w/{workspace_id}", status_code=303)
        viewer.flash(response, "error", text)
        return response
    text = viewer.gettext("Notification dismissed.")
    if templating.is_htmx(viewer.request):
        return _section(viewer, workspace_id, Flash("success", text))
    response = RedirectResponse(f"/w/{workspace_id}", status_code=303)
    viewer.flash(response, "success", text)
    return response
