"""Scheduled e-mail reports: occurrences in the workspace's zone (across daylight-saving
changes), validation, and delivery through the real worker loop to a real SMTP server
(aiosmtpd) on 127.0.0.1: once per period, PDF attached, in the schedule's language (the web's
catalogue, through the web's report renderer the worker's start-up registers), SMTP failures
retried then recorded and notified, no second copy after a worker dies, and no report at all
(recorded and notified) from a worker without a renderer."""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Iterator
from email.message import EmailMessage
from typing import Any

import pytest
from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from dialogo.accounts.permissions import Role
from dialogo.accounts.service import Principal
from dialogo.analytics import rendering, schedules, tasks
from dialogo.analytics.schedule_models import ReportDelivery, ReportSchedule
from dialogo.analytics.schedules import ReportScheduleIn
from dialogo.core.clock import FrozenClock, ensure_aware
from dialogo.core.config import Settings
from dialogo.core.errors import InvalidInput, PermissionDenied
from dialogo.jobs.models import Job
from dialogo.jobs.registry import TaskRegistry
from dialogo.notifications import mail
from dialogo.notifications.models import Notification
from dialogo.publishing.recurrence import zone
from dialogo.web import report_render, templating
from dialogo.worker.runner import Worker
from tests.analytics.conftest import Brand, campaign
from tests.factories import add_member, make_user, make_workspace
from tests.smtp_inbox import Inbox, serving

aiosmtpd = pytest.importorskip("aiosmtpd.controller")

ROME = zone("Europe/Rome")
# Sunday 29 November 2026, 12:00 in Rome (CET, UTC+1).
START = dt.datetime(2026, 11, 29, 11, 0, tzinfo=dt.UTC)


@pytest.fixture
def smtp() -> Iterator[tuple[Inbox, int]]:
    inbox = Inbox()
    with serving(inbox) as port:
        yield inbox, port


@dataclasses.dataclass
class Rig:
    db: Session
    factory: sessionmaker[Session]
    settings: Settings
    registry: TaskRegistry
    clock: FrozenClock
    brand: Brand
    inbox: Inbox

    def run(self) -> int:
        # A new worker each time: housekeeping (the periodic tick) runs on its first loop.
        worker = Worker(self.settings, self.factory, self.registry, clock=self.clock)
        handled = worker.run(idle_exit=True)
        self.db.expire_all()
        return handled

    def schedule(self, **fields: Any) -> ReportSchedule:
        data: dict[str, Any] = {
            "name": "Monday numbers",
            "frequency": "weekly",
            "weekday": 0,
            "local_time": "08:00",
            "language": "it",
            "formats": ["pdf"],
            "recipients": ["boss@example.com", "team@example.com"],
            **fields,
        }
        row = schedules.create_schedule(
            self.db,
            self.brand.principal,
            self.brand.id,
            ReportScheduleIn(**data),
            now=self.clock.now(),
        )
        self.db.commit()
        return row

    def deliveries(self, row: ReportSchedule) -> list[ReportDelivery]:
        return list(
            self.db.scalars(
                select(ReportDelivery)
                .where(ReportDelivery.schedule_id == row.id)
                .order_by(ReportDelivery.id)
            )
        )

    def send_jobs(self) -> list[Job]:
        return list(
            self.db.scalars(select(Job).where(Job.task == schedules.SEND_TASK).order_by(Job.id))
        )


@pytest.fixture
def renderer() -> Iterator[None]:
    """The worker's start-up wiring (``dialogo worker``, ``dialogo serve``)."""
    report_render.install()
    try:
        yield
    finally:
        rendering.register_renderer(None)


@pytest.fixture
def rig(
    renderer: None,
    db: Session,
    session_factory: sessionmaker[Session],
    settings: Settings,
    brand: Brand,
    smtp: tuple[Inbox, int],
) -> Rig:
    inbox, port = smtp
    brand.workspace.timezone = "Europe/Rome"
    brand.workspace.name = "Caffè Aurora"
    db.commit()
    registry = TaskRegistry()
    tasks.register_reports(registry)
    mail_settings = settings.model_copy(
        update={
            "smtp_host": "127.0.0.1",
            "smtp_port": port,
            "smtp_from": "reports@dialogo.test",
            "worker_poll_seconds": 0.01,
        }
    )
    return Rig(db, session_factory, mail_settings, registry, FrozenClock(START), brand, inbox)


# -- when -----------------------------------------------------------------------------------------


def _row(**fields: Any) -> ReportSchedule:
    return ReportSchedule(**{"local_time": "08:00", **fields})


def test_weekly_occurrences_keep_the_wall_clock_across_the_autumn_change() -> None:
    row = _row(frequency="weekly", weekday=0)
    # Rome leaves summer time on Sunday 25 October 2026.
    first = schedules.next_occurrence(row, ROME, after=dt.datetime(2026, 10, 14, tzinfo=dt.UTC))
    second = schedules.next_occurrence(row, ROME, after=first)
    assert first == dt.datetime(2026, 10, 19, 6, 0, tzinfo=dt.UTC)  # 08:00 CEST
    assert second == dt.datetime(2026, 10, 26, 7, 0, tzinfo=dt.UTC)  # 08:00 CET
    assert [x.astimezone(ROME).hour for x in (first, second)] == [8, 8]
    assert schedules.period_key(row, ROME, second) == "2026-10-26T08:00"


def test_a_time_in_the_spring_gap_moves_forward_and_is_sent_once() -> None:
    row = _row(frequency="weekly", weekday=6, local_time="02:30")
    # Sunday 29 March 2026: 02:00 → 03:00 in Rome. 02:30 does not exist: 03:30 CEST.
    at = schedules.next_occurrence(row, ROME, after=dt.datetime(2026, 3, 28, tzinfo=dt.UTC))
    assert at == dt.datetime(2026, 3, 29, 1, 30, tzinfo=dt.UTC)
    after = schedules.next_occurrence(row, ROME, after=at)
    assert after == dt.datetime(2026, 4, 5, 0, 30, tzinfo=dt.UTC)


def test_monthly_on_day_31_falls_on_the_last_day_of_short_months() -> None:
    row = _row(frequency="monthly", month_day=31, local_time="07:00")
    at = dt.datetime(2026, 1, 31, 12, tzinfo=dt.UTC)
    seen = []
    for _ in range(3):
        at = schedules.next_occurrence(row, ROME, after=at)
        seen.append(at.astimezone(ROME).replace(tzinfo=None))
    assert seen == [
        dt.datetime(2026, 2, 28, 7, 0),
        dt.datetime(2026, 3, 31, 7, 0),
        dt.datetime(2026, 4, 30, 7, 0),
    ]


def test_monthly_on_day_one_just_after_midnight_utc() -> None:
    row = _row(frequency="monthly", month_day=1, local_time="00:30")
    # 1 December 00:30 in Rome is 30 November 23:30 UTC.
    at = schedules.next_occurrence(row, ROME, after=dt.datetime(2026, 11, 30, 12, tzinfo=dt.UTC))
    assert at == dt.datetime(2026, 11, 30, 23, 30, tzinfo=dt.UTC)


# -- validation -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"recipients": ["boss@example.com", "not an address"]}, "not e-mail addresses"),
        ({"recipients": []}, "at least 1"),
        ({"weekday": None}, "needs a weekday"),
        ({"frequency": "monthly"}, "day of the month"),
        ({"local_time": "25:00"}, "time of day"),
        ({"language": "de"}, "'en' or 'it'"),
        ({"formats": []}, "at least 1"),
        ({"formats": ["docx"]}, "'pdf' or 'html'"),
    ],
)
def test_bad_schedules_are_refused_with_a_reason(fields: dict[str, Any], message: str) -> None:
    data = {
        "name": "x",
        "frequency": "weekly",
        "weekday": 0,
        "recipients": ["boss@example.com"],
        **fields,
    }
    with pytest.raises(ValidationError) as info:
        ReportScheduleIn(**data)
    assert message in str(info.value)


def test_recipients_are_trimmed_and_deduplicated() -> None:
    data = ReportScheduleIn(
        name=" Weekly ",
        frequency="weekly",
        weekday=2,
        recipients=[" a@example.com", "A@example.com", "b@example.com"],
        formats=["html", "pdf", "pdf"],
    )
    assert data.recipients == ["a@example.com", "b@example.com"]
    assert data.formats == ["pdf", "html"]
    assert data.name == "Weekly"


def test_campaign_of_another_workspace_and_roles(db: Session, brand: Brand) -> None:
    other_owner = make_user(db)
    other = make_workspace(db, other_owner, name="Other")
    theirs = campaign(db, Brand(other_owner, other, brand.channel, brand.providers, brand.cipher))
    data = ReportScheduleIn(
        name="x", frequency="weekly", weekday=0, recipients=["a@example.com"], campaign_id=theirs
    )
    with pytest.raises(InvalidInput):
        schedules.create_schedule(db, brand.principal, brand.id, data, now=START)
    editor = add_member(db, brand.workspace, brand.owner, Role.editor)
    data.campaign_id = None
    with pytest.raises(PermissionDenied):
        schedules.create_schedule(db, Principal.for_user(editor), brand.id, data, now=START)
    row = schedules.create_schedule(db, brand.principal, brand.id, data, now=START)
    # The editor may read the schedules, not change them.
    assert schedules.list_schedules(db, Principal.for_user(editor), brand.id) == [row]


# -- delivery through the worker and a real SMTP server ---------------------------------------


def _parts(msg: EmailMessage) -> tuple[str, list[EmailMessage]]:
    body = msg.get_body(preferencelist=("plain",))
    assert body is not None
    attachments = [p for p in msg.iter_attachments() if isinstance(p, EmailMessage)]
    return body.get_content().replace("\r\n", "\n"), attachments


def test_due_report_arrives_once_in_italian_with_the_pdf(rig: Rig) -> None:
    spring = campaign(rig.db, rig.brand, "Primavera")
    row = rig.schedule()
    assert row.next_run_at == dt.datetime(2026, 11, 30, 7, 0, tzinfo=dt.UTC)  # Monday 08:00
    rig.run()
    assert rig.inbox.messages == []  # not due yet

    rig.clock._now = dt.datetime(2026, 11, 30, 7, 2, tzinfo=dt.UTC)
    rig.run()
    [(_, rcpts, msg)] = rig.inbox.messages
    assert sorted(rcpts) == ["boss@example.com", "team@example.com"]
    assert msg.get_content_type() == "multipart/mixed"
    # The e-mail's own sentences are in the web catalogue (the localiser translates them with
    # the rest); "Reach" was translated before them.
    it = templating.tr("it").gettext
    subject = it("%(workspace)s · weekly report, %(start)s – %(end)s") % {
        "workspace": "Caffè Aurora",
        "start": "23 nov 2026",
        "end": "30 nov 2026",
    }
    assert msg["Subject"] == subject
    assert msg["From"] == "reports@dialogo.test"
    text, attachments = _parts(msg)
    assert text.startswith(f"{it('Hello,')}\n")
    assert "Caffè Aurora" in text.splitlines()[1]
    assert "\n- Copertura: " in text and "(PDF)" in text
    [pdf] = attachments
    assert pdf.get_content_type() == "application/pdf"
    assert pdf.get_filename() == "caffe-aurora-weekly-2026-11-30.pdf"
    assert pdf.get_content().startswith(b"%PDF-")

    [delivery] = rig.deliveries(row)
    assert (delivery.status, delivery.period, delivery.attempts) == ("sent", "2026-11-30T08:00", 1)
    assert delivery.message_id == msg["Message-ID"]
    rig.db.refresh(row)
    assert row.last_sent_at is not None and row.last_error is None
    assert row.next_run_at == dt.datetime(2026, 12, 7, 7, 0, tzinfo=dt.UTC)

    # Later ticks in the same period send nothing more; the next Monday sends the next one.
    for minutes in (10, 60, 24 * 60):
        rig.clock._now = dt.datetime(2026, 11, 30, 7, 2, tzinfo=dt.UTC) + dt.timedelta(
            minutes=minutes
        )
        rig.run()
    assert len(rig.inbox.messages) == 1
    rig.clock._now = dt.datetime(2026, 12, 7, 7, 1, tzinfo=dt.UTC)
    rig.run()
    assert len(rig.inbox.messages) == 2
    assert [d.period for d in rig.deliveries(row)] == ["2026-11-30T08:00", "2026-12-07T08:00"]
    assert len(rig.send_jobs()) == 2
    assert spring  # a campaign exists: the ROI table has a row (rendered in the PDF)


def test_two_ticks_of_one_period_enqueue_one_job(rig: Rig) -> None:
    row = rig.schedule()
    due = dt.datetime(2026, 11, 30, 7, 3, tzinfo=dt.UTC)
    assert schedules.enqueue_due(rig.db, now=due) == 1
    # The same schedule and period again (as a second worker whose read was stale would do).
    row.next_run_at = dt.datetime(2026, 11, 30, 7, 0, tzinfo=dt.UTC)
    assert schedules.enqueue_due(rig.db, now=due) == 1
    rig.db.commit()
    assert len(rig.send_jobs()) == 1


def test_english_html_and_pdf_for_one_campaign(rig: Rig) -> None:
    spring = campaign(rig.db, rig.brand, "Spring")
    row = rig.schedule(
        language="en",
        formats=["pdf", "html"],
        campaign_id=spring,
        frequency="monthly",
        month_day=1,
        weekday=None,
    )
    assert row.next_run_at == dt.datetime(2026, 12, 1, 7, 0, tzinfo=dt.UTC)
    rig.clock._now = dt.datetime(2026, 12, 1, 7, 1, tzinfo=dt.UTC)
    rig.run()
    [(_, _, msg)] = rig.inbox.messages
    assert msg["Subject"].startswith("Caffè Aurora · monthly report")
    text, attachments = _parts(msg)
    assert text.startswith("Hello,\nhere is the monthly report of Caffè Aurora")
    assert "Campaign: Spring" in text and "(PDF, HTML)" in text
    assert [a.get_content_type() for a in attachments] == ["application/pdf", "text/html"]
    html = attachments[1].get_content()
    # The Measurement page's document, restricted to the campaign.
    assert "Campaign: Spring" in html and "Caffè Aurora · Measurement" in html
    # November has 30 days: the report covers them.
    assert "Nov 1, 2026" in html and "Dec 1, 2026" in html


def test_smtp_failure_is_retried_with_backoff_then_recorded_and_notified(rig: Rig) -> None:
    row = rig.schedule(formats=["html"])  # no PDF: five attempts stay quick
    rig.inbox.failures = 100
    rig.clock._now = dt.datetime(2026, 11, 30, 7, 1, tzinfo=dt.UTC)
    rig.run()
    [delivery] = rig.deliveries(row)
    [job] = rig.send_jobs()
    assert delivery.status == "queued" and "451" in (delivery.error or "")
    assert job.status == "queued" and ensure_aware(job.run_at) > rig.clock.now()
    notes = rig.db.scalars(select(Notification).where(Notification.kind == "report_delivery"))
    assert list(notes) == []  # not yet: it will be retried
    for _ in range(schedules.SEND_MAX_ATTEMPTS):
        rig.clock.advance(hours=2)
        rig.run()
    rig.db.refresh(job)
    [delivery] = rig.deliveries(row)
    rig.db.refresh(row)
    assert job.status == "failed" and job.attempts == schedules.SEND_MAX_ATTEMPTS
    assert delivery.status == "failed" and delivery.attempts == schedules.SEND_MAX_ATTEMPTS
    assert row.last_error is not None and "451" in row.last_error
    [note] = rig.db.scalars(
        select(Notification).where(
            Notification.workspace_id == rig.brand.id, Notification.kind == "report_delivery"
        )
    )
    assert "Monday numbers" in note.title and note.severity == "error"
    assert rig.inbox.messages == []


def test_a_transient_failure_then_success_sends_one_copy(rig: Rig) -> None:
    row = rig.schedule(formats=["html"])
    rig.inbox.failures = 1
    rig.clock._now = dt.datetime(2026, 11, 30, 7, 1, tzinfo=dt.UTC)
    rig.run()
    assert rig.inbox.messages == []
    rig.clock.advance(minutes=1)
    rig.run()
    assert len(rig.inbox.messages) == 1
    [delivery] = rig.deliveries(row)
    assert (delivery.status, delivery.attempts, delivery.error) == ("sent", 2, None)


class _Killed(BaseException):
    """The worker process dies (kill -9) right after the SMTP server accepted the message."""


def test_a_worker_killed_mid_send_does_not_send_twice(
    rig: Rig, monkeypatch: pytest.MonkeyPatch
) -> None:
    row = rig.schedule(formats=["html"])
    real = mail.transmit

    def accepted_then_killed(*args: Any, **kwargs: Any) -> Any:
        real(*args, **kwargs)
        raise _Killed

    monkeypatch.setattr(mail, "transmit", accepted_then_killed)
    rig.clock._now = dt.datetime(2026, 11, 30, 7, 1, tzinfo=dt.UTC)
    with pytest.raises(_Killed):
        rig.run()
    monkeypatch.setattr(mail, "transmit", real)
    rig.db.expire_all()
    [job] = rig.send_jobs()
    assert job.status == "running" and len(rig.inbox.messages) == 1
    # Another worker takes the job over once the dead one's lease has expired.
    rig.clock.advance(seconds=rig.settings.worker_lease_seconds + 5)
    rig.run()
    rig.db.refresh(job)
    [delivery] = rig.deliveries(row)
    assert job.status == "done" and job.attempts == 2
    assert delivery.status == "uncertain"
    assert len(rig.inbox.messages) == 1  # not sent a second time
    rig.db.refresh(row)
    assert row.last_error is not None and "may not have arrived" in row.last_error
    assert rig.db.scalar(select(Notification).where(Notification.kind == "report_delivery"))


def test_send_now_sends_outside_the_schedule(rig: Rig) -> None:
    row = rig.schedule(language="en", formats=["html"], recipients=["solo@example.com"])
    delivery = schedules.send_now(
        rig.db, rig.brand.principal, rig.brand.id, row.id, now=rig.clock.now()
    )
    rig.db.commit()
    assert delivery.status == "queued" and delivery.period.startswith("manual:")
    rig.run()
    [(_, rcpts, _msg)] = rig.inbox.messages
    assert rcpts == ["solo@example.com"]
    rig.db.refresh(delivery)
    assert delivery.status == "sent"
    rig.db.refresh(row)
    assert row.next_run_at == dt.datetime(2026, 11, 30, 7, 0, tzinfo=dt.UTC)  # unchanged


def test_no_mail_server_configured_is_recorded(rig: Rig) -> None:
    rig.settings = rig.settings.model_copy(update={"smtp_host": None})
    row = rig.schedule(formats=["html"])
    rig.clock._now = dt.datetime(2026, 11, 30, 7, 1, tzinfo=dt.UTC)
    for _ in range(schedules.SEND_MAX_ATTEMPTS + 1):
        rig.run()
        rig.clock.advance(hours=2)
    [delivery] = rig.deliveries(row)
    rig.db.refresh(row)
    assert delivery.status == "failed"
    assert row.last_error == "no mail server is configured (DIALOGO_SMTP_HOST)"


def test_a_worker_without_the_report_renderer_sends_nothing_and_says_so(rig: Rig) -> None:
    rendering.register_renderer(None)  # a worker started without the adapters' wiring
    row = rig.schedule()
    rig.clock._now = dt.datetime(2026, 11, 30, 7, 1, tzinfo=dt.UTC)
    rig.run()
    assert rig.inbox.messages == []
    [delivery] = rig.deliveries(row)
    [job] = rig.send_jobs()
    assert (delivery.status, delivery.attempts, job.status) == ("failed", 1, "done")
    assert delivery.error is not None and "no report renderer" in delivery.error
    rig.db.refresh(row)
    assert row.last_error == delivery.error
    [note] = rig.db.scalars(select(Notification).where(Notification.kind == "report_delivery"))
    assert "Monday numbers" in note.title and note.severity == "error"
    # Later ticks do not send it either (the period is recorded as failed).
    rig.clock.advance(hours=1)
    rig.run()
    assert rig.inbox.messages == []
