"""The scheduled report's content: the dashboard (optionally one campaign's) rendered by the
process's report renderer (the same document as the Measurement page's download, see
:mod:`dialogo.analytics.rendering`), as a PDF (WeasyPrint) and/or HTML attachment, with a short
text summary, in a message for the shared SMTP transport (:mod:`dialogo.notifications.mail`).
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from email.message import EmailMessage
from typing import Final

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from dialogo.accounts.models import Workspace
from dialogo.analytics import exports, reports
from dialogo.analytics.metrics import engagements
from dialogo.analytics.models import METRIC_FIELDS, MetricRollup
from dialogo.analytics.rendering import ReportRenderer, ReportView, ScheduleView, report_period
from dialogo.analytics.schemas import DailyPoint, Dashboard
from dialogo.core.i18n import Formatter
from dialogo.notifications.mail import Attachment, SmtpConfig, compose
from dialogo.publishing.models import Campaign, Post

LANGUAGES: Final = ("en", "it")


@dataclass(frozen=True)
class ReportContent:
    subject: str
    text: str
    html: str
    pdf: bytes | None
    filename: str  # without the extension


def report_days(frequency: str, local_now: dt.datetime) -> int:
    """What a report covers: the last 7 days, or the length of the month that just ended."""
    if frequency == "monthly":
        first = local_now.date().replace(day=1)
        previous = (first - dt.timedelta(days=1)).replace(day=1)
        return (first - previous).days
    return 7


def campaign_daily(
    session: Session, workspace_id: int, campaign_id: int, *, since: dt.datetime
) -> list[DailyPoint]:
    """One campaign's daily series, from the per-variant daily rollups (which carry the
    campaign of their post)."""
    sums = [func.coalesce(func.sum(getattr(MetricRollup, f)), 0) for f in METRIC_FIELDS]
    rows = session.execute(
        select(MetricRollup.bucket, *sums)
        .where(
            MetricRollup.workspace_id == workspace_id,
            MetricRollup.granularity == "day",
            MetricRollup.campaign_id == campaign_id,
            MetricRollup.bucket >= since,
        )
        .group_by(MetricRollup.bucket)
        .order_by(MetricRollup.bucket)
    ).all()
    points = []
    for row in rows:
        counts: dict[str, int | None] = {
            f: int(v) for f, v in zip(METRIC_FIELDS, row[1:], strict=True)
        }
        points.append(
            DailyPoint(
                day=row[0].date(),
                impressions=counts["impressions"] or 0,
                reach=counts["reach"] or 0,
                engagements=engagements(counts),
                clicks=counts["clicks"] or 0,
            )
        )
    return points


def build_dashboard(
    session: Session,
    workspace_id: int,
    *,
    now: dt.datetime,
    days: int,
    campaign_id: int | None = None,
) -> Dashboard:
    """The dashboard of :func:`dialogo.analytics.reports.dashboard` (without the permission
    check: the worker acts for the schedule), restricted to one campaign when given."""
    if campaign_id is None:
        return reports.workspace_dashboard(session, workspace_id, now=now, days=days)
    since = reports.dashboard_since(now, days)
    campaigns = [
        c for c in reports.roi_rows(session, workspace_id, "campaign") if c.id == campaign_id
    ]
    in_campaign = set(
        session.scalars(
            select(Post.id).where(
                Post.workspace_id == workspace_id, Post.campaign_id == campaign_id
            )
        )
    )
    # The workspace's top posts are few (the period's): filtering them here is cheaper than a
    # second ranking query with a join.
    top = [
        p
        for p in reports.top_posts(session, workspace_id, since=since, limit=200)
        if p.post_id in in_campaign
    ][:10]
    daily = campaign_daily(session, workspace_id, campaign_id, since=since)
    return reports.assemble_dashboard(days, daily, top, campaigns)


def render(
    session: Session,
    workspace: Workspace,
    renderer: ReportRenderer,
    *,
    frequency: str,
    language: str,
    formats: Sequence[str],
    campaign_id: int | None,
    schedule_name: str,
    now: dt.datetime,
) -> ReportContent:
    """Everything the message carries; the PDF only when ``formats`` asks for it."""
    language = language if language in LANGUAGES else "en"
    local_now = now.astimezone(Formatter(language, workspace.timezone).zone)
    days = report_days(frequency, local_now)
    board = build_dashboard(session, workspace.id, now=now, days=days, campaign_id=campaign_id)
    campaign = session.get(Campaign, campaign_id) if campaign_id is not None else None
    start, end = report_period(now, days)
    view = ReportView(
        workspace, board, language, start, end, campaign=campaign.name if campaign else None
    )
    html = renderer.html(view)
    texts = renderer.mail(view, ScheduleView(frequency, schedule_name, formats))
    ascii_name = unicodedata.normalize("NFKD", workspace.name).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_name.lower()).strip("-")
    return ReportContent(
        subject=texts.subject,
        text=texts.body,
        html=html,
        pdf=exports.html_to_pdf(html) if "pdf" in formats else None,
        filename=f"{slug or 'report'}-{frequency}-{end.isoformat()}",
    )


def build_message(
    config: SmtpConfig, recipients: Sequence[str], content: ReportContent, formats: Sequence[str]
) -> EmailMessage:
    """``multipart/mixed``: the text summary, then the PDF and/or HTML report."""
    attachments = []
    if "pdf" in formats and content.pdf is not None:
        attachments.append(Attachment(f"{content.filename}.pdf", content.pdf, "application", "pdf"))
    if "html" in formats:
        attachments.append(Attachment(f"{content.filename}.html", content.html, "text", "html"))
    return compose(config, recipients, content.subject, content.text, attachments)
