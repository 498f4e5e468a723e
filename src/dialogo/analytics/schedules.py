"""Scheduled e-mail reports: schedules, when they are due, and their delivery.

**When.** A schedule runs weekly (a weekday) or monthly (a day of the month; 29–31 mean the
month's last day in shorter months) at a local time in the workspace's IANA zone. Occurrences
are computed in that zone and stored as UTC instants (``next_run_at``); daylight-saving changes
follow :func:`dialogo.publishing.recurrence.resolve_local` (a time in the spring gap moves
forward by the gap, an ambiguous autumn time takes its first instant), so "Monday 08:00" stays
08:00 on the wall clock across the change.

**Exactly once per period.** The periodic tick (:data:`dialogo.analytics.tasks.TICK_TASK`)
enqueues one send job per due schedule with the unique key ``analytics.send_report:<schedule
id>:<period>``, the period being the occurrence's local date and time, and moves
``next_run_at`` on, in the job's own transaction: two workers ticking at once enqueue one job.
The send job keeps one :class:`~dialogo.analytics.schedule_models.ReportDelivery` row per
(schedule, period) and commits it as ``sending`` *before* talking to SMTP:

* SMTP refuses or cannot be reached → back to ``queued`` with the error, and the job is retried
  with the worker's exponential backoff; after the last attempt → ``failed``, the error is
  recorded on the schedule and the workspace gets a notification;
* the worker dies during the SMTP conversation (the row is still ``sending`` when the job is
  taken over) → ``uncertain``: the message may or may not have left, so it is **not** sent a
  second time; the schedule and a notification say so, and "Send now" sends it again if wanted.
* no report renderer is registered in the worker's process (see
  :mod:`dialogo.analytics.rendering`) → ``failed`` at once, recorded and notified: a report is
  never sent rendered some other way, or empty.

So a report is sent at most once per period, and a period that was not certainly sent is
always visible (never silently lost).
"""

from __future__ import annotations

import calendar
import datetime as dt
import secrets
from typing import Any, Literal
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from sqlalchemy import select
from sqlalchemy.orm import Session

from dialogo.accounts.models import Workspace
from dialogo.accounts.permissions import Permission
from dialogo.accounts.service import Principal, authorize
from dialogo.analytics import report_mail
from dialogo.analytics.rendering import RendererMissing, ReportRenderer
from dialogo.analytics.schedule_models import (
    DeliveryStatus,
    ReportDelivery,
    ReportFrequency,
    ReportSchedule,
)
from dialogo.core.clock import ensure_aware
from dialogo.core.errors import InvalidInput, NotFound
from dialogo.jobs import service as jobs
from dialogo.notifications import mail
from dialogo.notifications import service as notifications
from dialogo.notifications.mail import MailError, SmtpConfig, valid_address
from dialogo.publishing.models import Campaign
from dialogo.publishing.recurrence import parse_local_time, resolve_local, zone

SEND_TASK = "analytics.send_report"
SEND_MAX_ATTEMPTS = 5
MAX_RECIPIENTS = 50
NOTIFICATION_KIND = "report_delivery"


# -- schemas ------------------------------------------------------------------------------------


class ReportScheduleIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=200)
    frequency: Literal["weekly", "monthly"]
    weekday: int | None = Field(default=None, ge=0, le=6, description="weekly: 0 = Monday")
    month_day: int | None = Field(
        default=None, ge=1, le=31, description="monthly: 29–31 mean the last day when shorter"
    )
    local_time: str = Field(default="08:00", description="HH:MM in the workspace's time zone")
    language: Literal["en", "it"] = "en"
    formats: list[Literal["pdf", "html"]] = Field(default=["pdf"], min_length=1)
    campaign_id: int | None = None
    recipients: list[str] = Field(min_length=1, max_length=MAX_RECIPIENTS)
    active: bool = True

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        value = " ".join(value.split())
        if not value:
            raise ValueError("the name is empty")
        return value

    @field_validator("local_time")
    @classmethod
    def _time(cls, value: str) -> str:
        try:
            return parse_local_time(value).strftime("%H:%M")
        except InvalidInput as exc:
            raise ValueError(exc.message) from None

    @field_validator("formats")
    @classmethod
    def _formats(cls, value: list[str]) -> list[str]:
        return sorted(set(value), key=["pdf", "html"].index)

    @field_validator("recipients")
    @classmethod
    def _recipients(cls, value: list[str]) -> list[str]:
        seen: list[str] = []
        bad = []
        for raw in value:
            address = raw.strip()
            if not valid_address(address):
                bad.append(raw)
            elif address.lower() not in {s.lower() for s in seen}:
                seen.append(address)
        if bad:
            raise ValueError(f"not e-mail addresses: {', '.join(repr(b) for b in bad)}")
        return seen

    @model_validator(mode="after")
    def _when(self) -> ReportScheduleIn:
        if self.frequency == "weekly":
            if self.weekday is None:
                raise ValueError("a weekly report needs a weekday (0 = Monday … 6 = Sunday)")
            self.month_day = None
        else:
            if self.month_day is None:
                raise ValueError("a monthly report needs a day of the month (1–31)")
            self.weekday = None
        return self


class ReportScheduleOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    workspace_id: int
    name: str
    frequency: str
    weekday: int | None
    month_day: int | None
    local_time: str
    language: str
    formats: list[str]
    campaign_id: int | None
    recipients: list[str]
    active: bool
    next_run_at: dt.datetime | None
    last_sent_at: dt.datetime | None
    last_error: str | None
    last_error_at: dt.datetime | None
    created_at: dt.datetime


class ReportDeliveryOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    schedule_id: int
    period: str
    status: str
    attempts: int
    recipients: list[str]
    message_id: str | None
    error: str | None
    created_at: dt.datetime
    started_at: dt.datetime | None
    finished_at: dt.datetime | None


# -- when ---------------------------------------------------------------------------------------


def _occurrence(row: ReportSchedule, day: dt.date, tz: ZoneInfo) -> dt.datetime:
    return resolve_local(day, parse_local_time(row.local_time), tz)


def next_occurrence(row: ReportSchedule, tz: ZoneInfo, *, after: dt.datetime) -> dt.datetime:
    """The first occurrence strictly after ``after`` (UTC instant)."""
    local = ensure_aware(after).astimezone(tz).date()
    if row.frequency == ReportFrequency.weekly:
        assert row.weekday is not None
        for offset in range(-1, 9):  # a day either side: the UTC instant may cross midnight
            day = local + dt.timedelta(days=offset)
            if day.weekday() == row.weekday:
                at = _occurrence(row, day, tz)
                if at > after:
                    return at
    else:
        assert row.month_day is not None
        year, month = local.year, local.month
        if local.day == 1:  # the day before may hold the previous month's occurrence
            year, month = (year, month - 1) if month > 1 else (year - 1, 12)
        for _ in range(4):
            last = calendar.monthrange(year, month)[1]
            at = _occurrence(row, dt.date(year, month, min(row.month_day, last)), tz)
            if at > after:
                return at
            year, month = (year, month + 1) if month < 12 else (year + 1, 1)
    raise AssertionError("no occurrence found")  # pragma: no cover - the loops always find one


def period_key(row: ReportSchedule, tz: ZoneInfo, at: dt.datetime) -> str:
    """The occurrence's local date and the schedule's local time: one key per period."""
    return f"{ensure_aware(at).astimezone(tz).date().isoformat()}T{row.local_time}"


def _zone_of(session: Session, workspace_id: int) -> ZoneInfo:
    workspace = session.get(Workspace, workspace_id)
    return zone(workspace.timezone if workspace is not None else "UTC")


# -- service (API, web) ------------------------------------------------------------------------


def _check_campaign(session: Session, workspace_id: int, campaign_id: int | None) -> None:
    if campaign_id is None:
        return
    campaign = session.get(Campaign, campaign_id)
    if campaign is None or campaign.workspace_id != workspace_id:
        raise InvalidInput(f"no campaign {campaign_id} in this workspace", code="bad_campaign")


def _apply(session: Session, row: ReportSchedule, data: ReportScheduleIn, now: dt.datetime) -> None:
    for field, value in data.model_dump().items():
        setattr(row, field, value)
    row.next_run_at = (
        next_occurrence(row, _zone_of(session, row.workspace_id), after=now) if row.active else None
    )


def list_schedules(
    session: Session, principal: Principal, workspace_id: int
) -> list[ReportSchedule]:
    authorize(session, principal, workspace_id, Permission.analytics_read)
    return list(
        session.scalars(
            select(ReportSchedule)
            .where(ReportSchedule.workspace_id == workspace_id)
            .order_by(ReportSchedule.id)
        )
    )


def get_schedule(
    session: Session, principal: Principal, workspace_id: int, schedule_id: int
) -> ReportSchedule:
    authorize(session, principal, workspace_id, Permission.analytics_read)
    return _get(session, workspace_id, schedule_id)


def _get(session: Session, workspace_id: int, schedule_id: int) -> ReportSchedule:
    row = session.get(ReportSchedule, schedule_id)
    if row is None or row.workspace_id != workspace_id:
        raise NotFound("report schedule not found")
    return row


def create_schedule(
    session: Session,
    principal: Principal,
    workspace_id: int,
    data: ReportScheduleIn,
    *,
    now: dt.datetime,
) -> ReportSchedule:
    authorize(session, principal, workspace_id, Permission.workspace_update)
    _check_campaign(session, workspace_id, data.campaign_id)
    row = ReportSchedule(workspace_id=workspace_id, created_by=principal.user_id)
    _apply(session, row, data, now)
    session.add(row)
    session.flush()
    return row


def update_schedule(
    session: Session,
    principal: Principal,
    workspace_id: int,
    schedule_id: int,
    data: ReportScheduleIn,
    *,
    now: dt.datetime,
) -> ReportSchedule:
    authorize(session, principal, workspace_id, Permission.workspace_update)
    row = _get(session, workspace_id, schedule_id)
    _check_campaign(session, workspace_id, data.campaign_id)
    _apply(session, row, data, now)
    session.flush()
    return row


def delete_schedule(
    session: Session, principal: Principal, workspace_id: int, schedule_id: int
) -> None:
    authorize(session, principal, workspace_id, Permission.workspace_update)
    session.delete(_get(session, workspace_id, schedule_id))
    session.flush()


def list_deliveries(
    session: Session, principal: Principal, workspace_id: int, schedule_id: int, limit: int = 20
) -> list[ReportDelivery]:
    authorize(session, principal, workspace_id, Permission.analytics_read)
    _get(session, workspace_id, schedule_id)
    return list(
        session.scalars(
            select(ReportDelivery)
            .where(ReportDelivery.schedule_id == schedule_id)
            .order_by(ReportDelivery.id.desc())
            .limit(min(limit, 200))
        )
    )


def send_key(schedule_id: int, period: str) -> str:
    return f"{SEND_TASK}:{schedule_id}:{period}"


def send_now(
    session: Session,
    principal: Principal,
    workspace_id: int,
    schedule_id: int,
    *,
    now: dt.datetime,
) -> ReportDelivery:
    """Queue a delivery outside the schedule (a period of its own); the worker sends it."""
    authorize(session, principal, workspace_id, Permission.workspace_update)
    row = _get(session, workspace_id, schedule_id)
    period = f"manual:{now.strftime('%Y%m%dT%H%M%S')}:{secrets.token_hex(4)}"
    delivery = ReportDelivery(
        workspace_id=workspace_id,
        schedule_id=row.id,
        period=period,
        status=DeliveryStatus.queued.value,
        recipients=list(row.recipients),
    )
    session.add(delivery)
    jobs.enqueue(
        session,
        SEND_TASK,
        {"schedule_id": row.id, "period": period},
        run_at=now,
        workspace_id=workspace_id,
        unique_key=send_key(row.id, period),
        max_attempts=SEND_MAX_ATTEMPTS,
    )
    session.flush()
    return delivery


# -- worker --------------------------------------------------------------------------------------


def enqueue_due(session: Session, *, now: dt.datetime) -> int:
    """Enqueue one send job per due schedule and period, and move the schedules on (to the
    next occurrence after ``now``: a worker that was down for three weeks sends one report,
    not three)."""
    query = (
        select(ReportSchedule)
        .where(ReportSchedule.active.is_(True), ReportSchedule.next_run_at <= now)
        .order_by(ReportSchedule.next_run_at)
        .limit(500)
    )
    if session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True)
    count = 0
    for row in session.scalars(query).all():
        assert row.next_run_at is not None
        tz = _zone_of(session, row.workspace_id)
        period = period_key(row, tz, row.next_run_at)
        jobs.enqueue(
            session,
            SEND_TASK,
            {"schedule_id": row.id, "period": period},
            run_at=now,
            workspace_id=row.workspace_id,
            unique_key=send_key(row.id, period),
            max_attempts=SEND_MAX_ATTEMPTS,
        )
        row.next_run_at = next_occurrence(row, tz, after=now)
        count += 1
    session.flush()
    return count


class ReportSendFailed(Exception):
    """The SMTP server refused the report or could not be reached (retried with backoff)."""


def _notify_problem(
    session: Session, row: ReportSchedule, params: dict[str, Any], body: str = ""
) -> None:
    """``params["variant"]``: "failed" or "unconfirmed" (see
    :data:`dialogo.notifications.kinds.MESSAGES`)."""
    notifications.notify(
        session,
        row.workspace_id,
        kind=NOTIFICATION_KIND,
        params={"name": row.name, **params},
        body=body,
        link=f"/w/{row.workspace_id}/analytics#an-schedules",
        severity="error",
        dedupe_key=f"report-schedule:{row.id}",
    )


def _record_failure(
    session: Session, row: ReportSchedule, delivery: ReportDelivery, error: str, now: dt.datetime
) -> None:
    delivery.status = DeliveryStatus.failed.value
    delivery.error = error
    delivery.finished_at = now
    row.last_error = error
    row.last_error_at = now
    _notify_problem(
        session,
        row,
        {
            "variant": "failed",
            "period": delivery.period,
            "attempts": delivery.attempts,
            "error": error,
        },
    )


def deliver(
    session: Session,
    *,
    schedule_id: int,
    period: str,
    smtp: SmtpConfig | None,
    renderer: ReportRenderer | None,
    attempt: int,
    max_attempts: int,
    now: dt.datetime,
) -> dict[str, Any]:
    """Send one schedule's report for one period (the send job's body; see the module doc).

    ``session`` is the job's unit of work: this function commits it once, to record the
    ``sending`` state before the SMTP conversation (and the failure, before re-raising)."""
    row = session.get(ReportSchedule, schedule_id)
    if row is None:
        return {"status": "skipped", "reason": "the schedule was deleted"}
    delivery = session.scalar(
        select(ReportDelivery).where(
            ReportDelivery.schedule_id == schedule_id, ReportDelivery.period == period
        )
    )
    if delivery is None:
        delivery = ReportDelivery(
            workspace_id=row.workspace_id,
            schedule_id=row.id,
            period=period,
            status=DeliveryStatus.queued.value,
            recipients=list(row.recipients),
        )
        session.add(delivery)
        session.flush()
    if delivery.status in (
        DeliveryStatus.sent.value,
        DeliveryStatus.failed.value,
        DeliveryStatus.uncertain.value,
    ):
        return {"status": delivery.status, "delivery_id": delivery.id, "again": True}
    if delivery.status == DeliveryStatus.sending.value:
        # A previous attempt committed "sending" and never recorded the outcome: its worker
        # stopped during the SMTP conversation. The message may have left: do not send twice.
        error = (
            "the worker stopped while sending; the report may not have arrived "
            "(use “Send now” to send it again)"
        )
        delivery.status = DeliveryStatus.uncertain.value
        delivery.error = error
        delivery.finished_at = now
        row.last_error, row.last_error_at = error, now
        _notify_problem(session, row, {"variant": "unconfirmed"}, f"{period}: {error}")
        session.flush()
        return {"status": delivery.status, "delivery_id": delivery.id}

    if renderer is None:
        # A worker started without the adapters' wiring: retrying in this process cannot help,
        # and a report rendered any other way would not be the Measurement page's document.
        delivery.attempts += 1
        _record_failure(session, row, delivery, str(RendererMissing()), now)
        session.flush()
        return {"status": delivery.status, "delivery_id": delivery.id}
    last = attempt >= max_attempts
    try:
        if smtp is None:
            raise MailError("no mail server is configured (DIALOGO_SMTP_HOST)")
        workspace = session.get(Workspace, row.workspace_id)
        assert workspace is not None
        formats = [str(f) for f in row.formats] or ["pdf"]
        content = report_mail.render(
            session,
            workspace,
            renderer,
            frequency=row.frequency,
            language=row.language,
            formats=formats,
            campaign_id=row.campaign_id,
            schedule_name=row.name,
            now=now,
        )
        recipients = [str(r) for r in row.recipients]
        message = report_mail.build_message(smtp, recipients, content, formats)
    except Exception as exc:
        delivery.error = (
            f"{type(exc).__name__}: {exc}" if not isinstance(exc, MailError) else str(exc)
        )
        delivery.attempts += 1
        if last:
            _record_failure(session, row, delivery, delivery.error, now)
        session.commit()
        raise
    # Durable before the conversation: a worker killed from here on leaves "sending".
    delivery.status = DeliveryStatus.sending.value
    delivery.attempts += 1
    delivery.started_at = now
    delivery.recipients = recipients
    delivery.message_id = str(message["Message-ID"])
    session.commit()
    try:
        message_id, refused = mail.transmit(smtp, message, recipients)
    except MailError as exc:
        delivery.status = DeliveryStatus.queued.value
        delivery.error = str(exc)
        if last:
            _record_failure(session, row, delivery, str(exc), now)
        session.commit()
        raise ReportSendFailed(str(exc)) from exc
    delivery.status = DeliveryStatus.sent.value
    delivery.message_id = message_id
    delivery.finished_at = now
    delivery.error = f"refused by the server: {', '.join(refused)}" if refused else None
    row.last_sent_at = now
    if refused:
        row.last_error, row.last_error_at = delivery.error, now
    else:
        row.last_error = row.last_error_at = None
        notifications.resolve_by_key(session, row.workspace_id, f"report-schedule:{row.id}")
    session.flush()
    return {
        "status": delivery.status,
        "delivery_id": delivery.id,
        "recipients": len(recipients) - len(refused),
        "refused": refused,
    }
