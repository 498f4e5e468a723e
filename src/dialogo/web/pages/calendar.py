"""The publishing calendar (month and week, in the workspace's time zone), moving posts by drag
and drop or with a keyboard-friendly form, the workspace's ICS feed, and the publishing health
page.

Dragging is a few lines of our own script (``static/publishing-calendar.js``): dropping a post
on a day fills that post's own "move" form and submits it, so the form is the one path, with or
without a mouse or JavaScript.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from urllib.parse import urlencode

from fastapi import APIRouter, Response
from fastapi.responses import RedirectResponse
from starlette.concurrency import run_in_threadpool

from dialogo.accounts.models import Workspace
from dialogo.accounts.permissions import Permission
from dialogo.api.deps import Ctx, Db
from dialogo.api.routers.system import stale_after
from dialogo.core.errors import DomainError, NotFound
from dialogo.inbox import telegram_webhook
from dialogo.publishing import calendar as cal
from dialogo.publishing import health as publishing_health
from dialogo.publishing import service as publishing
from dialogo.publishing.models import Post, PostStatus
from dialogo.publishing.schemas import PostFilters
from dialogo.web import templating
from dialogo.web.cookies import Flash
from dialogo.web.forms import read_form, text
from dialogo.web.pages.publishing import (
    POST_STATUS_LABELS,
    VARIANT_STATUS_LABELS,
    channel_choices,
    cipher,
    refusal,
)
from dialogo.web.shell import CurrentViewer, FormViewer, Viewer

router = APIRouter()

VIEWS = ("month", "week")


@dataclasses.dataclass(frozen=True)
class View:
    kind: str  # "month" | "week"
    anchor: dt.date
    channel_id: int | None
    campaign_id: int | None

    def query(self, **change: object) -> str:
        params: dict[str, object] = {"view": self.kind, "date": self.anchor.isoformat()}
        if self.channel_id:
            params["channel"] = self.channel_id
        if self.campaign_id:
            params["campaign"] = self.campaign_id
        params.update(change)
        return urlencode({k: v for k, v in params.items() if v not in (None, "")})

    def step(self, forward: bool) -> dt.date:
        sign = 1 if forward else -1
        if self.kind == "week":
            return self.anchor + dt.timedelta(days=7 * sign)
        month = self.anchor.month - 1 + sign
        return dt.date(self.anchor.year + month // 12, month % 12 + 1, 1)


def _int(value: str | None) -> int | None:
    return int(value) if value and value.isdigit() and len(value) < 18 else None


def _view(
    viewer: Viewer, workspace: Workspace, view: str | None, date: str | None, **ids: str | None
) -> View:
    today = viewer.ctx.clock.now().astimezone(cal.zone(workspace.timezone)).date()
    try:
        anchor = dt.date.fromisoformat(date) if date else today
    except ValueError:
        anchor = today
    return View(
        kind=view if view in VIEWS else "month",
        anchor=anchor,
        channel_id=_int(ids.get("channel")),
        campaign_id=_int(ids.get("campaign")),
    )


def _calendar(
    viewer: Viewer,
    workspace_id: int,
    view: View,
    *,
    message: Flash | None = None,
    feed_url: str | None = None,
    status: int = 200,
    fragment: bool = False,
) -> Response:
    workspace, role = viewer.workspace(workspace_id, Permission.posts_read)
    tz = cal.zone(workspace.timezone)
    if view.kind == "week":
        weeks = [cal.week_of(view.anchor)]
    else:
        weeks = cal.month_grid(view.anchor.year, view.anchor.month)
    days = [d for w in weeks for d in w]
    start, end = cal.utc_span(days, tz)
    entries, cut = cal.calendar_entries(
        viewer.session,
        viewer.principal,
        workspace,
        start,
        end,
        channel_id=view.channel_id,
        campaign_id=view.campaign_id,
    )
    can_publish = viewer.can(role, Permission.posts_publish)
    template = "_calendar.html" if fragment else "calendar.html"
    return viewer.render(
        template,
        active="publishing",
        workspace=workspace,
        role=role,
        view=view,
        weeks=weeks,
        hours=range(24),
        days=cal.by_day(entries),
        cut=cut,
        today=viewer.ctx.clock.now().astimezone(tz).date(),
        choices=channel_choices(viewer, workspace_id),
        campaigns=publishing.list_campaigns(viewer.session, viewer.principal, workspace_id),
        can_move=can_publish,
        can_feed=can_publish,
        feed_exists=cal.feed_exists(viewer.session, viewer.principal, workspace_id),
        feed_url=feed_url,
        message=message,
        post_labels=POST_STATUS_LABELS,
        unscheduled=[] if fragment else _unscheduled(viewer, workspace_id, view),
        status=status,
    )


def _unscheduled(viewer: Viewer, workspace_id: int, view: View) -> list[Post]:
    """Drafts and approved posts with no time yet, for the side list (same filters)."""
    found: list[Post] = []
    for status in (PostStatus.approved, PostStatus.draft):
        found += publishing.list_posts(
            viewer.session,
            viewer.principal,
            workspace_id,
            PostFilters(
                status=status,
                channel_id=view.channel_id,
                campaign_id=view.campaign_id,
                limit=50,
            ),
        )
    return [p for p in found if p.scheduled_at is None]


@router.get("/w/{workspace_id}/publishing/calendar")
def calendar_page(
    workspace_id: int,
    viewer: CurrentViewer,
    view: str | None = None,
    date: str | None = None,
    channel: str | None = None,
    campaign: str | None = None,
) -> Response:
    workspace, _ = viewer.workspace(workspace_id, Permission.posts_read)
    chosen = _view(viewer, workspace, view, date, channel=channel, campaign=campaign)
    return _calendar(viewer, workspace_id, chosen, fragment=templating.is_htmx(viewer.request))


@router.post("/w/{workspace_id}/publishing/calendar/move")
async def move(workspace_id: int, viewer: FormViewer) -> Response:
    """Move a post to a day (keeping its local time) or to a day and time."""
    workspace, _ = viewer.workspace(workspace_id, Permission.posts_publish)
    form = await read_form(viewer.request)
    shown = _view(
        viewer,
        workspace,
        text(form, "view"),
        text(form, "date"),
        channel=text(form, "channel"),
        campaign=text(form, "campaign"),
    )
    htmx = templating.is_htmx(viewer.request)
    post_id = _int(text(form, "post_id"))
    try:
        day = dt.date.fromisoformat(text(form, "day"))
        at = dt.time.fromisoformat(text(form, "time")) if text(form, "time") else None
    except ValueError:
        day = None
    if post_id is None or day is None:
        message = Flash("error", viewer.gettext("Choose a date and a time."))
        return _calendar(viewer, workspace_id, shown, message=message, status=422, fragment=htmx)
    try:
        post = await run_in_threadpool(
            cal.reschedule,
            viewer.session,
            viewer.principal,
            workspace,
            post_id,
            day,
            at,
            registry=viewer.ctx.providers,
            cipher=cipher(viewer),
            now=viewer.ctx.clock.now(),
        )
    except DomainError as exc:
        viewer.session.rollback()
        message = Flash("error", refusal(viewer, exc))
        return _calendar(
            viewer, workspace_id, shown, message=message, status=exc.status, fragment=htmx
        )
    from dialogo.core.i18n import Formatter

    when = Formatter(viewer.language, workspace.timezone).datetime(post.scheduled_at, "medium")
    done = viewer.gettext("Post #%(id)d moved to %(when)s.") % {"id": post.id, "when": when}
    if htmx:
        return _calendar(viewer, workspace_id, shown, message=Flash("success", done), fragment=True)
    response = RedirectResponse(
        f"/w/{workspace_id}/publishing/calendar?{shown.query()}", status_code=303
    )
    viewer.flash(response, "success", done)
    return response


# --- the ICS feed -------------------------------------------------------------------------------


def _feed_url(viewer: Viewer, workspace_id: int, token: str) -> str:
    base = str(viewer.request.base_url).rstrip("/")
    return f"{base}/feeds/publishing/{workspace_id}/{token}.ics"


@router.post("/w/{workspace_id}/publishing/calendar/feed")
async def rotate_feed(workspace_id: int, viewer: FormViewer) -> Response:
    """A new secret address for the feed; shown on this answer only (it is stored hashed)."""
    workspace, _ = viewer.workspace(workspace_id, Permission.posts_publish)
    form = await read_form(viewer.request)
    shown = _view(viewer, workspace, "month", None)
    if text(form, "action") == "disable":
        cal.disable_feed(viewer.session, viewer.principal, workspace_id)
        message = Flash(
            "success", viewer.gettext("The calendar feed is off; its address no longer works.")
        )
        return _calendar(viewer, workspace_id, shown, message=message)
    token = cal.rotate_feed(viewer.session, viewer.principal, workspace_id)
    message = Flash(
        "success",
        viewer.gettext(
            "A new feed address: copy it now, it is not shown again. "
            "Any previous address stopped working."
        ),
    )
    return _calendar(
        viewer,
        workspace_id,
        shown,
        message=message,
        feed_url=_feed_url(viewer, workspace_id, token),
    )


@router.get("/feeds/publishing/{workspace_id}/{token}.ics")
def feed(workspace_id: int, token: str, ctx: Ctx, session: Db) -> Response:
    """The feed for calendar apps: no session cookie; the secret in the address is the key."""
    workspace = cal.feed_workspace(session, workspace_id, token)
    if workspace is None:
        raise NotFound("no calendar feed at this address (it may have been replaced)")
    body = cal.feed_ics(session, workspace, now=ctx.clock.now())
    return Response(
        body,
        media_type="text/calendar; charset=utf-8",
        headers={"Cache-Control": "no-store", "X-Content-Type-Options": "nosniff"},
    )


# --- health -------------------------------------------------------------------------------------


@router.get("/w/{workspace_id}/publishing/health")
def health_page(workspace_id: int, viewer: CurrentViewer) -> Response:
    workspace, role = viewer.workspace(workspace_id, Permission.posts_read)
    now = viewer.ctx.clock.now()
    report = publishing_health.publishing_health(
        viewer.session,
        viewer.principal,
        workspace_id,
        stale_after=stale_after(viewer.ctx),
        now=now,
    )
    # Telegram channels in webhook mode: what the periodic check stored (Telegram not asked).
    telegram_webhooks = telegram_webhook.webhook_health(viewer.session, workspace_id)
    return viewer.render(
        "publishing_health.html",
        active="publishing",
        workspace=workspace,
        role=role,
        report=report,
        telegram_webhooks=telegram_webhooks,
        now=now,
        variant_labels=VARIANT_STATUS_LABELS,
        can_manage_channels=viewer.can(role, Permission.channels_manage),
        network_name=viewer.network_name,
    )
