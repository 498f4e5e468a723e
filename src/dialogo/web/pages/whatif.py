"""What-if: plan a campaign (posts with times and topics, advocates asked to share, a paid
budget) and see what the sandbox world forecasts for it, with intervals. A form that works
without JavaScript; with htmx only the result is swapped in."""

from __future__ import annotations

import dataclasses
import datetime as dt
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Response
from pydantic import ValidationError
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData

from dialogo.accounts.models import Workspace
from dialogo.accounts.permissions import Permission
from dialogo.channels.crypto import CredentialCipher
from dialogo.core.errors import DomainError
from dialogo.core.i18n import N_
from dialogo.demo import whatif
from dialogo.demo.schemas import MAX_POSTS, WhatIfIn, WhatIfOut
from dialogo.simulation.taxonomy import TOPICS
from dialogo.web import messages, templating
from dialogo.web.cookies import Flash
from dialogo.web.forms import read_form, text
from dialogo.web.shell import CurrentViewer, FormViewer, Viewer
from dialogo.web.templating import NC_

router = APIRouter()

ROWS = 3  # planned posts shown on a fresh form
METRICS = (
    ("reach", N_("People reached")),
    ("impressions", N_("Impressions")),
    ("engagement", N_("Engagement (likes, replies, reposts)")),
    ("clicks", N_("Link clicks")),
    ("purchases", N_("Orders")),
    ("revenue_eur", N_("Revenue (€)")),
)
TOPIC_LABELS = {
    "coffee": N_("Coffee"),
    "food": N_("Food"),
    "running": NC_("sport, a topic people talk about", "Running"),
    "fitness": N_("Fitness"),
    "travel": N_("Travel"),
    "fashion": N_("Fashion"),
    "tech": N_("Technology"),
    "music": N_("Music"),
    "football": N_("Football"),
    "family": N_("Family"),
    "sustainability": N_("Sustainability"),
    "cinema": N_("Cinema"),
}


@dataclasses.dataclass
class PlanRow:
    at: str  # datetime-local value, in the workspace's time zone
    topic: str
    media: bool


def _fresh_rows(viewer: Viewer, workspace: Workspace) -> list[PlanRow]:
    zone = ZoneInfo(workspace.timezone)
    today = viewer.ctx.clock.now().astimezone(zone).date()
    hours = (10, 18, 13)
    topics = ("coffee", "sustainability", "food")
    return [
        PlanRow(
            at=dt.datetime.combine(
                today + dt.timedelta(days=k + 1), dt.time(hours[k % 3])
            ).strftime("%Y-%m-%dT%H:%M"),
            topic=topics[k % 3],
            media=k == 0,
        )
        for k in range(ROWS)
    ]


def _render(
    viewer: Viewer,
    workspace_id: int,
    *,
    rows: list[PlanRow] | None = None,
    values: dict[str, str] | None = None,
    result: WhatIfOut | None = None,
    message: Flash | None = None,
    status: int = 200,
) -> Response:
    workspace, role = viewer.workspace(workspace_id, Permission.posts_read)
    suggestions: list[str] = []
    ready = True
    try:
        _channel, world = whatif.sandbox_world(
            viewer.session,
            workspace_id,
            registry=viewer.ctx.providers,
            cipher=CredentialCipher.from_settings(viewer.ctx.settings),
        )
        suggestions = whatif.suggested_advocates(world)
    except DomainError:
        ready = False
    htmx = templating.is_htmx(viewer.request)
    return viewer.render(
        "_whatif_result.html" if htmx and rows is not None else "whatif.html",
        active="whatif",
        workspace=workspace,
        role=role,
        status=status,
        ready=ready,
        rows=rows or _fresh_rows(viewer, workspace),
        values=values or {"budget": "50", "runs": "100", "advocates": ""},
        topics=[(t, viewer.gettext(TOPIC_LABELS.get(t, t))) for t in TOPICS],
        suggestions=suggestions,
        result=result,
        metrics=[(key, viewer.gettext(label)) for key, label in METRICS],
        message=message,
        max_posts=MAX_POSTS,
    )


def refusal(viewer: Viewer, exc: DomainError) -> str:
    """The service's refusal in the viewer's language."""
    if exc.code == "no_sandbox_channel":
        return viewer.gettext(
            "What-if runs on the sandbox network: connect a sandbox channel first."
        )
    if exc.code == "unknown_advocate":
        handles = ", ".join("@" + str(h) for h in exc.details.get("handles", []))
        return viewer.gettext("No one in the sandbox is called %(handles)s.") % {"handles": handles}
    if exc.code == "unknown_segment":
        return viewer.gettext("Unknown audience segment.")
    return messages.domain_error(viewer.tr, exc)


@router.get("/w/{workspace_id}/whatif")
def whatif_page(workspace_id: int, viewer: CurrentViewer) -> Response:
    return _render(viewer, workspace_id)


def _read(
    form: FormData, zone: ZoneInfo
) -> tuple[list[PlanRow], dict[str, str], dict[str, object], list[str]]:
    """(rows to show again, values to show again, the request body, problems)."""
    rows: list[PlanRow] = []
    posts: list[dict[str, object]] = []
    problems: list[str] = []
    for k in range(MAX_POSTS):
        at, topic = text(form, f"at_{k}"), text(form, f"topic_{k}")
        if not at and f"at_{k}" not in form:
            break
        media = text(form, f"media_{k}") == "on"
        rows.append(PlanRow(at=at, topic=topic, media=media))
        if not at:
            continue  # an empty row is left out
        try:
            when = dt.datetime.fromisoformat(at).replace(tzinfo=zone)
        except ValueError:
            problems.append(N_("A post's date and time is not valid."))
            continue
        posts.append({"at": when, "topic": topic, "media": media})
    values = {k: text(form, k) for k in ("budget", "runs", "advocates")}
    handles = [h.lstrip("@") for h in values["advocates"].replace(",", " ").split() if h]
    body: dict[str, object] = {
        "posts": posts,
        "advocates": handles,
        "budget_eur": values["budget"] or "0",
        "runs": values["runs"] or "100",
    }
    return rows, values, body, problems


@router.post("/w/{workspace_id}/whatif")
async def whatif_run(workspace_id: int, viewer: FormViewer) -> Response:
    workspace, _role = viewer.workspace(workspace_id, Permission.posts_read)
    form = await read_form(viewer.request)
    rows, values, body, problems = _read(form, ZoneInfo(workspace.timezone))
    if problems:
        text_ = viewer.gettext(problems[0])
        return _render(
            viewer,
            workspace_id,
            rows=rows,
            values=values,
            message=Flash("error", text_),
            status=422,
        )
    if not body["posts"]:
        message = Flash("error", viewer.gettext("Plan at least one post."))
        return _render(viewer, workspace_id, rows=rows, values=values, message=message, status=422)
    try:
        data = WhatIfIn.model_validate(body)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        message = Flash(
            "error",
            viewer.gettext("Check the plan: %(problem)s") % {"problem": f"{where}: {first['msg']}"},
        )
        return _render(viewer, workspace_id, rows=rows, values=values, message=message, status=422)
    try:
        result = await run_in_threadpool(
            whatif.run_whatif,
            viewer.session,
            viewer.principal,
            workspace_id,
            data,
            registry=viewer.ctx.providers,
            cipher=CredentialCipher.from_settings(viewer.ctx.settings),
        )
    except DomainError as exc:
        message = Flash("error", refusal(viewer, exc))
        return _render(
            viewer, workspace_id, rows=rows, values=values, message=message, status=exc.status
        )
    return _render(viewer, workspace_id, rows=rows, values=values, result=result)
