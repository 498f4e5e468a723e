"""Measurement dashboard: charts (server-rendered SVG), top posts, ROI per campaign and
channel, attribution models side by side, the best hours to post, short links, conversions
and spend (forms that work without JavaScript: post, then redirect back with a message)."""

from __future__ import annotations

import datetime as dt
import decimal
from typing import Any, Literal

from babel.dates import get_day_names
from fastapi import APIRouter, Response
from fastapi.responses import RedirectResponse
from markupsafe import Markup
from pydantic import ValidationError

from dialogo.accounts.models import Workspace
from dialogo.accounts.permissions import Permission
from dialogo.analytics import (
    benchmarking,
    besttime,
    charts,
    conversions,
    experiments,
    exports,
    links,
    predict,
    rendering,
    reports,
    schedules,
)
from dialogo.analytics.rendering import ReportView
from dialogo.analytics.schemas import ConversionIn, LinkCreate, SpendIn
from dialogo.channels import service as channels
from dialogo.core.errors import DomainError
from dialogo.publishing import service as publishing
from dialogo.web.forms import read_form, text, texts, upload
from dialogo.web.report_render import JinjaReportRenderer
from dialogo.web.shell import CurrentViewer, FormViewer, Viewer

router = APIRouter()


def weekday_names(
    language: str, width: Literal["abbreviated", "narrow", "short", "wide"] = "wide"
) -> tuple[str, ...]:
    """Monday … Sunday in ``language``, from Babel's CLDR locale data (not the gettext
    catalogue: "Mon" was never in it, so the best times showed English day names in Italian)."""
    names = get_day_names(width, locale=language)  # 0 = Monday, as datetime.weekday()
    return tuple(str(names[day]) for day in range(7))


def _int(value: str) -> int | None:
    return int(value) if value.isdigit() and len(value) < 19 else None


def _back(viewer: Viewer, workspace_id: int, level: str, message: str) -> Response:
    response = RedirectResponse(f"/w/{workspace_id}/analytics", status_code=303)
    viewer.flash(response, level, message)
    return response


def _error(viewer: Viewer, workspace_id: int, exc: DomainError | ValidationError) -> Response:
    viewer.session.rollback()
    if isinstance(exc, ValidationError):
        detail = "; ".join(
            f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors()
        )
        return _back(viewer, workspace_id, "error", detail)
    message = exc.message
    rows = exc.details.get("errors")
    if rows:
        shown = "; ".join(
            viewer.gettext("row %(row)s, %(field)s: %(message)s") % e for e in rows[:20]
        )
        message = f"{message}. {shown}"
    return _back(viewer, workspace_id, "error", message)


@router.get("/w/{workspace_id}/analytics")
def analytics_page(workspace_id: int, viewer: CurrentViewer, days: int = 30) -> Response:
    workspace, role = viewer.workspace(workspace_id, Permission.analytics_read)
    days = min(max(days, 1), 366)
    session, principal = viewer.session, viewer.principal
    board = reports.dashboard(
        session, principal, workspace_id, now=viewer.ctx.clock.now(), days=days
    )
    labels = [p.day.isoformat() for p in board.daily]
    activity = charts.line_chart(
        viewer.gettext("Reach and engagements per day"),
        labels,
        [
            (viewer.gettext("Reach"), [float(p.reach) for p in board.daily]),
            (viewer.gettext("Engagements"), [float(p.engagements) for p in board.daily]),
        ],
    )
    money = charts.bar_chart(
        viewer.gettext("Revenue and spend per campaign"),
        [c.name for c in board.campaigns],
        [
            (viewer.gettext("Revenue"), [c.revenue for c in board.campaigns]),
            (viewer.gettext("Spend"), [c.spend for c in board.campaigns]),
        ],
    )
    found_links = links.list_links(session, principal, workspace_id)
    stats = links.link_stats(session, [link.id for link in found_links])
    base = viewer.ctx.settings.public_url.rstrip("/")
    report_schedules = schedules.list_schedules(session, principal, workspace_id)
    context: dict[str, Any] = {
        "board": board,
        "activity_chart": Markup(activity),  # noqa: S704 - built by charts, every text escaped
        "money_chart": Markup(money),  # noqa: S704
        "channel_roi": reports.roi_rows(session, workspace_id, "channel"),
        "attribution": reports.attribution_report(session, principal, workspace_id),
        "best": besttime.best_time_for(session, workspace_id, top=5),
        "weekdays": weekday_names(viewer.language),
        "links": [(link, stats[link.id], f"{base}/l/{link.code}") for link in found_links[:50]],
        "campaigns": publishing.list_campaigns(session, principal, workspace_id),
        "channels": channels.list_channels(session, principal, workspace_id),
        "can_write": viewer.can(role, Permission.posts_write),
        "can_admin": viewer.can(role, Permission.workspace_update),
        "webhook_url": f"{base}/api/v1/hooks/conversions/{workspace_id}",
        "days": days,
        "ab_tests": experiments.list_results(session, principal, workspace_id)[:10],
        "report_schedules": report_schedules,
        "last_deliveries": {
            row.id: next(
                iter(schedules.list_deliveries(session, principal, workspace_id, row.id, 1)), None
            )
            for row in report_schedules
        },
        **_drafts(viewer, workspace_id),
        "voices": benchmarking.share_of_voice(
            session, principal, workspace_id, now=viewer.ctx.clock.now(), days=days
        ),
    }
    return viewer.render(
        "analytics.html", active="analytics", workspace=workspace, role=role, **context
    )


def _drafts(viewer: Viewer, workspace_id: int) -> dict[str, Any]:
    """The drafts ranked by predicted engagement, or why there is no prediction yet."""
    try:
        ranked = predict.rank_drafts(
            viewer.session, viewer.principal, workspace_id, now=viewer.ctx.clock.now(), limit=5
        )
    except DomainError as exc:
        return {"drafts_ranked": [], "drafts_note": exc.message, "drafts_segments": None}
    segments = None
    best = ranked[0] if ranked else None
    if best is not None and best.channel_id is not None:
        try:  # the best draft per audience segment (none without profiled contacts)
            segments = predict.predict_segments(
                viewer.session,
                viewer.principal,
                workspace_id,
                best.text or "-",
                channel_id=best.channel_id,
                at=best.at,
                limit=5,
                prediction=best.prediction,
            )
        except DomainError:
            segments = None
    return {"drafts_ranked": ranked, "drafts_note": "", "drafts_segments": segments}


@router.post("/w/{workspace_id}/analytics/links")
async def create_link(workspace_id: int, viewer: FormViewer) -> Response:
    form = await read_form(viewer.request)
    try:
        data = LinkCreate(
            url=text(form, "url"),
            campaign_id=_int(text(form, "campaign_id")),
            channel_id=_int(text(form, "channel_id")),
        )
        link = links.create_link(viewer.session, viewer.principal, workspace_id, data)
    except (DomainError, ValidationError) as exc:
        return _error(viewer, workspace_id, exc)
    base = viewer.ctx.settings.public_url.rstrip("/")
    return _back(
        viewer,
        workspace_id,
        "success",
        viewer.gettext("Short link created: %(url)s") % {"url": f"{base}/l/{link.code}"},
    )


@router.post("/w/{workspace_id}/analytics/conversions")
async def add_conversion(workspace_id: int, viewer: FormViewer) -> Response:
    form = await read_form(viewer.request)
    try:
        file = upload(form, "file")
        if file is not None:
            report = conversions.import_conversions_csv(
                viewer.session,
                viewer.principal,
                workspace_id,
                await file.read(),
                now=viewer.ctx.clock.now(),
            )
            return _back(
                viewer,
                workspace_id,
                "success",
                viewer.gettext("%(n)s conversions imported, %(skipped)s already there.")
                % {"n": report.imported, "skipped": report.skipped_existing},
            )
        data = ConversionIn(
            order_id=text(form, "order_id"),
            value=decimal.Decimal(text(form, "value") or "0"),
            currency=text(form, "currency") or "EUR",
            link=text(form, "link") or None,
            campaign_id=_int(text(form, "campaign_id")),
        )
        conversions.add_conversion(
            viewer.session, viewer.principal, workspace_id, data, now=viewer.ctx.clock.now()
        )
    except (DomainError, ValidationError) as exc:
        return _error(viewer, workspace_id, exc)
    except decimal.InvalidOperation:
        return _back(viewer, workspace_id, "error", viewer.gettext("The value is not a number."))
    return _back(viewer, workspace_id, "success", viewer.gettext("Conversion recorded."))


@router.post("/w/{workspace_id}/analytics/spend")
async def add_spend(workspace_id: int, viewer: FormViewer) -> Response:
    form = await read_form(viewer.request)
    try:
        file = upload(form, "file")
        if file is not None:
            report = conversions.import_spend_csv(
                viewer.session, viewer.principal, workspace_id, await file.read()
            )
            return _back(
                viewer,
                workspace_id,
                "success",
                viewer.gettext("%(n)s spend rows imported.") % {"n": report.imported},
            )
        data = SpendIn(
            day=text(form, "day"),
            amount=decimal.Decimal(text(form, "amount") or "0"),
            campaign_id=_int(text(form, "campaign_id")),
            channel_id=_int(text(form, "channel_id")),
        )
        conversions.add_spend(viewer.session, viewer.principal, workspace_id, data)
    except (DomainError, ValidationError) as exc:
        return _error(viewer, workspace_id, exc)
    except decimal.InvalidOperation:
        return _back(viewer, workspace_id, "error", viewer.gettext("The amount is not a number."))
    return _back(viewer, workspace_id, "success", viewer.gettext("Spend recorded."))


# -- reports and exports ---------------------------------------------------------------------------

REPORT_LANGUAGES = ("en", "it")


def render_report(
    viewer: Viewer, workspace: Workspace, *, language: str, days: int, now: dt.datetime
) -> str:
    """The self-contained HTML report (logo inline, SVG chart inline) in ``language``: the one
    renderer the scheduled e-mail reports use too (:mod:`dialogo.web.report_render`)."""
    board = reports.dashboard(viewer.session, viewer.principal, workspace.id, now=now, days=days)
    start, end = rendering.report_period(now, days)
    return JinjaReportRenderer().html(ReportView(workspace, board, language, start, end))


def _report_args(viewer: Viewer, workspace: Workspace, lang: str, days: int) -> tuple[str, int]:
    language = lang if lang in REPORT_LANGUAGES else workspace.language
    if language not in REPORT_LANGUAGES:
        language = "en"
    return language, min(max(days, 1), 366)


@router.get("/w/{workspace_id}/analytics/report.html")
def report_html(
    workspace_id: int, viewer: CurrentViewer, lang: str = "", days: int = 30
) -> Response:
    workspace, _ = viewer.workspace(workspace_id, Permission.analytics_read)
    language, days = _report_args(viewer, workspace, lang, days)
    html = render_report(
        viewer, workspace, language=language, days=days, now=viewer.ctx.clock.now()
    )
    return Response(html, media_type="text/html; charset=utf-8")


@router.get("/w/{workspace_id}/analytics/report.pdf")
def report_pdf(
    workspace_id: int, viewer: CurrentViewer, lang: str = "", days: int = 30
) -> Response:
    workspace, _ = viewer.workspace(workspace_id, Permission.analytics_read)
    language, days = _report_args(viewer, workspace, lang, days)
    now = viewer.ctx.clock.now()
    html = render_report(viewer, workspace, language=language, days=days, now=now)
    name = f"report-{workspace.slug}-{now.date().isoformat()}-{language}.pdf"
    return Response(
        exports.html_to_pdf(html),
        media_type="application/pdf",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


@router.get("/w/{workspace_id}/analytics/export/{table}.csv")
def export_csv(workspace_id: int, table: str, viewer: CurrentViewer, days: int = 30) -> Response:
    viewer.workspace(workspace_id, Permission.analytics_read)
    board = reports.dashboard(
        viewer.session, viewer.principal, workspace_id, now=viewer.ctx.clock.now(), days=days
    )
    try:
        found = exports.pick(board, table)
    except DomainError as exc:
        return Response(exc.message, status_code=404, media_type="text/plain")
    return Response(
        exports.to_csv(found),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{table}.csv"'},
    )


@router.get("/w/{workspace_id}/analytics/export.xlsx")
def export_xlsx(workspace_id: int, viewer: CurrentViewer, days: int = 30) -> Response:
    viewer.workspace(workspace_id, Permission.analytics_read)
    board = reports.dashboard(
        viewer.session, viewer.principal, workspace_id, now=viewer.ctx.clock.now(), days=days
    )
    return Response(
        exports.to_xlsx(list(exports.dashboard_tables(board).values())),
        media_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        headers={"Content-Disposition": 'attachment; filename="dashboard.xlsx"'},
    )


# -- scheduled e-mail reports ---------------------------------------------------------------------


def _schedule_form(form: Any) -> schedules.ReportScheduleIn:
    frequency = text(form, "frequency")
    recipients = [
        r
        for r in text(form, "recipients").replace(";", ",").replace("\n", ",").split(",")
        if r.strip()
    ]
    return schedules.ReportScheduleIn(
        name=text(form, "name"),
        frequency=frequency,  # validated by the model
        weekday=_int(text(form, "weekday")) if frequency == "weekly" else None,
        month_day=_int(text(form, "month_day")) if frequency == "monthly" else None,
        local_time=text(form, "local_time") or "08:00",
        language=text(form, "language") or "en",
        formats=texts(form, "formats"),
        campaign_id=_int(text(form, "campaign_id")),
        recipients=recipients,
    )


def _schedules_back(viewer: Viewer, workspace_id: int, level: str, message: str) -> Response:
    response = RedirectResponse(f"/w/{workspace_id}/analytics#an-schedules", status_code=303)
    viewer.flash(response, level, message)
    return response


@router.post("/w/{workspace_id}/analytics/report-schedules")
async def create_report_schedule(workspace_id: int, viewer: FormViewer) -> Response:
    form = await read_form(viewer.request)
    try:
        row = schedules.create_schedule(
            viewer.session,
            viewer.principal,
            workspace_id,
            _schedule_form(form),
            now=viewer.ctx.clock.now(),
        )
    except (DomainError, ValidationError) as exc:
        return _error(viewer, workspace_id, exc)
    return _schedules_back(
        viewer,
        workspace_id,
        "success",
        viewer.gettext("Report schedule “%(name)s” saved.") % {"name": row.name},
    )


@router.post("/w/{workspace_id}/analytics/report-schedules/{schedule_id}/send")
async def send_report_schedule(workspace_id: int, schedule_id: int, viewer: FormViewer) -> Response:
    await read_form(viewer.request)
    try:
        schedules.send_now(
            viewer.session, viewer.principal, workspace_id, schedule_id, now=viewer.ctx.clock.now()
        )
    except DomainError as exc:
        return _error(viewer, workspace_id, exc)
    return _schedules_back(
        viewer,
        workspace_id,
        "success",
        viewer.gettext("The report is being sent; its status appears here in a minute."),
    )


@router.post("/w/{workspace_id}/analytics/report-schedules/{schedule_id}/delete")
async def delete_report_schedule(
    workspace_id: int, schedule_id: int, viewer: FormViewer
) -> Response:
    await read_form(viewer.request)
    try:
        schedules.delete_schedule(viewer.session, viewer.principal, workspace_id, schedule_id)
    except DomainError as exc:
        return _error(viewer, workspace_id, exc)
    return _schedules_back(
        viewer, workspace_id, "success", viewer.gettext("Report schedule deleted.")
    )
