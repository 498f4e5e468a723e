"""The port through which the analytics domain gets its report rendered.

The report document has one renderer: the web layer's Jinja2 template
(``web/templates/report.html``) with the web's gettext catalogue. The domain may not import
Jinja2 or the web (import-linter contracts), so it declares here what it needs —
:class:`ReportRenderer` — and an adapter registers the web's implementation at start-up
(:func:`register_renderer`; the ``dialogo worker`` and ``dialogo serve`` commands do, through
:func:`dialogo.web.report_render.install`). The Measurement page's download and the scheduled
e-mail then come from the same code and, for the same period and language, are the same
document byte for byte.

Without a registered renderer, :func:`registered_renderer` is None and a scheduled delivery
fails with :class:`RendererMissing` (recorded on the schedule and notified): an empty or
differently-rendered report is never sent.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from dialogo.accounts.models import Workspace
from dialogo.analytics.schemas import Dashboard


class RendererMissing(RuntimeError):
    """No report renderer is registered in this process."""

    def __init__(self) -> None:
        super().__init__(
            "no report renderer is registered in this process (start the worker with "
            "`dialogo worker` or `dialogo serve`, which register the web's renderer)"
        )


@dataclass(frozen=True)
class ReportView:
    """What the report document shows."""

    workspace: Workspace
    board: Dashboard
    language: str
    start: dt.date
    end: dt.date
    campaign: str | None = None  # the name of the one campaign the report is restricted to


@dataclass(frozen=True)
class ScheduleView:
    """What the e-mail around a scheduled report says about its schedule."""

    frequency: str  # "weekly" or "monthly"
    name: str
    formats: Sequence[str]  # the attachments: "pdf", "html"


@dataclass(frozen=True)
class MailTexts:
    subject: str
    body: str  # plain text


class ReportRenderer(Protocol):
    def html(self, report: ReportView) -> str:
        """The self-contained HTML document (images as data: URLs, the chart as inline SVG)."""
        ...

    def mail(self, report: ReportView, schedule: ScheduleView) -> MailTexts:
        """The subject and the text summary of the e-mail that carries a scheduled report."""
        ...


def report_period(now: dt.datetime, days: int) -> tuple[dt.date, dt.date]:
    """The dates a report of the last ``days`` days says it covers: the UTC days of its data
    (the dashboard's series start at ``now - days``, at UTC midnight)."""
    return (now - dt.timedelta(days=days)).date(), now.date()


class _Slot:
    renderer: ReportRenderer | None = None


def register_renderer(renderer: ReportRenderer | None) -> None:
    """Install the process's report renderer (None removes it)."""
    _Slot.renderer = renderer


def registered_renderer() -> ReportRenderer | None:
    return _Slot.renderer
