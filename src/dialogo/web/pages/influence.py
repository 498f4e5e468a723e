"""Word of mouth: the interaction graph's summary, the influencer ranking (sortable, by topic)
and advocate selection (budget, exclusions, IC/LT) with the forecast spread, explained per
advocate, and user-generated content: customers' positive posts about the brand, the rights
requests made from the inbox and the authors' answers. Forms work without JavaScript; with
htmx only the result is swapped in."""

from __future__ import annotations

from fastapi import APIRouter, Response
from fastapi.responses import RedirectResponse
from starlette.concurrency import run_in_threadpool

from dialogo.accounts.permissions import Permission
from dialogo.channels.crypto import CredentialCipher
from dialogo.core.errors import DomainError
from dialogo.core.i18n import N_
from dialogo.influence import refresh, service, ugc
from dialogo.web import messages, templating
from dialogo.web.cookies import Flash
from dialogo.web.forms import read_form, text
from dialogo.web.shell import CurrentViewer, FormViewer, Viewer

router = APIRouter()

SORT_LABELS = {
    "rank": N_("Overall score"),
    "followers": N_("Reach (followers)"),
    "engagement": N_("Engagement"),
    "pagerank": N_("PageRank"),
    "core": N_("k-core"),
    "topic": N_("Topic relevance"),
}


def _ids(raw: str) -> list[int]:
    out: list[int] = []
    for part in raw.replace(",", " ").split():
        if not part.isdigit():
            raise ValueError(part)
        out.append(int(part))
    return out


def _render(
    viewer: Viewer,
    workspace_id: int,
    *,
    sort: str = "rank",
    topic: str = "",
    values: dict[str, str] | None = None,
    plan: service.AdvocatePlan | None = None,
    message: Flash | None = None,
    status: int = 200,
    partial: bool = False,
) -> Response:
    workspace, role = viewer.workspace(workspace_id, Permission.audience_read)
    summary = service.graph_summary(viewer.session, viewer.principal, workspace_id)
    total, ranked = service.rankings(
        viewer.session,
        viewer.principal,
        workspace_id,
        sort=sort if sort in service.SORTS else "rank",
        topic=topic or None,
        limit=25,
    )
    return viewer.render(
        "_influence_advocates.html" if partial else "influence.html",
        active="influence",
        workspace=workspace,
        role=role,
        status=status,
        summary=summary,
        total=total,
        ranked=ranked,
        sort=sort,
        topic=topic,
        sorts=[(k, viewer.gettext(v)) for k, v in SORT_LABELS.items()],
        values=values or {"k": "5", "model": "ic", "exclude": "", "exclude_segment": ""},
        plan=plan,
        message=message,
        can_manage=viewer.can(role, Permission.audience_manage),
    )


@router.get("/w/{workspace_id}/influence")
def influence_page(
    workspace_id: int, viewer: CurrentViewer, sort: str = "rank", topic: str = ""
) -> Response:
    return _render(viewer, workspace_id, sort=sort, topic=topic.strip())


@router.post("/w/{workspace_id}/influence/advocates")
async def advocates(workspace_id: int, viewer: FormViewer) -> Response:
    viewer.workspace(workspace_id, Permission.audience_read)
    form = await read_form(viewer.request)
    values = {k: text(form, k) for k in ("k", "model", "exclude", "exclude_segment")}
    partial = templating.is_htmx(viewer.request)
    try:
        k = int(values["k"] or "5")
        exclude = _ids(values["exclude"])
    except ValueError:
        message = Flash(
            "error",
            viewer.gettext(
                "Enter a whole number of advocates, and the contacts never to choose as "
                "numbers separated by commas or spaces."
            ),
        )
        return _render(
            viewer, workspace_id, values=values, message=message, status=422, partial=partial
        )
    try:
        plan = await run_in_threadpool(
            service.select_advocates,
            viewer.session,
            viewer.principal,
            workspace_id,
            k=k,
            model=values["model"] or "ic",
            exclude=exclude,
            exclude_segment=values["exclude_segment"] or None,
        )
    except DomainError as exc:
        message = Flash("error", messages.domain_error(viewer.tr, exc))
        return _render(
            viewer,
            workspace_id,
            values=values,
            message=message,
            status=exc.status,
            partial=partial,
        )
    return _render(viewer, workspace_id, values=values, plan=plan, partial=partial)


@router.post("/w/{workspace_id}/influence/rebuild")
async def rebuild(workspace_id: int, viewer: FormViewer) -> Response:
    viewer.workspace(workspace_id, Permission.audience_manage)
    await read_form(viewer.request)
    summary = await run_in_threadpool(
        refresh.rebuild,
        viewer.session,
        viewer.principal,
        workspace_id,
        registry=viewer.ctx.providers,
        cipher=CredentialCipher.from_settings(viewer.ctx.settings),
    )
    response = RedirectResponse(f"/w/{workspace_id}/influence", status_code=303)
    viewer.flash(
        response,
        "success",
        viewer.gettext("Graph rebuilt: %(people)s, %(connections)s.")
        % {
            "people": viewer.tr.ngettext("%(num)d person", "%(num)d people", summary.nodes)
            % {"num": summary.nodes},
            "connections": viewer.tr.ngettext(
                "%(num)d connection", "%(num)d connections", summary.arcs
            )
            % {"num": summary.arcs},
        },
    )
    return response


@router.get("/w/{workspace_id}/influence/ugc")
def ugc_section(workspace_id: int, viewer: CurrentViewer, media_only: bool = False) -> Response:
    """The UGC section (htmx): candidates and the rights requests with their status."""
    workspace, role = viewer.workspace(workspace_id, Permission.audience_read)
    found = ugc.candidates(
        viewer.session, viewer.principal, workspace_id, media_only=media_only, limit=20
    )
    requests = ugc.list_requests(viewer.session, viewer.principal, workspace_id)
    return viewer.render(
        "_influence_ugc.html",
        active="influence",
        workspace=workspace,
        role=role,
        candidates=found,
        requests=requests,
        media_only=media_only,
        can_manage=viewer.can(role, Permission.audience_manage),
    )


@router.post("/w/{workspace_id}/influence/ugc/requests")
async def ugc_request(workspace_id: int, viewer: FormViewer) -> Response:
    viewer.workspace(workspace_id, Permission.audience_manage)
    form = await read_form(viewer.request)
    response = RedirectResponse(f"/w/{workspace_id}/influence#ugc-title", status_code=303)
    try:
        ugc.request_rights(
            viewer.session,
            viewer.principal,
            workspace_id,
            text(form, "item_key"),
            text(form, "request_text"),
        )
    except DomainError as exc:
        viewer.flash(response, "error", messages.domain_error(viewer.tr, exc))
        return response
    viewer.flash(response, "success", viewer.gettext("Rights request recorded."))
    return response


@router.post("/w/{workspace_id}/influence/ugc/requests/{request_id}/answer")
async def ugc_answer(workspace_id: int, request_id: int, viewer: FormViewer) -> Response:
    viewer.workspace(workspace_id, Permission.audience_manage)
    form = await read_form(viewer.request)
    response = RedirectResponse(f"/w/{workspace_id}/influence#ugc-title", status_code=303)
    try:
        ugc.record_answer(
            viewer.session,
            viewer.principal,
            workspace_id,
            request_id,
            text(form, "status"),
            text(form, "rights"),
        )
    except DomainError as exc:
        viewer.flash(response, "error", messages.domain_error(viewer.tr, exc))
        return response
    viewer.flash(response, "success", viewer.gettext("Answer recorded."))
    return response
