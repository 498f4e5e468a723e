"""Listening: write a query, see the matching mentions with their sentiment, correct a label,
save the query, and follow reputation (net sentiment over time, share of voice) in
server-rendered SVG. Forms work without JavaScript: post, then redirect back with a message."""

from __future__ import annotations

import dataclasses
import datetime as dt
from urllib.parse import urlencode

from fastapi import APIRouter, Response
from fastapi.responses import RedirectResponse
from markupsafe import Markup, escape
from pydantic import ValidationError

from dialogo.accounts.permissions import Permission
from dialogo.channels.crypto import CredentialCipher
from dialogo.core.errors import DomainError
from dialogo.listening import service as listening
from dialogo.listening.query import QuerySyntaxError
from dialogo.listening.schemas import QueryCreate, Reputation
from dialogo.web import messages
from dialogo.web.forms import read_form, text
from dialogo.web.shell import CurrentViewer, FormViewer, Viewer

router = APIRouter()
COLOURS = ("#1f6feb", "#d1242f", "#8250df", "#1a7f37", "#bf8700", "#57606a")
LABELS = ("negative", "neutral", "positive")


def _int(value: str | None) -> int | None:
    return int(value) if value and value.isdigit() and len(value) < 19 else None


def _back(viewer: Viewer, workspace_id: int, level: str, message: str, **params: str) -> Response:
    query = urlencode({k: v for k, v in params.items() if v})
    url = f"/w/{workspace_id}/listening" + (f"?{query}" if query else "")
    response = RedirectResponse(url, status_code=303)
    viewer.flash(response, level, message)
    return response


def syntax_message(viewer: Viewer, exc: QuerySyntaxError) -> str:
    return viewer.gettext("The query has an error at character %(position)s: %(reason)s") % {
        "position": exc.position + 1,
        "reason": exc.message,
    }


@dataclasses.dataclass(frozen=True)
class Line:
    name: str
    colour: str
    points: str  # SVG polyline points


def sentiment_chart(rep: Reputation, *, width: int = 640, height: int = 180) -> Markup:
    """Net sentiment per bucket and query, -1 at the bottom, +1 at the top (buckets without
    mentions are left out of the line)."""
    pad = 30
    n = max((len(q.points) for q in rep.queries), default=0)
    if n == 0:
        return Markup("")
    step = (width - 2 * pad) / max(n - 1, 1)

    def y(v: float) -> float:
        return pad + (1 - (v + 1) / 2) * (height - 2 * pad)

    parts = [
        f'<svg class="listening-chart" viewBox="0 0 {width} {height}" role="img" '
        f'aria-labelledby="sentiment-chart-title" xmlns="http://www.w3.org/2000/svg">',
        f'<line x1="{pad}" x2="{width - pad}" y1="{y(0):.1f}" y2="{y(0):.1f}" '
        'stroke="#999" stroke-dasharray="4 3"/>',
        f'<text x="2" y="{y(1) + 4:.1f}" font-size="10">+1</text>',
        f'<text x="2" y="{y(-1) + 4:.1f}" font-size="10">−1</text>',
    ]
    for i, q in enumerate(rep.queries):
        colour = COLOURS[i % len(COLOURS)]
        pts = [f"{pad + j * step:.1f},{y(p.net):.1f}" for j, p in enumerate(q.points) if p.volume]
        for pt in pts:
            cx, cy = pt.split(",")
            parts.append(f'<circle cx="{cx}" cy="{cy}" r="3" fill="{colour}"/>')
        if pts:
            parts.append(
                f'<polyline class="series" data-query="{q.query_id}" fill="none" '
                f'stroke="{colour}" stroke-width="2" points="{" ".join(pts)}">'
                f"<title>{escape(q.name)}</title></polyline>"
            )
    parts.append("</svg>")
    return Markup("".join(parts))  # noqa: S704 - numbers and escape()d names only


def share_chart(rep: Reputation, *, width: int = 640) -> Markup:
    """Share of voice of the brand and competitor queries, as one stacked bar."""
    shares = [q for q in rep.queries if q.kind in ("brand", "competitor") and q.share_of_voice]
    if not shares:
        return Markup("")
    parts = [
        f'<svg class="listening-share" viewBox="0 0 {width} 28" role="img" '
        f'aria-labelledby="share-chart-title" xmlns="http://www.w3.org/2000/svg">'
    ]
    x = 0.0
    for i, q in enumerate(rep.queries):
        if q not in shares:
            continue
        w = q.share_of_voice * width
        parts.append(
            f'<rect class="share" data-query="{q.query_id}" x="{x:.1f}" y="0" width="{w:.1f}" '
            f'height="28" fill="{COLOURS[i % len(COLOURS)]}"><title>{escape(q.name)} '
            f"{q.share_of_voice:.0%}</title></rect>"
        )
        x += w
    parts.append("</svg>")
    return Markup("".join(parts))  # noqa: S704 - numbers and escape()d names only


@router.get("/w/{workspace_id}/listening")
def listening_page(
    workspace_id: int,
    viewer: CurrentViewer,
    q: str | None = None,
    query: str | None = None,
    label: str | None = None,
    days: str | None = None,
) -> Response:
    workspace, role = viewer.workspace(workspace_id, Permission.listening_read)
    can_manage = viewer.can(role, Permission.listening_manage)
    queries = listening.list_queries(viewer.session, viewer.principal, workspace_id)
    query_id = _int(query)
    if query_id is not None and all(x.id != query_id for x in queries):
        query_id = None
    search = (q or "").strip()[:2000]
    error: str | None = None
    mentions = []
    try:
        mentions = listening.list_mentions(
            viewer.session,
            viewer.principal,
            workspace_id,
            query_id=query_id,
            search=search or None,
            label=label if label in LABELS else None,
            limit=100,
        )
    except QuerySyntaxError as exc:
        error = syntax_message(viewer, exc)
    span = _int(days) or 30
    span = min(max(span, 1), 365)
    end = viewer.ctx.clock.now()
    rep = listening.reputation(
        viewer.session,
        viewer.principal,
        workspace_id,
        start=end - dt.timedelta(days=span),
        end=end,
        bucket="day",
    )
    colours = {x.query_id: COLOURS[i % len(COLOURS)] for i, x in enumerate(rep.queries)}
    alerts = listening.list_alerts(viewer.session, viewer.principal, workspace_id, limit=10)
    gazetteer = listening.workspace_gazetteer(viewer.session, workspace_id)
    # Labelling requests on the plain page only: a search shows its results alone.
    requests, judged_by = (
        listening.to_label(viewer.session, viewer.principal, workspace_id)
        if can_manage and not search and query_id is None and not label
        else ([], "")
    )
    names = {m.id: gazetteer.find(m.text) for m in mentions} if gazetteer else {}
    return viewer.render(
        "listening.html",
        active="listening",
        workspace=workspace,
        role=role,
        can_manage=can_manage,
        queries=queries,
        query_id=query_id,
        search=search,
        label=label if label in LABELS else "",
        label_choices=LABELS,
        mentions=mentions,
        error=error,
        reputation=rep,
        colours=colours,
        days=span,
        sentiment_chart=sentiment_chart(rep),
        share_chart=share_chart(rep),
        alerts=alerts,
        names=names,
        label_requests=requests,
        judged_by=judged_by,
        query_names={x.id: x.name for x in queries},
        status=422 if error else 200,
    )


def spike_chart(crisis: listening.Crisis, *, width: int = 640, height: int = 160) -> Markup:
    """Mentions per hour (negative ones darker) over the last two days, with the hour-of-week
    baseline as a dashed line; the alert's hour is the last bar."""
    pad = 24
    n = len(crisis.volume)
    if n == 0:
        return Markup("")
    top = max(max(crisis.volume), max(crisis.expected), 1.0)
    bar = (width - 2 * pad) / n

    def y(v: float) -> float:
        return height - pad - v / top * (height - 2 * pad)

    parts = [
        f'<svg class="listening-spike" viewBox="0 0 {width} {height}" role="img" '
        f'aria-labelledby="spike-chart-title" xmlns="http://www.w3.org/2000/svg">',
        f'<text x="2" y="{y(top) + 4:.1f}" font-size="10">{int(top)}</text>',
        f'<text x="2" y="{y(0) + 4:.1f}" font-size="10">0</text>',
    ]
    for i, (vol, neg) in enumerate(zip(crisis.volume, crisis.negative, strict=True)):
        x = pad + i * bar
        last = " spike" if i == n - 1 else ""
        parts.append(
            f'<rect class="hour{last}" x="{x:.1f}" y="{y(vol):.1f}" width="{bar * 0.8:.1f}" '
            f'height="{y(0) - y(vol):.1f}" fill="#8c959f"><title>{vol}</title></rect>'
        )
        if neg:
            parts.append(
                f'<rect class="hour-negative" x="{x:.1f}" y="{y(neg):.1f}" '
                f'width="{bar * 0.8:.1f}" height="{y(0) - y(neg):.1f}" fill="#d1242f"/>'
            )
    pts = " ".join(f"{pad + (i + 0.4) * bar:.1f},{y(v):.1f}" for i, v in enumerate(crisis.expected))
    parts.append(
        f'<polyline class="baseline" fill="none" stroke="#1f6feb" stroke-width="2" '
        f'stroke-dasharray="5 3" points="{pts}"/>'
    )
    parts.append("</svg>")
    return Markup("".join(parts))  # noqa: S704 - numbers only


@router.get("/w/{workspace_id}/listening/alerts/{alert_id}")
def crisis_page(workspace_id: int, alert_id: int, viewer: CurrentViewer) -> Response:
    workspace, role = viewer.workspace(workspace_id, Permission.listening_read)
    crisis = listening.get_crisis(viewer.session, viewer.principal, workspace_id, alert_id)
    return viewer.render(
        "listening_crisis.html",
        active="listening",
        workspace=workspace,
        role=role,
        crisis=crisis,
        spike_chart=spike_chart(crisis),
    )


@router.post("/w/{workspace_id}/listening/queries")
async def save_query(workspace_id: int, viewer: FormViewer) -> Response:
    viewer.workspace(workspace_id, Permission.listening_manage)
    form = await read_form(viewer.request)
    search = text(form, "query")
    try:
        data = QueryCreate(
            name=text(form, "name") or search[:200],
            query=search,
            kind=text(form, "kind") or "brand",
        )
        saved = listening.create_query(viewer.session, viewer.principal, workspace_id, data)
    except QuerySyntaxError as exc:
        viewer.session.rollback()
        return _back(viewer, workspace_id, "error", syntax_message(viewer, exc), q=search)
    except ValidationError:
        viewer.session.rollback()
        return _back(
            viewer,
            workspace_id,
            "error",
            viewer.gettext("Give the query a name and a kind (brand, competitor or topic)."),
            q=search,
        )
    except DomainError as exc:
        viewer.session.rollback()
        return _back(viewer, workspace_id, "error", messages.domain_error(viewer.tr, exc), q=search)
    return _back(
        viewer,
        workspace_id,
        "success",
        viewer.gettext("Query “%(name)s” saved.") % {"name": saved.name},
        query=str(saved.id),
    )


@router.post("/w/{workspace_id}/listening/mentions/{mention_id}/label")
async def correct_label(workspace_id: int, mention_id: int, viewer: FormViewer) -> Response:
    viewer.workspace(workspace_id, Permission.listening_manage)
    form = await read_form(viewer.request)
    back = {"q": text(form, "q"), "query": text(form, "query_id")}
    try:
        listening.correct_label(
            viewer.session, viewer.principal, workspace_id, mention_id, text(form, "label")
        )
    except DomainError as exc:
        viewer.session.rollback()
        return _back(viewer, workspace_id, "error", messages.domain_error(viewer.tr, exc), **back)
    return _back(
        viewer, workspace_id, "success", viewer.gettext("Label corrected, thank you."), **back
    )


@router.post("/w/{workspace_id}/listening/ingest")
async def ingest_now(workspace_id: int, viewer: FormViewer) -> Response:
    viewer.workspace(workspace_id, Permission.listening_manage)
    result = listening.ingest_channels(
        viewer.session,
        workspace_id,
        registry=viewer.ctx.providers,
        cipher=CredentialCipher.from_settings(viewer.ctx.settings),
        emotion_model=listening.emotion_model_for(viewer.ctx.settings),
    )
    message = viewer.tr.ngettext(
        "%(num)d new mention from the channels.",
        "%(num)d new mentions from the channels.",
        result.stored,
    ) % {"num": result.stored}
    if result.errors:
        message += " " + viewer.gettext("Some channels failed: %(errors)s") % {
            "errors": "; ".join(result.errors)
        }
    return _back(viewer, workspace_id, "error" if result.errors else "success", message)


@router.get("/w/{workspace_id}/listening/topics")
def topics_page(
    workspace_id: int, viewer: CurrentViewer, query: str | None = None, days: str | None = None
) -> Response:
    workspace, role = viewer.workspace(workspace_id, Permission.listening_read)
    queries = listening.list_queries(viewer.session, viewer.principal, workspace_id)
    query_id = _int(query)
    if query_id is not None and all(x.id != query_id for x in queries):
        query_id = None
    span = min(max(_int(days) or 30, 1), 365)
    view = listening.topics_view(
        viewer.session,
        viewer.principal,
        workspace_id,
        now=viewer.ctx.clock.now(),
        days=span,
        query_id=query_id,
    )
    return viewer.render(
        "listening_topics.html",
        active="listening",
        workspace=workspace,
        role=role,
        view=view,
        queries=queries,
        query_id=query_id,
    )
