"""Workspaces: the switcher's target, the first-workspace form, home, settings, logo, audit."""

from __future__ import annotations

import functools
import json
from typing import Any
from zoneinfo import available_timezones

from fastapi import APIRouter, Response
from fastapi.responses import RedirectResponse
from pydantic import ValidationError

from dialogo.accounts import service as accounts
from dialogo.accounts.models import AuditEntry
from dialogo.accounts.permissions import Permission
from dialogo.accounts.schemas import WorkspaceCreate, WorkspaceUpdate
from dialogo.api.routers.system import stale_after
from dialogo.core.errors import DomainError
from dialogo.core.i18n import N_
from dialogo.jobs import service as jobs
from dialogo.web import cookies, messages
from dialogo.web.forms import read_form, text, upload
from dialogo.web.pages.notifications import open_notifications
from dialogo.web.shell import CurrentViewer, FormViewer, Viewer

router = APIRouter()

WORKSPACE_FIELDS = {
    "name": N_("Enter a name of up to 200 characters."),
    "timezone": N_("Choose a time zone from the list."),
    "language": N_("Choose English or Italian."),
}
AUDIT_PAGE = 50


@functools.lru_cache(maxsize=1)
def timezone_options() -> list[tuple[str, str]]:
    names = sorted(
        tz
        for tz in available_timezones()
        if "/" in tz and not tz.startswith(("Etc/", "SystemV/", "US/", "posix/", "right/"))
    )
    return [(name, name.replace("_", " ")) for name in [*names, "UTC"]]


# --- entry points ----------------------------------------------------------------------------


@router.get("/")
def root(viewer: CurrentViewer) -> Response:
    workspace, _role = viewer.current_workspace()
    if workspace is None:
        return RedirectResponse("/workspaces/new", status_code=303)
    return RedirectResponse(f"/w/{workspace.id}", status_code=303)


def _new_workspace_page(
    viewer: Viewer, *, values: dict[str, str], errors: dict[str, str], status: int = 200
) -> Response:
    return viewer.render(
        "workspace_new.html",
        active="new-workspace",
        first=not viewer.workspaces(),
        values=values,
        errors=errors,
        timezone_options=timezone_options(),
        language_options=viewer.language_options(),
        status=status,
    )


@router.get("/workspaces/new")
def new_workspace(viewer: CurrentViewer) -> Response:
    values = {"name": "", "timezone": "Europe/Rome", "language": viewer.language}
    return _new_workspace_page(viewer, values=values, errors={})


@router.post("/workspaces")
async def create_workspace(viewer: FormViewer) -> Response:
    form = await read_form(viewer.request)
    values = {k: text(form, k) for k in ("name", "timezone", "language")}
    try:
        data = WorkspaceCreate(**values)
    except ValidationError as exc:
        errors = messages.field_errors(viewer.tr, exc, WORKSPACE_FIELDS)
        return _new_workspace_page(viewer, values=values, errors=errors, status=422)
    workspace = accounts.create_workspace(viewer.session, viewer.principal, data)
    response = RedirectResponse(f"/w/{workspace.id}", status_code=303)
    viewer.flash(
        response,
        "success",
        viewer.gettext("Workspace %(name)s created.") % {"name": workspace.name},
    )
    return response


# --- home ------------------------------------------------------------------------------------


@router.get("/w/{workspace_id}")
def home(workspace_id: int, viewer: CurrentViewer) -> Response:
    workspace, role = viewer.workspace(workspace_id)
    members_count = None
    if viewer.can(role, Permission.members_read):
        members_count = len(accounts.list_members(viewer.session, viewer.principal, workspace_id))
    health = jobs.queue_health(
        viewer.session, stale_after=stale_after(viewer.ctx), now=viewer.ctx.clock.now()
    )
    response = viewer.render(
        "home.html",
        active="home",
        workspace=workspace,
        role=role,
        members_count=members_count,
        health=health,
        notes=open_notifications(viewer, workspace_id),
        can_dismiss=viewer.can(role, Permission.notifications_manage),
        message=None,
        now=viewer.ctx.clock.now(),
    )
    cookies.remember_workspace(response, workspace.id, secure=viewer.secure)
    return response


@router.get("/w/{workspace_id}/logo")
def logo(workspace_id: int, viewer: CurrentViewer) -> Response:
    workspace, _role = viewer.workspace(workspace_id)
    if workspace.logo is None:
        return Response(status_code=404)
    return Response(
        workspace.logo,
        media_type=workspace.logo_content_type or "application/octet-stream",
        headers={
            "Cache-Control": "private, max-age=60",
            "X-Content-Type-Options": "nosniff",
            # An SVG opened on its own must not run scripts in this origin.
            "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; sandbox",
        },
    )


# --- settings --------------------------------------------------------------------------------


def _settings_page(
    viewer: Viewer,
    workspace_id: int,
    *,
    values: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
    logo_error: str | None = None,
    status: int = 200,
) -> Response:
    workspace, role = viewer.workspace(workspace_id, Permission.workspace_update)
    return viewer.render(
        "settings.html",
        active="settings",
        workspace=workspace,
        role=role,
        values=values
        or {
            "name": workspace.name,
            "timezone": workspace.timezone,
            "language": workspace.language,
        },
        errors=errors or {},
        logo_error=logo_error,
        timezone_options=timezone_options(),
        language_options=viewer.language_options(),
        status=status,
    )


@router.get("/w/{workspace_id}/settings")
def settings_page(workspace_id: int, viewer: CurrentViewer) -> Response:
    return _settings_page(viewer, workspace_id)


@router.post("/w/{workspace_id}/settings")
async def save_settings(workspace_id: int, viewer: FormViewer) -> Response:
    viewer.workspace(workspace_id, Permission.workspace_update)
    form = await read_form(viewer.request)
    values = {k: text(form, k) for k in ("name", "timezone", "language")}
    try:
        data = WorkspaceUpdate(**values)
    except ValidationError as exc:
        errors = messages.field_errors(viewer.tr, exc, WORKSPACE_FIELDS)
        return _settings_page(viewer, workspace_id, values=values, errors=errors, status=422)
    accounts.update_workspace(viewer.session, viewer.principal, workspace_id, data)
    response = RedirectResponse(f"/w/{workspace_id}/settings", status_code=303)
    viewer.flash(response, "success", viewer.gettext("Settings saved."))
    return response


@router.post("/w/{workspace_id}/settings/logo")
async def save_logo(workspace_id: int, viewer: FormViewer) -> Response:
    viewer.workspace(workspace_id, Permission.workspace_update)
    form = await read_form(viewer.request)
    file = upload(form, "logo")
    if file is None:
        error = viewer.gettext("Choose an image file.")
        return _settings_page(viewer, workspace_id, logo_error=error, status=422)
    content = await file.read(accounts.MAX_LOGO_BYTES + 1)
    try:
        accounts.set_workspace_logo(
            viewer.session,
            viewer.principal,
            workspace_id,
            content,
            file.content_type or "application/octet-stream",
        )
    except DomainError as exc:
        viewer.session.rollback()
        error = messages.domain_error(viewer.tr, exc)
        return _settings_page(viewer, workspace_id, logo_error=error, status=exc.status)
    response = RedirectResponse(f"/w/{workspace_id}/settings", status_code=303)
    viewer.flash(response, "success", viewer.gettext("Logo updated."))
    return response


# --- audit log -------------------------------------------------------------------------------


def _short(value: Any) -> str:
    shown = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    return shown if len(shown) <= 60 else shown[:59] + "…"


def changes(entry: AuditEntry) -> list[tuple[str, str | None, str | None]]:
    """(field, before, after) for display; ``None`` where a side does not exist."""
    before = entry.before or {}
    after = entry.after or {}
    rows = []
    for key in sorted(set(before) | set(after)):
        if key in ("id", "created_at") or (before.get(key) is None and after.get(key) is None):
            continue
        rows.append(
            (
                key,
                _short(before[key]) if key in before else None,
                _short(after[key]) if key in after else None,
            )
        )
    return rows[:12]


@router.get("/w/{workspace_id}/audit")
def audit_page(workspace_id: int, viewer: CurrentViewer, before: int | None = None) -> Response:
    workspace, role = viewer.workspace(workspace_id, Permission.audit_read)
    entries = accounts.list_audit(
        viewer.session,
        viewer.principal,
        workspace_id,
        limit=AUDIT_PAGE + 1,
        before_id=before if before and before > 0 else None,
    )
    more = len(entries) > AUDIT_PAGE
    entries = entries[:AUDIT_PAGE]
    return viewer.render(
        "audit.html",
        active="audit",
        workspace=workspace,
        role=role,
        entries=[(entry, changes(entry)) for entry in entries],
        older=entries[-1].id if more and entries else None,
        first_page=before is None,
    )
