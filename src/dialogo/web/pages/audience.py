"""Audience: the contacts' profiles filtered by a targeting expression, the expression editor
with its live size (htmx; a mistake is shown with its column), saved segments and their
overlaps, custom-audience exports (Meta / Google CSV) and the CRM CSV import with a column
mapping step and per-line errors (nothing is imported when a line is wrong)."""

from __future__ import annotations

import csv
import urllib.parse
from collections.abc import Mapping
from typing import Any

from fastapi import APIRouter, Response
from fastapi.responses import RedirectResponse
from starlette.concurrency import run_in_threadpool

from dialogo.accounts.permissions import Permission
from dialogo.audience import receptiveness, service
from dialogo.audience.segments import SegmentSyntaxError
from dialogo.core.errors import DomainError
from dialogo.web import messages
from dialogo.web.cookies import Flash
from dialogo.web.forms import read_form, text, upload
from dialogo.web.shell import CurrentViewer, FormViewer, Viewer

router = APIRouter()
MAX_UPLOAD = 20 * 1024 * 1024


def _guess(column: str) -> str:
    """The field a CSV column most likely holds (the mapping form's default)."""
    key = column.strip().lower().replace(" ", "_").replace("-", "_")
    aliases = {
        "e_mail": "email",
        "mail": "email",
        "telefono": "phone",
        "tel": "phone",
        "nome": "first_name",
        "cognome": "last_name",
        "età": "age",
        "eta": "age",
        "sesso": "sex",
        "gender": "sex",
        "città": "place",
        "city": "place",
        "regione": "region",
        "paese": "country",
        "interessi": "interests",
        "id": "external_id",
    }
    key = aliases.get(key, key)
    return key if key in service.FIELDS else ""


def _size(viewer: Viewer, workspace_id: int, expression: str) -> tuple[int | None, str | None]:
    if not expression.strip():
        return None, None
    try:
        return service.segment_size(
            viewer.session, viewer.principal, workspace_id, expression
        ), None
    except SegmentSyntaxError as exc:
        return None, viewer.gettext("Column %(column)d: %(problem)s") % {
            "column": exc.column,
            "problem": exc.message.split(": ", 1)[-1],
        }


def _render(
    viewer: Viewer,
    workspace_id: int,
    *,
    expression: str = "",
    name: str = "",
    message: Flash | None = None,
    import_errors: list[dict[str, object]] | None = None,
    mapping: Mapping[str, Any] | None = None,
    status: int = 200,
) -> Response:
    workspace, role = viewer.workspace(workspace_id, Permission.audience_read)
    size, error = _size(viewer, workspace_id, expression)
    total, rows = service.list_profiles(
        viewer.session,
        viewer.principal,
        workspace_id,
        expression=expression if error is None else None,
        limit=50,
    )
    segments = service.list_segments(viewer.session, viewer.principal, workspace_id)
    overlap = (
        service.overlaps(
            viewer.session, viewer.principal, workspace_id, [s.id for s in segments[:8]]
        )
        if len(segments) >= 2
        else None
    )
    return viewer.render(
        "audience.html",
        active="audience",
        workspace=workspace,
        role=role,
        status=status,
        expression=expression,
        name=name,
        size=size,
        error=error,
        total=total,
        rows=rows,
        segments=segments,
        overlap=overlap,
        message=message,
        import_errors=import_errors or [],
        mapping=mapping,
        fields=service.FIELDS,
        can_manage=viewer.can(role, Permission.audience_manage),
        can_export=viewer.can(role, Permission.audience_export),
        quoted=urllib.parse.quote(expression),
    )


@router.get("/w/{workspace_id}/audience")
def audience_page(workspace_id: int, viewer: CurrentViewer, expression: str = "") -> Response:
    return _render(viewer, workspace_id, expression=expression.strip())


@router.post("/w/{workspace_id}/audience/size")
async def live_size(workspace_id: int, viewer: FormViewer) -> Response:
    workspace, role = viewer.workspace(workspace_id, Permission.audience_read)
    form = await read_form(viewer.request)
    expression = text(form, "expression")
    size, error = _size(viewer, workspace_id, expression)
    return viewer.render(
        "_audience_size.html",
        active="audience",
        workspace=workspace,
        role=role,
        size=size,
        error=error,
        expression=expression,
        quoted=urllib.parse.quote(expression),
        can_export=viewer.can(role, Permission.audience_export),
        oob=True,
    )


@router.post("/w/{workspace_id}/audience/segments")
async def save_segment(workspace_id: int, viewer: FormViewer) -> Response:
    viewer.workspace(workspace_id, Permission.audience_read)
    form = await read_form(viewer.request)
    name, expression = text(form, "name"), text(form, "expression")
    try:
        segment = service.create_segment(
            viewer.session, viewer.principal, workspace_id, name, expression
        )
    except DomainError as exc:
        message = Flash("error", messages.domain_error(viewer.tr, exc))
        return _render(
            viewer,
            workspace_id,
            expression=expression,
            name=name,
            message=message,
            status=exc.status,
        )
    response = RedirectResponse(
        f"/w/{workspace_id}/audience?expression={urllib.parse.quote(expression)}", status_code=303
    )
    viewer.flash(
        response, "success", viewer.gettext("Segment %(name)s saved.") % {"name": segment.name}
    )
    return response


@router.post("/w/{workspace_id}/audience/segments/{segment_id}/delete")
async def delete_segment(workspace_id: int, segment_id: int, viewer: FormViewer) -> Response:
    await read_form(viewer.request)
    service.delete_segment(viewer.session, viewer.principal, workspace_id, segment_id)
    response = RedirectResponse(f"/w/{workspace_id}/audience", status_code=303)
    viewer.flash(response, "success", viewer.gettext("Segment deleted."))
    return response


@router.get("/w/{workspace_id}/audience/export")
def export(
    workspace_id: int, viewer: CurrentViewer, expression: str, format: str = "meta"
) -> Response:
    viewer.workspace(workspace_id, Permission.audience_read)
    try:
        content, _rows = service.export_audience(
            viewer.session, viewer.principal, workspace_id, expression, format
        )
    except DomainError as exc:
        message = Flash("error", messages.domain_error(viewer.tr, exc))
        return _render(
            viewer, workspace_id, expression=expression, message=message, status=exc.status
        )
    return Response(
        content,
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="audience-{format}.csv"'},
    )


@router.post("/w/{workspace_id}/audience/import")
async def import_crm(workspace_id: int, viewer: FormViewer) -> Response:
    """Step 1 (a file): show its columns with a field for each. Step 2 (``content`` and the
    ``map_<i>`` choices): import, or show every bad line."""
    viewer.workspace(workspace_id, Permission.audience_manage)
    form = await read_form(viewer.request)
    file = upload(form, "file")
    if file is not None:
        raw = await file.read(MAX_UPLOAD + 1)
        if len(raw) > MAX_UPLOAD:
            message = Flash("error", viewer.gettext("The file is larger than 20 MB."))
            return _render(viewer, workspace_id, message=message, status=413)
        try:
            content = raw.decode("utf-8-sig")
        except UnicodeDecodeError:
            message = Flash("error", viewer.gettext("The file is not UTF-8 text."))
            return _render(viewer, workspace_id, message=message, status=422)
        header = content.splitlines()[0] if content.strip() else ""
        columns = next(csv.reader([header]), []) if header else []
        if not columns:
            message = Flash("error", viewer.gettext("The file is empty."))
            return _render(viewer, workspace_id, message=message, status=422)
        mapping = {
            "content": content,
            "columns": [(i, c, _guess(c)) for i, c in enumerate(columns)],
        }
        return _render(viewer, workspace_id, mapping=mapping)
    content = text(form, "content", strip=False)
    header = content.splitlines()[0] if content.strip() else ""
    columns = next(csv.reader([header]), []) if header else []
    chosen = {
        c.strip().lstrip("\ufeff"): text(form, f"map_{i}")
        for i, c in enumerate(columns)
        if text(form, f"map_{i}")
    }
    try:
        result = await run_in_threadpool(
            service.import_csv, viewer.session, viewer.principal, workspace_id, content, chosen
        )
    except DomainError as exc:
        errors = list(exc.details.get("errors", []))
        message = Flash("error", messages.domain_error(viewer.tr, exc))
        mapping = {
            "content": content,
            "columns": [(i, c, chosen.get(c, "")) for i, c in enumerate(columns)],
        }
        return _render(
            viewer,
            workspace_id,
            message=message,
            import_errors=errors,
            mapping=mapping,
            status=exc.status,
        )
    response = RedirectResponse(f"/w/{workspace_id}/audience", status_code=303)
    viewer.flash(
        response,
        "success",
        viewer.gettext("Imported: %(created)s, %(updated)s.")
        % {
            "created": viewer.tr.ngettext(
                "%(num)d new contact", "%(num)d new contacts", result.created
            )
            % {"num": result.created},
            "updated": viewer.tr.ngettext(
                "%(num)d updated contact", "%(num)d updated contacts", result.updated
            )
            % {"num": result.updated},
        },
    )
    return response


@router.get("/w/{workspace_id}/audience/receptiveness")
def receptive_segments(
    workspace_id: int, viewer: CurrentViewer, experiment: int | None = None, model: str = ""
) -> Response:
    """The "Receptive segments" section (htmx): segments ranked by an uplift model fitted on
    a past campaign with a control group."""
    workspace, role = viewer.workspace(workspace_id, Permission.audience_read)
    experiments = receptiveness.list_experiments(viewer.session, viewer.principal, workspace_id)
    chosen = next((e for e in experiments if e.id == experiment), None) or (
        experiments[0] if experiments else None
    )
    model = model if model in ("two_model", "class_transformation") else "two_model"
    result, error = None, None
    if chosen is not None:
        try:
            result = receptiveness.rank_segments(
                viewer.session, viewer.principal, workspace_id, chosen.id, model=model
            )
        except DomainError as exc:
            error = messages.domain_error(viewer.tr, exc)
    return viewer.render(
        "_audience_receptive.html",
        active="audience",
        workspace=workspace,
        role=role,
        experiments=experiments,
        chosen=chosen,
        model=model,
        result=result,
        error=error,
    )


@router.get("/w/{workspace_id}/audience/contacts/{contact_id}")
def contact_profile(workspace_id: int, contact_id: int, viewer: CurrentViewer) -> Response:
    """One contact's profile: demographics and interests with their source and confidence."""
    workspace, role = viewer.workspace(workspace_id, Permission.audience_read)
    contact, profile, interests = service.get_profile(
        viewer.session, viewer.principal, workspace_id, contact_id
    )
    return viewer.render(
        "audience_contact.html",
        active="audience",
        workspace=workspace,
        role=role,
        contact=contact,
        profile=profile,
        interests=sorted(interests, key=lambda i: (-(i.confidence or 0.0), -i.score, i.interest)),
    )
