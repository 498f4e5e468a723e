"""The one renderer of the measurement report: ``templates/report.html`` with the web's
gettext catalogue, for the Measurement page's download and the scheduled e-mail alike.

It implements the analytics domain's port (:class:`dialogo.analytics.rendering.ReportRenderer`);
:func:`install` registers it in the process, which the worker's start-up (``dialogo worker``,
``dialogo serve``) does. The texts of the e-mail around a scheduled report are here too, so
they are extracted into the catalogue with the rest (``babel.cfg`` reads ``src/dialogo/web``).
"""

from __future__ import annotations

import base64

from markupsafe import Markup

from dialogo.accounts.models import Workspace
from dialogo.analytics import charts, rendering
from dialogo.analytics.rendering import MailTexts, ReportView, ScheduleView
from dialogo.core import i18n
from dialogo.web import templating

#: The e-mail summary's totals, in this order.
_TOTALS = (
    ("reach", "Reach"),
    ("engagements", "Engagements"),
    ("conversions", "Conversions"),
    ("revenue", "Revenue"),
)


def logo_data_url(workspace: Workspace) -> str | None:
    if not workspace.logo or not workspace.logo_content_type:
        return None
    encoded = base64.b64encode(workspace.logo).decode("ascii")
    return f"data:{workspace.logo_content_type};base64,{encoded}"


class JinjaReportRenderer:
    """:class:`~dialogo.analytics.rendering.ReportRenderer` over the web's templates."""

    def html(self, report: ReportView) -> str:
        language, board = report.language, report.board
        translate = templating.tr(language)
        chart = charts.line_chart(
            translate.gettext("Reach and engagements per day"),
            [p.day.isoformat() for p in board.daily],
            [
                (translate.gettext("Reach"), [float(p.reach) for p in board.daily]),
                (translate.gettext("Engagements"), [float(p.engagements) for p in board.daily]),
            ],
        )
        return (
            templating.environment(language)
            .get_template("report.html")
            .render(
                workspace=report.workspace,
                board=board,
                logo=logo_data_url(report.workspace),
                activity_chart=Markup(chart),  # noqa: S704 - built by charts, every text escaped
                fmt=i18n.Formatter(language, report.workspace.timezone),
                start=report.start,
                end=report.end,
                campaign=report.campaign,
            )
        )

    def mail(self, report: ReportView, schedule: ScheduleView) -> MailTexts:
        _ = templating.tr(report.language).gettext
        fmt = i18n.Formatter(report.language, report.workspace.timezone)
        workspace, board = report.workspace, report.board
        values = {
            "workspace": workspace.name,
            "start": fmt.date(report.start),
            "end": fmt.date(report.end),
        }
        # Whole sentences per frequency, so that a language can word each its own way.
        if schedule.frequency == "weekly":
            subject = _("%(workspace)s · weekly report, %(start)s – %(end)s") % values
            opening = _("here is the weekly report of %(workspace)s, from %(start)s to %(end)s.")
        else:
            subject = _("%(workspace)s · monthly report, %(start)s – %(end)s") % values
            opening = _("here is the monthly report of %(workspace)s, from %(start)s to %(end)s.")
        lines = [_("Hello,"), opening % values]
        if report.campaign:
            lines.append(_("Campaign: %(name)s") % {"name": report.campaign})
        lines.append("")
        lines += [f"- {_(label)}: {fmt.number(board.totals[key])}" for key, label in _TOTALS]
        if board.top_posts:
            best = " ".join(board.top_posts[0].text.split())[:100]
            top = _("Top post")  # outside the f-string, where Babel's extractor finds it
            lines.append(f"- {top}: “{best}”")
        lines += [
            "",
            _("The full report is attached (%(formats)s).")
            % {"formats": ", ".join(f.upper() for f in schedule.formats)},
            "",
            "-- ",
            _("This message was sent by Dialogo for the schedule “%(name)s”.")
            % {"name": schedule.name},
        ]
        return MailTexts(subject=subject, body="\n".join(lines) + "\n")


def install() -> None:
    """Register this renderer as the process's report renderer (worker start-up)."""
    rendering.register_renderer(JinjaReportRenderer())
