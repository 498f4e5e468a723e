"""Scheduled e-mail reports on the Measurement page: create (bad addresses refused with the
reason, nothing saved), list, send now (a queued delivery and a job), delete; admins only.
And the weekday names of the page, from Babel's locale data, in Italian. And the e-mailed
report is the document the page downloads, byte for byte (one renderer)."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from dialogo.accounts.models import User, Workspace
from dialogo.accounts.permissions import Role
from dialogo.accounts.service import Principal
from dialogo.analytics import rendering, report_mail, schedules
from dialogo.analytics.schedule_models import ReportDelivery, ReportSchedule
from dialogo.core.clock import FrozenClock, utcnow
from dialogo.core.context import AppContext
from dialogo.jobs.models import Job
from dialogo.web import report_render
from dialogo.web.pages.analytics import weekday_names
from tests.factories import add_member
from tests.web.conftest import Browser
from tests.web.test_analytics_reports import _seed as seed_report


def test_weekday_names_come_from_the_locale_data() -> None:
    assert weekday_names("it")[0] == "lunedì" and weekday_names("it")[6] == "domenica"
    assert weekday_names("en") == (
        "Monday",
        "Tuesday",
        "Wednesday",
        "Thursday",
        "Friday",
        "Saturday",
        "Sunday",
    )


def _count(db: Session, workspace: Workspace) -> int:
    return int(
        db.scalar(
            select(func.count(ReportSchedule.id)).where(ReportSchedule.workspace_id == workspace.id)
        )
        or 0
    )


def test_schedule_send_now_and_delete_from_the_page(
    signed_in: Browser, workspace: Workspace, owner: User, db: Session
) -> None:
    url = f"/w/{workspace.id}/analytics"
    page = signed_in.get(url)
    assert page.status_code == 200 and "No scheduled reports yet." in page.text
    form = {
        "name": "Lunedì",
        "frequency": "weekly",
        "weekday": "0",
        "month_day": "1",
        "local_time": "08:00",
        "language": "it",
        "formats": ["pdf", "html"],
        "campaign_id": "",
        "recipients": "boss@example.com, nope",
    }
    refused = signed_in.post(f"{url}/report-schedules", form)
    assert refused.status_code == 303
    assert "not e-mail addresses" in signed_in.get(url).text
    assert _count(db, workspace) == 0

    form["recipients"] = "boss@example.com,\nteam@example.com"
    created = signed_in.post(f"{url}/report-schedules", form)
    assert created.status_code == 303
    assert created.headers["location"].endswith("/analytics#an-schedules")
    page = signed_in.get(url).text
    assert "saved" in page and 'data-schedule="Lunedì"' in page
    assert "boss@example.com, team@example.com" in page and "PDF, HTML" in page
    assert "<td>Italiano</td>" in page  # the language's own name, not its code
    [row] = db.scalars(select(ReportSchedule).where(ReportSchedule.workspace_id == workspace.id))
    assert row.recipients == ["boss@example.com", "team@example.com"]
    assert row.formats == ["pdf", "html"] and row.next_run_at is not None

    sent = signed_in.post(f"{url}/report-schedules/{row.id}/send", {})
    assert sent.status_code == 303
    [delivery] = db.scalars(select(ReportDelivery).where(ReportDelivery.schedule_id == row.id))
    assert delivery.status == "queued"
    job = db.scalar(
        select(Job).where(Job.unique_key == schedules.send_key(row.id, delivery.period))
    )
    assert job is not None and job.task == schedules.SEND_TASK
    assert "queued" in signed_in.get(url).text

    deleted = signed_in.post(f"{url}/report-schedules/{row.id}/delete", {})
    assert deleted.status_code == 303
    assert _count(db, workspace) == 0


def test_editors_see_schedules_but_cannot_change_them(
    sign_in_as,
    owner: User,
    workspace: Workspace,
    db: Session,  # type: ignore[no-untyped-def]
) -> None:
    editor = add_member(db, workspace, owner, Role.editor)
    editor.language = "it"
    schedules.create_schedule(
        db,
        Principal.for_user(owner),
        workspace.id,
        schedules.ReportScheduleIn(
            name="Settimanale", frequency="weekly", weekday=0, recipients=["a@example.com"]
        ),
        now=utcnow(),
    )
    db.commit()
    url = f"/w/{workspace.id}/analytics"
    browser = sign_in_as(editor)
    page = browser.get(url)
    assert page.status_code == 200 and 'id="report-schedule-form"' not in page.text
    assert 'data-schedule="Settimanale"' in page.text and "lunedì" in page.text  # not "Monday"
    assert "Monday" not in page.text
    refused = browser.post(
        f"{url}/report-schedules",
        {"name": "x", "frequency": "weekly", "weekday": "0", "recipients": "a@example.com"},
    )
    assert refused.status_code == 303
    assert _count(db, workspace) == 1  # the owner's only


@pytest.mark.parametrize("language", ["it", "en"])
def test_the_e_mailed_report_is_the_downloaded_document(
    signed_in: Browser,
    workspace: Workspace,
    db: Session,
    ctx: AppContext,
    monkeypatch: pytest.MonkeyPatch,
    language: str,
) -> None:
    seed_report(db, workspace)  # a logo and daily totals up to today
    now = utcnow()
    monkeypatch.setattr(ctx, "clock", FrozenClock(now))
    downloaded = signed_in.get(f"/w/{workspace.id}/analytics/report.pdf?lang={language}&days=7")
    assert downloaded.status_code == 200, downloaded.text

    # What the worker renders for a weekly schedule, through the renderer its start-up installs.
    report_render.install()
    try:
        renderer = rendering.registered_renderer()
        assert renderer is not None
        mailed = report_mail.render(
            db,
            workspace,
            renderer,
            frequency="weekly",
            language=language,
            formats=["pdf"],
            campaign_id=None,
            schedule_name="Monday numbers",
            now=now,
        )
    finally:
        rendering.register_renderer(None)
    assert mailed.pdf is not None and mailed.pdf.startswith(b"%PDF")
    assert mailed.pdf == downloaded.content
    page = signed_in.get(f"/w/{workspace.id}/analytics/report.html?lang={language}&days=7")
    assert mailed.html == page.text
    words = {"it": ("Misurazione", "Copertura"), "en": ("Measurement", "Reach")}[language]
    assert all(word in mailed.html for word in words)
