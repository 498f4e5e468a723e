"""Publishing pages for what runs on its own (issue #4): each channel's queue slots, recurring
posts, and the webhooks that tell other systems about post events.

* **Queue slots**: per channel, weekly times (weekday + local time in the workspace's zone),
  added and removed one at a time, with the channel's next free slots; the composer's
  "Add to the queue" takes the next slot common to the post's channels.
* **Recurring posts**: a rule (daily, weekly, monthly; weekdays; a local time; start and end)
  with its upcoming occurrences, computed in the workspace's zone; stopping a rule cancels
  the posts it made that have not gone out.
* **Webhooks**: endpoints (address, events), the signing secret shown once when an endpoint
  is made, each endpoint's delivery log (status, attempts, answers), and a test event sent at
  once so the answer shows on the page.

Every form works without JavaScript.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from fastapi import APIRouter, Response
from fastapi.responses import RedirectResponse
from pydantic import ValidationError
from starlette.concurrency import run_in_threadpool

from dialogo.accounts.permissions import Permission
from dialogo.core.errors import DomainError, NotFound
from dialogo.core.i18n import N_
from dialogo.providers.netpolicy import guarded_client
from dialogo.publishing import recurrence, slots, webhooks
from dialogo.publishing import service as publishing
from dialogo.publishing.models import RecurrenceFrequency
from dialogo.publishing.schemas import VariantIn
from dialogo.web import messages
from dialogo.web.cookies import Flash
from dialogo.web.forms import read_form, text, texts
from dialogo.web.pages.publishing import channel_choices, cipher, refusal
from dialogo.web.shell import CurrentViewer, FormViewer, Viewer

router = APIRouter()

WEEKDAYS = (
    N_("Monday"),
    N_("Tuesday"),
    N_("Wednesday"),
    N_("Thursday"),
    N_("Friday"),
    N_("Saturday"),
    N_("Sunday"),
)
FREQUENCIES = {
    "daily": N_("Every day"),
    "weekly": N_("Every week"),
    "monthly": N_("Every month"),
}
NEXT_SLOTS = 5
UPCOMING = 5


def _redirect(viewer: Viewer, url: str, level: str, text_: str) -> Response:
    response = RedirectResponse(url, status_code=303)
    viewer.flash(response, level, text_)
    return response


def _int(value: str) -> int | None:
    return int(value) if value.isdigit() and len(value) < 18 else None


# --- queue slots ---------------------------------------------------------------------------------


def _queue_page(
    viewer: Viewer,
    workspace_id: int,
    *,
    errors: dict[int, str] | None = None,
    values: dict[int, dict[str, str]] | None = None,
    message: Flash | None = None,
    status: int = 200,
) -> Response:
    workspace, role = viewer.workspace(workspace_id, Permission.posts_read)
    now = viewer.ctx.clock.now()
    choices = [c for c in channel_choices(viewer, workspace_id) if c.publishes]
    stored = slots.list_slots(viewer.session, viewer.principal, workspace_id)
    by_channel: dict[int, list[Any]] = {c.channel.id: [] for c in choices}
    for row in stored:
        by_channel.setdefault(row.channel_id, []).append(row)
    upcoming = {
        c.channel.id: slots.next_free_slots(
            viewer.session, workspace_id, c.channel.id, count=NEXT_SLOTS, now=now
        )
        for c in choices
    }
    return viewer.render(
        "publishing_slots.html",
        active="publishing",
        workspace=workspace,
        role=role,
        choices=choices,
        by_channel=by_channel,
        upcoming=upcoming,
        weekdays=WEEKDAYS,
        errors=errors or {},
        values=values or {},
        message=message,
        can_edit=viewer.can(role, Permission.posts_publish),
        can_write=viewer.can(role, Permission.posts_write),
        status=status,
    )


@router.get("/w/{workspace_id}/publishing/queue")
def queue_page(workspace_id: int, viewer: CurrentViewer) -> Response:
    return _queue_page(viewer, workspace_id)


def _current_slots(viewer: Viewer, workspace_id: int, channel_id: int) -> list[slots.SlotIn]:
    return [
        slots.SlotIn(weekday=s.weekday, local_time=s.local_time)
        for s in slots.list_slots(viewer.session, viewer.principal, workspace_id, channel_id)
    ]


@router.post("/w/{workspace_id}/publishing/queue/{channel_id}/add")
async def add_slot(workspace_id: int, channel_id: int, viewer: FormViewer) -> Response:
    viewer.workspace(workspace_id, Permission.posts_publish)
    form = await read_form(viewer.request)
    typed = {"weekday": text(form, "weekday"), "local_time": text(form, "local_time")}
    try:
        new = slots.SlotIn(weekday=_int(typed["weekday"]) or 0, local_time=typed["local_time"])
        if _int(typed["weekday"]) is None:
            raise ValueError("weekday")
    except (ValidationError, ValueError):
        return _queue_page(
            viewer,
            workspace_id,
            errors={channel_id: viewer.gettext("Choose a day and a time like 09:30.")},
            values={channel_id: typed},
            status=422,
        )
    url = f"/w/{workspace_id}/publishing/queue#queue-{channel_id}"
    try:
        current = _current_slots(viewer, workspace_id, channel_id)
        if any(s.as_slot() == new.as_slot() for s in current):
            return _redirect(viewer, url, "info", viewer.gettext("This slot exists already."))
        slots.set_slots(viewer.session, viewer.principal, workspace_id, channel_id, [*current, new])
    except DomainError as exc:
        viewer.session.rollback()
        return _redirect(viewer, url, "error", refusal(viewer, exc))
    return _redirect(
        viewer,
        url,
        "success",
        viewer.gettext("Slot added: %(day)s at %(time)s.")
        % {"day": viewer.gettext(WEEKDAYS[new.weekday]), "time": new.local_time},
    )


@router.post("/w/{workspace_id}/publishing/queue/{channel_id}/remove")
async def remove_slot(workspace_id: int, channel_id: int, viewer: FormViewer) -> Response:
    viewer.workspace(workspace_id, Permission.posts_publish)
    form = await read_form(viewer.request)
    url = f"/w/{workspace_id}/publishing/queue#queue-{channel_id}"
    weekday = _int(text(form, "weekday"))
    local_time = text(form, "local_time")
    try:
        current = _current_slots(viewer, workspace_id, channel_id)
        kept = [s for s in current if (s.weekday, s.local_time) != (weekday, local_time)]
        if len(kept) == len(current):
            return _redirect(viewer, url, "error", viewer.gettext("This slot was removed already."))
        slots.set_slots(viewer.session, viewer.principal, workspace_id, channel_id, kept)
    except DomainError as exc:
        viewer.session.rollback()
        return _redirect(viewer, url, "error", refusal(viewer, exc))
    return _redirect(viewer, url, "success", viewer.gettext("Slot removed."))


# --- recurring posts -----------------------------------------------------------------------------

RECURRING_FIELD_ERRORS = {
    "name": N_("Keep the name under 200 characters."),
    "frequency": N_("Choose how often."),
    "interval": N_("Enter a whole number from 1 to 52."),
    "weekdays": N_("Choose days of the week."),
    "month_day": N_("Enter a day of the month from 1 to 31 (monthly rules only)."),
    "local_time": N_("Enter a time like 09:30."),
    "starts_on": N_("Enter a date."),
    "ends_on": N_("Enter a date."),
    "variants": N_("Choose at least one channel."),
    "campaign_id": N_("Choose one of the campaigns listed."),
}


def _recurring_defaults(viewer: Viewer, timezone: str) -> dict[str, Any]:
    today = viewer.ctx.clock.now().astimezone(recurrence.zone(timezone)).date()
    return {
        "frequency": "weekly",
        "interval": "1",
        "local_time": "09:00",
        "starts_on": today.isoformat(),
        "weekdays": [],
        "channels": [],
    }


def _recurring_page(
    viewer: Viewer,
    workspace_id: int,
    *,
    values: dict[str, Any] | None = None,
    errors: dict[str, str] | None = None,
    message: Flash | None = None,
    status: int = 200,
) -> Response:
    workspace, role = viewer.workspace(workspace_id, Permission.posts_read)
    now = viewer.ctx.clock.now()
    tz = recurrence.zone(workspace.timezone)
    rules = recurrence.list_recurring(viewer.session, viewer.principal, workspace_id)
    upcoming: dict[int, list[dt.datetime]] = {}
    made: dict[int, list[Any]] = {}
    for rule in rules:
        upcoming[rule.id] = (
            recurrence.occurrences(recurrence.rule_of(rule), tz, now, now + dt.timedelta(days=400))[
                :UPCOMING
            ]
            if rule.active
            else []
        )
        made[rule.id] = recurrence.occurrence_posts(viewer.session, rule)[-UPCOMING:]
    choices = [c for c in channel_choices(viewer, workspace_id) if c.publishes]
    return viewer.render(
        "publishing_recurring.html",
        active="publishing",
        workspace=workspace,
        role=role,
        rules=rules,
        upcoming=upcoming,
        made=made,
        choices=choices,
        channel_names={c.channel.id: c.channel.name for c in choices},
        campaigns=publishing.list_campaigns(viewer.session, viewer.principal, workspace_id),
        weekdays=WEEKDAYS,
        frequencies=FREQUENCIES,
        values=values if values is not None else _recurring_defaults(viewer, workspace.timezone),
        errors=errors or {},
        message=message,
        can_create=viewer.can(role, Permission.posts_publish),
        status=status,
    )


@router.get("/w/{workspace_id}/publishing/recurring")
def recurring_page(workspace_id: int, viewer: CurrentViewer) -> Response:
    return _recurring_page(viewer, workspace_id)


@router.post("/w/{workspace_id}/publishing/recurring")
async def create_recurring(workspace_id: int, viewer: FormViewer) -> Response:
    viewer.workspace(workspace_id, Permission.posts_publish)
    form = await read_form(viewer.request)
    values: dict[str, Any] = {
        k: text(form, k)
        for k in (
            "name",
            "campaign",
            "frequency",
            "interval",
            "month_day",
            "local_time",
            "starts_on",
            "ends_on",
        )
    }
    values["text"] = text(form, "text", strip=False).replace("\r\n", "\n")
    values["weekdays"] = [d for d in texts(form, "weekday") if d in {str(i) for i in range(7)}]
    values["channels"] = [c for c in texts(form, "channel") if _int(c) is not None]
    errors: dict[str, str] = {}
    if not values["text"].strip():
        errors["text"] = viewer.gettext("Write the post's text.")
    if not values["channels"]:
        errors["channels"] = viewer.gettext("Choose at least one channel.")
    raw: dict[str, Any] = {
        "name": values["name"],
        "campaign_id": _int(values["campaign"]) if values["campaign"] else None,
        "frequency": values["frequency"],
        "interval": values["interval"] or 1,
        "weekdays": [int(d) for d in values["weekdays"]],
        "month_day": values["month_day"] or None,
        "local_time": values["local_time"],
        "starts_on": values["starts_on"] or None,
        "ends_on": values["ends_on"] or None,
        "variants": [
            {"channel_id": int(c), "text": values["text"].strip()} for c in values["channels"]
        ],
    }
    data = None
    try:
        if not errors:
            data = recurrence.RecurringIn(
                **{**raw, "variants": [VariantIn(**v) for v in raw["variants"]]}
            )
    except ValidationError as exc:
        errors = messages.field_errors(viewer.tr, exc, RECURRING_FIELD_ERRORS)
        if "" in errors:  # the model's own checks: the dates' order, month_day
            errors.pop("")
            if raw["month_day"] and raw["frequency"] != RecurrenceFrequency.monthly.value:
                errors["month_day"] = viewer.gettext(RECURRING_FIELD_ERRORS["month_day"])
            else:
                errors["ends_on"] = viewer.gettext("The end is before the start.")
        if "variants" in errors:
            errors["channels"] = errors.pop("variants")
    if data is None:
        return _recurring_page(viewer, workspace_id, values=values, errors=errors, status=422)
    try:
        row = await run_in_threadpool(
            recurrence.create_recurring,
            viewer.session,
            viewer.principal,
            workspace_id,
            data,
            registry=viewer.ctx.providers,
            cipher=cipher(viewer),
            now=viewer.ctx.clock.now(),
        )
    except DomainError as exc:
        viewer.session.rollback()
        return _recurring_page(
            viewer,
            workspace_id,
            values=values,
            message=Flash("error", refusal(viewer, exc)),
            status=exc.status,
        )
    return _redirect(
        viewer,
        f"/w/{workspace_id}/publishing/recurring#recurring-{row.id}",
        "success",
        viewer.gettext("The recurring post is on: its next posts are scheduled."),
    )


@router.post("/w/{workspace_id}/publishing/recurring/{recurring_id}/stop")
def stop_recurring(workspace_id: int, recurring_id: int, viewer: FormViewer) -> Response:
    url = f"/w/{workspace_id}/publishing/recurring#recurring-{recurring_id}"
    try:
        recurrence.stop_recurring(viewer.session, viewer.principal, workspace_id, recurring_id)
    except DomainError as exc:
        viewer.session.rollback()
        return _redirect(viewer, url, "error", refusal(viewer, exc))
    return _redirect(
        viewer,
        url,
        "success",
        viewer.gettext("Stopped: the posts it had scheduled are cancelled."),
    )


# --- webhooks ------------------------------------------------------------------------------------

DELIVERY_LABELS = {
    "pending": N_("Pending"),
    "delivered": N_("Delivered"),
    "failed": N_("Failed"),
}
WEBHOOK_FIELD_ERRORS = {
    "url": N_("Enter an http:// or https:// address."),
    "description": N_("Keep the description under 500 characters."),
    "events": N_("Choose events from the list."),
}


def _webhooks_page(
    viewer: Viewer,
    workspace_id: int,
    *,
    values: dict[str, Any] | None = None,
    errors: dict[str, str] | None = None,
    created: tuple[Any, str] | None = None,
    message: Flash | None = None,
    status: int = 200,
) -> Response:
    workspace, role = viewer.workspace(workspace_id, Permission.workspace_update)
    endpoints = webhooks.list_endpoints(viewer.session, viewer.principal, workspace_id)
    recent = {
        e.id: webhooks.list_deliveries(
            viewer.session, viewer.principal, workspace_id, e.id, limit=1
        )
        for e in endpoints
    }
    return viewer.render(
        "publishing_webhooks.html",
        active="publishing",
        workspace=workspace,
        role=role,
        endpoints=endpoints,
        recent=recent,
        event_types=webhooks.EVENT_TYPES,
        delivery_labels=DELIVERY_LABELS,
        values=values or {"events": []},
        errors=errors or {},
        created=created,
        message=message,
        status=status,
    )


@router.get("/w/{workspace_id}/publishing/webhooks")
def webhooks_page(workspace_id: int, viewer: CurrentViewer) -> Response:
    return _webhooks_page(viewer, workspace_id)


@router.post("/w/{workspace_id}/publishing/webhooks")
async def create_webhook(workspace_id: int, viewer: FormViewer) -> Response:
    viewer.workspace(workspace_id, Permission.workspace_update)
    form = await read_form(viewer.request)
    values: dict[str, Any] = {
        "url": text(form, "url"),
        "description": text(form, "description"),
        "events": texts(form, "event"),
    }
    try:
        data = webhooks.WebhookIn(**values)
    except ValidationError as exc:
        errors = messages.field_errors(viewer.tr, exc, WEBHOOK_FIELD_ERRORS)
        return _webhooks_page(viewer, workspace_id, values=values, errors=errors, status=422)
    endpoint, secret = webhooks.create_endpoint(
        viewer.session, viewer.principal, workspace_id, data, cipher=cipher(viewer)
    )
    # Shown on this answer only: it is stored encrypted and never displayed again.
    return _webhooks_page(
        viewer,
        workspace_id,
        created=(endpoint, secret),
        message=Flash(
            "success",
            viewer.gettext(
                "The endpoint is on. Copy its signing secret now: it is not shown again."
            ),
        ),
    )


@router.post("/w/{workspace_id}/publishing/webhooks/{endpoint_id}/delete")
def delete_webhook(workspace_id: int, endpoint_id: int, viewer: FormViewer) -> Response:
    url = f"/w/{workspace_id}/publishing/webhooks"
    try:
        webhooks.delete_endpoint(viewer.session, viewer.principal, workspace_id, endpoint_id)
    except DomainError as exc:
        viewer.session.rollback()
        return _redirect(viewer, url, "error", refusal(viewer, exc))
    return _redirect(
        viewer, url, "success", viewer.gettext("The endpoint and its delivery log are removed.")
    )


@router.get("/w/{workspace_id}/publishing/webhooks/{endpoint_id}")
def webhook_log(workspace_id: int, endpoint_id: int, viewer: CurrentViewer) -> Response:
    workspace, role = viewer.workspace(workspace_id, Permission.workspace_update)
    deliveries = webhooks.list_deliveries(
        viewer.session, viewer.principal, workspace_id, endpoint_id
    )
    endpoint = next(
        (
            e
            for e in webhooks.list_endpoints(viewer.session, viewer.principal, workspace_id)
            if e.id == endpoint_id
        ),
        None,
    )
    if endpoint is None:
        raise NotFound("webhook endpoint not found")
    return viewer.render(
        "publishing_webhooks_log.html",
        active="publishing",
        workspace=workspace,
        role=role,
        endpoint=endpoint,
        deliveries=deliveries,
        delivery_labels=DELIVERY_LABELS,
        max_attempts=webhooks.MAX_ATTEMPTS,
    )


@router.post("/w/{workspace_id}/publishing/webhooks/{endpoint_id}/test")
async def test_webhook(workspace_id: int, endpoint_id: int, viewer: FormViewer) -> Response:
    """Record a ``webhook.test`` delivery and send its first attempt now (a failure is retried
    later by the worker, like any event), then show the log with the answer."""
    viewer.workspace(workspace_id, Permission.workspace_update)
    url = f"/w/{workspace_id}/publishing/webhooks/{endpoint_id}"
    try:
        delivery = webhooks.record_test_event(
            viewer.session,
            viewer.principal,
            workspace_id,
            endpoint_id,
            now=viewer.ctx.clock.now(),
        )
        with guarded_client(viewer.ctx.settings.outbound_policy) as http:
            sent = await run_in_threadpool(
                webhooks.deliver,
                viewer.session,
                delivery.message_id,
                cipher=cipher(viewer),
                now=viewer.ctx.clock.now(),
                http=http,
            )
    except DomainError as exc:
        viewer.session.rollback()
        return _redirect(
            viewer, f"/w/{workspace_id}/publishing/webhooks", "error", refusal(viewer, exc)
        )
    last = (sent.log[-1] if sent is not None and sent.log else {}) or {}
    if sent is not None and sent.status == "delivered":
        return _redirect(
            viewer,
            url,
            "success",
            viewer.gettext("Test event delivered: the endpoint answered %(code)s.")
            % {"code": last.get("status_code", "")},
        )
    return _redirect(
        viewer,
        url,
        "error",
        viewer.gettext("Test event not delivered (%(why)s); it will be retried.")
        % {"why": last.get("error") or last.get("status_code") or "?"},
    )
