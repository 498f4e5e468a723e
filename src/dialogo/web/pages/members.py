"""Members of a workspace: list, add by e-mail, change role, remove (htmx forms that also
work without JavaScript). The service decides who may do what; its refusals become messages."""

from __future__ import annotations

from fastapi import APIRouter, Response
from fastapi.responses import RedirectResponse
from pydantic import ValidationError

from dialogo.accounts import service as accounts
from dialogo.accounts.permissions import GRANTABLE, Permission, Role
from dialogo.accounts.schemas import MemberAdd
from dialogo.core.errors import DomainError
from dialogo.core.i18n import N_
from dialogo.web import messages, templating
from dialogo.web.cookies import Flash
from dialogo.web.forms import read_form, text
from dialogo.web.shell import CurrentViewer, FormViewer, Viewer

router = APIRouter()

MEMBER_FIELDS = {
    "email": N_("Enter a valid e-mail address."),
    "role": N_("Choose a role."),
}


def _page(
    viewer: Viewer,
    workspace_id: int,
    *,
    message: Flash | None = None,
    values: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
    status: int = 200,
) -> Response:
    """The whole page, or for htmx only the members section (with its message)."""
    workspace, role = viewer.workspace(workspace_id, Permission.members_read)
    members = accounts.list_members(viewer.session, viewer.principal, workspace_id)
    template = "_members.html" if templating.is_htmx(viewer.request) else "members.html"
    return viewer.render(
        template,
        active="members",
        workspace=workspace,
        role=role,
        members=members,
        can_manage=viewer.can(role, Permission.members_manage),
        grantable=[r for r in Role if r in GRANTABLE.get(role, frozenset())],
        roles=list(Role),
        message=message,
        values=values or {"email": "", "role": Role.viewer.value},
        errors=errors or {},
        status=status,
    )


def _done(viewer: Viewer, workspace_id: int, text_: str, *, left: bool = False) -> Response:
    """After a change: the refreshed section for htmx, else a redirect with a message. When
    the user removed or demoted themselves out of the page, go home."""
    viewer.refresh()
    target = "/" if left else f"/w/{workspace_id}/members"
    if templating.is_htmx(viewer.request):
        if left:
            redirect = Response(headers={"HX-Redirect": target})
            viewer.flash(redirect, "success", text_)
            return redirect
        return _page(viewer, workspace_id, message=Flash("success", text_))
    response = RedirectResponse(target, status_code=303)
    viewer.flash(response, "success", text_)
    return response


def _refused(
    viewer: Viewer,
    workspace_id: int,
    exc: DomainError,
    *,
    values: dict[str, str] | None = None,
    field: str | None = None,
) -> Response:
    viewer.session.rollback()
    viewer.refresh()
    text_ = messages.domain_error(viewer.tr, exc)
    errors = {field: text_} if field else None
    return _page(
        viewer,
        workspace_id,
        message=None if field else Flash("error", text_),
        values=values,
        errors=errors,
        status=exc.status,
    )


@router.get("/w/{workspace_id}/members")
def members_page(workspace_id: int, viewer: CurrentViewer) -> Response:
    return _page(viewer, workspace_id)


@router.post("/w/{workspace_id}/members")
async def add_member(workspace_id: int, viewer: FormViewer) -> Response:
    viewer.workspace(workspace_id, Permission.members_read)
    form = await read_form(viewer.request)
    values = {"email": text(form, "email"), "role": text(form, "role")}
    try:
        data = MemberAdd(**values)
    except ValidationError as exc:
        errors = messages.field_errors(viewer.tr, exc, MEMBER_FIELDS)
        return _page(viewer, workspace_id, values=values, errors=errors, status=422)
    try:
        added = accounts.add_member(viewer.session, viewer.principal, workspace_id, data)
    except DomainError as exc:
        field = "email" if exc.code in ("user_not_found", "already_member") else None
        return _refused(viewer, workspace_id, exc, values=values, field=field)
    return _done(
        viewer,
        workspace_id,
        viewer.gettext("%(email)s was added as %(role)s.")
        % {
            "email": added.email,
            "role": messages.label(viewer.tr, messages.ROLE_LABELS, added.role.value),
        },
    )


@router.post("/w/{workspace_id}/members/{member_id}/role")
async def change_role(workspace_id: int, member_id: int, viewer: FormViewer) -> Response:
    viewer.workspace(workspace_id, Permission.members_read)
    form = await read_form(viewer.request)
    try:
        role = Role(text(form, "role"))
    except ValueError:
        return _page(
            viewer,
            workspace_id,
            message=Flash("error", viewer.gettext("Choose a role.")),
            status=422,
        )
    try:
        member = accounts.update_member_role(
            viewer.session, viewer.principal, workspace_id, member_id, role
        )
    except DomainError as exc:
        return _refused(viewer, workspace_id, exc)
    left = member.user_id == viewer.user.id and not viewer.can(role, Permission.members_read)
    return _done(
        viewer,
        workspace_id,
        viewer.gettext("%(email)s is now %(role)s.")
        % {
            "email": member.email,
            "role": messages.label(viewer.tr, messages.ROLE_LABELS, role.value),
        },
        left=left,
    )


@router.post("/w/{workspace_id}/members/{member_id}/remove")
def remove_member(workspace_id: int, member_id: int, viewer: FormViewer) -> Response:
    viewer.workspace(workspace_id, Permission.members_read)
    listed = accounts.list_members(viewer.session, viewer.principal, workspace_id)
    member = next((m for m in listed if m.id == member_id), None)
    try:
        accounts.remove_member(viewer.session, viewer.principal, workspace_id, member_id)
    except DomainError as exc:
        return _refused(viewer, workspace_id, exc)
    email = member.email if member is not None else ""
    left = member is not None and member.user_id == viewer.user.id
    return _done(
        viewer,
        workspace_id,
        viewer.gettext("%(email)s was removed from the workspace.") % {"email": email},
        left=left,
    )
