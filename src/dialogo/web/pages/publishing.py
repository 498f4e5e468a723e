"""Publishing pages: the post list with the approvals waiting, the composer (one post, a variant
per channel, validated live by each network's rules as people type), a post's page (approve,
reject, schedule, cancel, duplicate) and the campaigns.

The forms work without JavaScript; htmx only adds the live validation. A refused action keeps
what was typed (the draft is saved before scheduling is tried, and stays saved if it fails).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import decimal
from typing import Any

from fastapi import APIRouter, Response
from fastapi.responses import RedirectResponse
from pydantic import ValidationError
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData

from dialogo.accounts.models import Workspace
from dialogo.accounts.permissions import Permission
from dialogo.channels import service as channels
from dialogo.channels.crypto import CredentialCipher
from dialogo.channels.models import Channel
from dialogo.core.errors import DomainError
from dialogo.core.i18n import N_
from dialogo.publishing import calendar as cal
from dialogo.publishing import media as media_library
from dialogo.publishing import service as publishing
from dialogo.publishing import slots
from dialogo.publishing.models import Campaign, Post, PostStatus
from dialogo.publishing.schemas import (
    CampaignCreate,
    ChannelValidation,
    PostCreate,
    PostFilters,
    PostUpdate,
    PublishingSettingsIn,
    VariantIn,
)
from dialogo.web import messages
from dialogo.web.cookies import Flash
from dialogo.web.forms import read_form, text, texts
from dialogo.web.shell import CurrentViewer, FormViewer, Viewer
from dialogo.web.templating import NC_

router = APIRouter()

THREAD_BREAK = "---"  # a line with only this separates the posts of a thread
MAX_ID = 2**62

POST_STATUS_LABELS = {
    "draft": N_("Draft"),
    "pending_approval": N_("Waiting for approval"),
    "approved": N_("Approved"),
    "scheduled": N_("Scheduled"),
    "publishing": NC_("post status", "Publishing"),
    "published": N_("Published"),
    "failed": N_("Failed"),
    "unconfirmed": N_("Unconfirmed"),
    "cancelled": N_("Cancelled"),
}
VARIANT_STATUS_LABELS = {
    **POST_STATUS_LABELS,
    "queued": N_("Queued"),
    "waiting_channel": N_("Waiting for the channel"),
}
DECISION_LABELS = {
    "submitted": N_("Submitted"),
    "approved": N_("Approved"),
    "rejected": N_("Rejected"),
}
# The publishing service's refusals, as sentences people can act on.
ERRORS = {
    "not_schedulable": N_(
        "This post cannot be scheduled yet: it needs the approvals this workspace requires."
    ),
    "validation_failed": N_(
        "Some channels would refuse this post; fix what is marked below and try again."
    ),
    "in_the_past": N_("Choose a moment in the future."),
    "naive_datetime": N_("Choose a date and a time."),
    "not_editable": N_("This post is on its way or done and cannot be edited; duplicate it."),
    "bad_state": N_("This post is not in a state that allows this; reload the page."),
    "comment_required": N_("Say why the post is rejected."),
    "campaign_exists": N_("A campaign with this name exists already."),
    "unknown_channel": N_("One of the channels is not connected to this workspace any more."),
    "unknown_campaign": N_("This campaign does not exist any more."),
    "no_channels": N_("None of this post's channels is connected any more."),
    "no_free_slot": N_(
        "No free queue slot common to these channels; add slots to them or choose a time."
    ),
}


def refusal(viewer: Viewer, exc: DomainError) -> str:
    msgid = ERRORS.get(exc.code or "")
    return viewer.gettext(msgid) if msgid else messages.domain_error(viewer.tr, exc)


def cipher(viewer: Viewer) -> CredentialCipher:
    return CredentialCipher.from_settings(viewer.ctx.settings)


def _int(value: str) -> int | None:
    return int(value) if value.isdigit() and int(value) < MAX_ID else None


# --- the composer's form ------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class ChannelChoice:
    channel: Channel
    network_name: str
    text_limit: int | None
    publishes: bool
    threads: bool


def channel_choices(viewer: Viewer, workspace_id: int) -> list[ChannelChoice]:
    registry = viewer.ctx.providers
    out = []
    for c in channels.list_channels(viewer.session, viewer.principal, workspace_id):
        caps = registry.get(c.network).capabilities if c.network in registry else None
        out.append(
            ChannelChoice(
                channel=c,
                network_name=caps.display_name if caps else c.network,
                text_limit=caps.text_limit if caps else None,
                publishes=caps.publishes if caps else False,
                threads=caps.threads if caps else False,
            )
        )
    return out


@dataclasses.dataclass
class Composed:
    """A submitted composer form: what to show again, and what it means."""

    values: dict[str, str]
    selected: list[int]
    campaign_id: int | None
    variants: list[VariantIn] | None  # None: the form has errors
    errors: dict[str, str]


def _lines(value: str) -> list[str]:
    return [line.strip() for line in value.splitlines() if line.strip()]


def _thread(value: str) -> list[str]:
    parts: list[str] = []
    current: list[str] = []
    for line in value.splitlines():
        if line.strip() == THREAD_BREAK:
            parts.append("\n".join(current).strip())
            current = []
        else:
            current.append(line)
    parts.append("\n".join(current).strip())
    return [p for p in parts if p]


def read_composer(viewer: Viewer, form: FormData, choices: list[ChannelChoice]) -> Composed:
    known = {c.channel.id for c in choices}
    selected = [cid for v in form.getlist("channel") if (cid := _int(str(v))) in known]
    selected = [cid for cid in selected if cid is not None]
    values: dict[str, str] = {"campaign": text(form, "campaign")}
    values["date"] = text(form, "date")
    values["time"] = text(form, "time")
    errors: dict[str, str] = {}
    for c in choices:
        for field in ("text", "first_comment", "thread"):
            key = f"{field}-{c.channel.id}"
            values[key] = text(form, key, strip=False).replace("\r\n", "\n")
        # Media library assets, by id (checkboxes): one per line, as the variant stores them.
        values[f"media-{c.channel.id}"] = "\n".join(texts(form, f"media-{c.channel.id}"))
    campaign_id = _int(values["campaign"]) if values["campaign"] else None
    if values["campaign"] and campaign_id is None:
        errors["campaign"] = viewer.gettext("Choose one of the campaigns listed.")
    if not selected:
        errors["channels"] = viewer.gettext("Choose at least one channel.")
    if errors:
        return Composed(values, selected, campaign_id, None, errors)
    try:
        variants = [
            VariantIn(
                channel_id=cid,
                text=values[f"text-{cid}"].strip(),
                first_comment=values[f"first_comment-{cid}"].strip() or None,
                thread=_thread(values[f"thread-{cid}"]),
                media=_lines(values[f"media-{cid}"]),
            )
            for cid in dict.fromkeys(selected)
        ]
    except ValidationError:
        errors[""] = viewer.gettext(
            "Something typed is too long (or there are too many media or thread posts)."
        )
        return Composed(values, selected, campaign_id, None, errors)
    return Composed(values, selected, campaign_id, variants, errors)


def values_of(post: Post) -> tuple[dict[str, str], list[int]]:
    values = {"campaign": str(post.campaign_id or "")}
    selected = []
    for v in post.variants:
        if v.channel_id is None:
            continue
        selected.append(v.channel_id)
        values[f"text-{v.channel_id}"] = v.text
        values[f"first_comment-{v.channel_id}"] = v.first_comment or ""
        values[f"thread-{v.channel_id}"] = f"\n{THREAD_BREAK}\n".join(map(str, v.thread or []))
        values[f"media-{v.channel_id}"] = "\n".join(map(str, v.media or []))
    return values, selected


def _default_when(viewer: Viewer, workspace: Workspace, post: Post | None) -> tuple[str, str]:
    tz = cal.zone(workspace.timezone)
    if post is not None and post.scheduled_at is not None:
        at = cal.local(post.scheduled_at, tz)
        return at.date().isoformat(), at.strftime("%H:%M")
    tomorrow = viewer.ctx.clock.now().astimezone(tz).date() + dt.timedelta(days=1)
    return tomorrow.isoformat(), "09:00"


def parse_when(
    viewer: Viewer, workspace: Workspace, date_: str, time_: str
) -> tuple[dt.datetime | None, str | None]:
    """A local date and time typed in the workspace's zone, as UTC (or an error)."""
    try:
        day = dt.date.fromisoformat(date_)
        at = dt.time.fromisoformat(time_)
    except ValueError:
        return None, viewer.gettext("Choose a date and a time.")
    return cal.to_utc(day, at, cal.zone(workspace.timezone)), None


# --- rendering ----------------------------------------------------------------------------------


def _checks_by_channel(checks: list[ChannelValidation] | None) -> dict[int, ChannelValidation]:
    return {c.channel_id: c for c in checks or [] if c.channel_id is not None}


def composer_page(
    viewer: Viewer,
    workspace_id: int,
    *,
    post: Post | None = None,
    values: dict[str, str] | None = None,
    selected: list[int] | None = None,
    errors: dict[str, str] | None = None,
    checks: list[ChannelValidation] | None = None,
    message: Flash | None = None,
    status: int = 200,
) -> Response:
    workspace, role = viewer.workspace(workspace_id, Permission.posts_read)
    if post is not None:
        default_values, default_selected = values_of(post)
        values = values if values is not None else default_values
        selected = selected if selected is not None else default_selected
    values = dict(values or {})
    day, at = _default_when(viewer, workspace, post)
    values.setdefault("date", day)
    values.setdefault("time", at)
    settings = publishing.publishing_settings(viewer.session, workspace_id)
    editable = post is None or post.status in publishing.EDITABLE
    can_write = viewer.can(role, Permission.posts_write)
    approvals = publishing.list_approvals(viewer.session, post) if post is not None else []
    return viewer.render(
        "publishing_post.html",
        active="publishing",
        workspace=workspace,
        role=role,
        post=post,
        choices=channel_choices(viewer, workspace_id),
        campaigns=publishing.list_campaigns(viewer.session, viewer.principal, workspace_id),
        assets=media_library.list_assets(viewer.session, viewer.principal, workspace_id)[:50],
        values=values,
        selected=set(selected or []),
        errors=errors or {},
        checks=_checks_by_channel(checks),
        checked=checks is not None,
        message=message,
        editable=editable and can_write,
        can_write=can_write,
        can_approve=viewer.can(role, Permission.posts_approve),
        can_publish=viewer.can(role, Permission.posts_publish),
        settings=settings,
        stages=publishing.approval_stages(settings),
        approvals=approvals,
        post_labels=POST_STATUS_LABELS,
        variant_labels=VARIANT_STATUS_LABELS,
        decision_labels=DECISION_LABELS,
        thread_break=THREAD_BREAK,
        status=status,
    )


def _post_url(workspace_id: int, post_id: int) -> str:
    return f"/w/{workspace_id}/publishing/posts/{post_id}"


def _redirect(viewer: Viewer, url: str, level: str, text_: str) -> Response:
    response = RedirectResponse(url, status_code=303)
    viewer.flash(response, level, text_)
    return response


# --- the list -----------------------------------------------------------------------------------


@router.get("/w/{workspace_id}/publishing")
def posts_page(
    workspace_id: int,
    viewer: CurrentViewer,
    status: str | None = None,
    campaign: str | None = None,
    channel: str | None = None,
) -> Response:
    workspace, role = viewer.workspace(workspace_id, Permission.posts_read)
    status_ = status if status in POST_STATUS_LABELS else None
    campaign_id = _int(campaign or "")
    channel_id = _int(channel or "")
    posts = publishing.list_posts(
        viewer.session,
        viewer.principal,
        workspace_id,
        PostFilters(
            status=PostStatus(status_) if status_ else None,
            campaign_id=campaign_id,
            channel_id=channel_id,
            limit=200,
        ),
    )
    waiting = publishing.list_posts(
        viewer.session,
        viewer.principal,
        workspace_id,
        PostFilters(status=PostStatus.pending_approval, limit=100),
    )
    settings = publishing.publishing_settings(viewer.session, workspace_id)
    campaigns = publishing.list_campaigns(viewer.session, viewer.principal, workspace_id)
    return viewer.render(
        "publishing.html",
        active="publishing",
        workspace=workspace,
        role=role,
        posts=posts,
        waiting=waiting,
        settings=settings,
        stages=publishing.approval_stages(settings),
        campaigns=campaigns,
        campaign_names={c.id: c.name for c in campaigns},
        choices=channel_choices(viewer, workspace_id),
        filters={"status": status_ or "", "campaign": campaign_id, "channel": channel_id},
        post_labels=POST_STATUS_LABELS,
        can_write=viewer.can(role, Permission.posts_write),
        can_approve=viewer.can(role, Permission.posts_approve),
        can_configure=viewer.can(role, Permission.workspace_update),
    )


@router.post("/w/{workspace_id}/publishing/settings")
async def save_settings(workspace_id: int, viewer: FormViewer) -> Response:
    viewer.workspace(workspace_id, Permission.workspace_update)
    form = await read_form(viewer.request)
    url = f"/w/{workspace_id}/publishing#approval-settings"
    try:
        data = PublishingSettingsIn(
            approval_required=text(form, "approval_required") == "on",
            approval_stages=_lines(text(form, "approval_stages", strip=False)),
        )
    except ValidationError:
        return _redirect(
            viewer,
            url,
            "error",
            viewer.gettext(
                "Stage names are 1 to 80 characters, all different, at most 10; "
                "nothing was changed."
            ),
        )
    publishing.update_settings(viewer.session, viewer.principal, workspace_id, data)
    return _redirect(viewer, url, "success", viewer.gettext("Approval settings saved."))


# --- composing ----------------------------------------------------------------------------------


@router.get("/w/{workspace_id}/publishing/new")
def new_post(workspace_id: int, viewer: CurrentViewer, campaign: str | None = None) -> Response:
    viewer.workspace(workspace_id, Permission.posts_write)
    return composer_page(viewer, workspace_id, values={"campaign": campaign or ""})


@router.post("/w/{workspace_id}/publishing/check")
async def check(workspace_id: int, viewer: FormViewer) -> Response:
    """The live validation (htmx, as people type): each chosen channel's network's verdict."""
    workspace, role = viewer.workspace(workspace_id, Permission.posts_write)
    form = await read_form(viewer.request)
    choices = channel_choices(viewer, workspace_id)
    composed = read_composer(viewer, form, choices)
    checks: list[ChannelValidation] = []
    if not composed.selected:  # nothing chosen yet: nothing to say while people type
        composed.errors.pop("channels", None)
    if composed.variants:
        checks = await run_in_threadpool(
            publishing.check_variants,
            viewer.session,
            viewer.principal,
            workspace_id,
            composed.variants,
            registry=viewer.ctx.providers,
            cipher=cipher(viewer),
        )
    return viewer.render(
        "_publishing_checks.html",
        active="publishing",
        workspace=workspace,
        role=role,
        choices=choices,
        selected=set(composed.selected),
        checks=_checks_by_channel(checks),
        checked=bool(composed.selected),
        errors=composed.errors,
    )


async def _save(
    viewer: Viewer, workspace_id: int, post_id: int | None
) -> Response:  # the composer's submit: save, then submit or schedule if asked
    workspace, _ = viewer.workspace(workspace_id, Permission.posts_write)
    form = await read_form(viewer.request)
    action = text(form, "action") or "save"
    choices = channel_choices(viewer, workspace_id)
    composed = read_composer(viewer, form, choices)
    post = (
        publishing.get_post(viewer.session, viewer.principal, workspace_id, post_id)
        if post_id is not None
        else None
    )
    if composed.variants is None:
        return composer_page(
            viewer,
            workspace_id,
            post=post,
            values=composed.values,
            selected=composed.selected,
            errors=composed.errors,
            message=Flash("error", next(iter(composed.errors.values()))),
            status=422,
        )
    try:
        if post is None:
            post = publishing.create_post(
                viewer.session,
                viewer.principal,
                workspace_id,
                PostCreate(campaign_id=composed.campaign_id, variants=composed.variants),
            )
        else:
            post = publishing.update_post(
                viewer.session,
                viewer.principal,
                workspace_id,
                post.id,
                _update_of(post, composed),
            )
    except DomainError as exc:
        viewer.session.rollback()
        return composer_page(
            viewer,
            workspace_id,
            post=post,
            values=composed.values,
            selected=composed.selected,
            message=Flash("error", refusal(viewer, exc)),
            status=exc.status,
        )
    # The draft is saved from here on: a refused submit or schedule keeps it.
    url = _post_url(workspace_id, post.id)
    if action == "submit":
        try:
            publishing.submit_post(viewer.session, viewer.principal, workspace_id, post.id)
        except DomainError as exc:
            return _saved_but(
                viewer, workspace_id, post, composed, refusal(viewer, exc), exc.status
            )
        return _redirect(viewer, url, "success", viewer.gettext("Saved and sent for approval."))
    if action == "schedule":
        when, error = parse_when(
            viewer, workspace, composed.values["date"], composed.values["time"]
        )
        if when is None:
            return _saved_but(viewer, workspace_id, post, composed, error or "", 422)
        try:
            post = await run_in_threadpool(
                publishing.schedule_post,
                viewer.session,
                viewer.principal,
                workspace_id,
                post.id,
                when,
                registry=viewer.ctx.providers,
                cipher=cipher(viewer),
                now=viewer.ctx.clock.now(),
            )
        except DomainError as exc:
            checks = exc.details.get("channels") if exc.code == "validation_failed" else None
            return _saved_but(
                viewer,
                workspace_id,
                post,
                composed,
                refusal(viewer, exc),
                exc.status,
                checks=[ChannelValidation.model_validate(c) for c in checks] if checks else None,
            )
        return _redirect(
            viewer,
            url,
            "success",
            viewer.gettext("Scheduled for %(when)s.")
            % {"when": _fmt_when(viewer, workspace, post)},
        )
    if action == "queue":
        try:
            post = await run_in_threadpool(
                slots.add_to_queue,
                viewer.session,
                viewer.principal,
                workspace_id,
                post.id,
                registry=viewer.ctx.providers,
                cipher=cipher(viewer),
                now=viewer.ctx.clock.now(),
            )
        except DomainError as exc:
            return _saved_but(
                viewer, workspace_id, post, composed, refusal(viewer, exc), exc.status
            )
        return _redirect(
            viewer,
            url,
            "success",
            viewer.gettext("Added to the queue: %(when)s.")
            % {"when": _fmt_when(viewer, workspace, post)},
        )
    return _redirect(viewer, url, "success", viewer.gettext("Draft saved."))


def _fmt_when(viewer: Viewer, workspace: Workspace, post: Post) -> str:
    from dialogo.core.i18n import Formatter

    return Formatter(viewer.language, workspace.timezone).datetime(post.scheduled_at, "medium")


def _update_of(post: Post, composed: Composed) -> PostUpdate:
    """Only what changed: an unchanged post keeps its approvals and its schedule."""
    assert composed.variants is not None
    current = [
        VariantIn(
            channel_id=v.channel_id,
            text=v.text,
            media=[str(m) for m in v.media or []],
            first_comment=v.first_comment,
            thread=[str(t) for t in v.thread or []],
        )
        for v in post.variants
        if v.channel_id is not None
    ]
    fields: dict[str, Any] = {}
    if composed.campaign_id != post.campaign_id:
        fields["campaign_id"] = composed.campaign_id
    if sorted(current, key=lambda v: v.channel_id) != sorted(
        composed.variants, key=lambda v: v.channel_id
    ):
        fields["variants"] = composed.variants
    return PostUpdate(**fields)


def _saved_but(
    viewer: Viewer,
    workspace_id: int,
    post: Post,
    composed: Composed,
    why: str,
    status: int,
    *,
    checks: list[ChannelValidation] | None = None,
) -> Response:
    """The saved draft again, with what stopped the next step (and the date typed)."""
    values, selected = values_of(post)
    values.update(date=composed.values["date"], time=composed.values["time"])
    return composer_page(
        viewer,
        workspace_id,
        post=post,
        values=values,
        selected=selected,
        checks=checks,
        message=Flash("error", viewer.gettext("The draft is saved, but: %(why)s") % {"why": why}),
        status=status,
    )


@router.post("/w/{workspace_id}/publishing/posts")
async def create(workspace_id: int, viewer: FormViewer) -> Response:
    return await _save(viewer, workspace_id, None)


@router.get("/w/{workspace_id}/publishing/posts/{post_id}")
def post_page(workspace_id: int, post_id: int, viewer: CurrentViewer) -> Response:
    post = publishing.get_post(viewer.session, viewer.principal, workspace_id, post_id)
    return composer_page(viewer, workspace_id, post=post)


@router.post("/w/{workspace_id}/publishing/posts/{post_id}")
async def update(workspace_id: int, post_id: int, viewer: FormViewer) -> Response:
    return await _save(viewer, workspace_id, post_id)


async def _decide(viewer: Viewer, workspace_id: int, post_id: int, decision: str) -> Response:
    viewer.workspace(workspace_id, Permission.posts_read)
    form = await read_form(viewer.request)
    comment = text(form, "comment")
    back = text(form, "next")
    url = back if back == f"/w/{workspace_id}/publishing" else _post_url(workspace_id, post_id)
    try:
        if decision == "approve":
            post = publishing.approve_post(
                viewer.session, viewer.principal, workspace_id, post_id, comment
            )
            done = (
                viewer.gettext("Approved: the post can be scheduled.")
                if post.status == PostStatus.approved.value
                else viewer.gettext("Approved at this stage; the next stage decides now.")
            )
        else:
            publishing.reject_post(viewer.session, viewer.principal, workspace_id, post_id, comment)
            done = viewer.gettext("Rejected: the post went back to its author as a draft.")
    except DomainError as exc:
        viewer.session.rollback()
        return _redirect(viewer, url, "error", refusal(viewer, exc))
    return _redirect(viewer, url, "success", done)


@router.post("/w/{workspace_id}/publishing/posts/{post_id}/approve")
async def approve(workspace_id: int, post_id: int, viewer: FormViewer) -> Response:
    return await _decide(viewer, workspace_id, post_id, "approve")


@router.post("/w/{workspace_id}/publishing/posts/{post_id}/reject")
async def reject(workspace_id: int, post_id: int, viewer: FormViewer) -> Response:
    return await _decide(viewer, workspace_id, post_id, "reject")


@router.post("/w/{workspace_id}/publishing/posts/{post_id}/submit")
def submit(workspace_id: int, post_id: int, viewer: FormViewer) -> Response:
    url = _post_url(workspace_id, post_id)
    try:
        publishing.submit_post(viewer.session, viewer.principal, workspace_id, post_id)
    except DomainError as exc:
        viewer.session.rollback()
        return _redirect(viewer, url, "error", refusal(viewer, exc))
    return _redirect(viewer, url, "success", viewer.gettext("Sent for approval."))


@router.post("/w/{workspace_id}/publishing/posts/{post_id}/cancel")
def cancel(workspace_id: int, post_id: int, viewer: FormViewer) -> Response:
    url = _post_url(workspace_id, post_id)
    try:
        publishing.cancel_post(viewer.session, viewer.principal, workspace_id, post_id)
    except DomainError as exc:
        viewer.session.rollback()
        return _redirect(viewer, url, "error", refusal(viewer, exc))
    return _redirect(
        viewer, url, "success", viewer.gettext("Cancelled: what had not gone out will not.")
    )


@router.post("/w/{workspace_id}/publishing/posts/{post_id}/duplicate")
def duplicate(workspace_id: int, post_id: int, viewer: FormViewer) -> Response:
    try:
        copy = publishing.duplicate_post(viewer.session, viewer.principal, workspace_id, post_id)
    except DomainError as exc:
        viewer.session.rollback()
        return _redirect(viewer, _post_url(workspace_id, post_id), "error", refusal(viewer, exc))
    return _redirect(
        viewer,
        _post_url(workspace_id, copy.id),
        "success",
        viewer.gettext("A new draft with the same content: edit it and schedule it."),
    )


# --- campaigns ----------------------------------------------------------------------------------

UTM_KEYS = ("utm_source", "utm_medium", "utm_campaign", "utm_term", "utm_content")
BUDGET_ERROR = N_("Enter an amount of zero or more, with at most two decimals.")
CAMPAIGN_FIELD_ERRORS = {
    "name": N_("Enter a name of up to 200 characters."),
    "goal": N_("Keep the goal under 2,000 characters."),
    "description": N_("Keep the description under 5,000 characters."),
    "budget": BUDGET_ERROR,
    "currency": N_("Enter a three-letter currency code, such as EUR."),
    "starts_on": N_("Enter a date."),
    "ends_on": N_("Enter a date."),
    "utm": N_("UTM tags are text."),
}


def _campaign_values(campaign: Campaign | None) -> dict[str, str]:
    if campaign is None:
        return {"currency": "EUR"}
    values = {
        "name": campaign.name,
        "description": campaign.description,
        "goal": campaign.goal,
        "starts_on": campaign.starts_on.isoformat() if campaign.starts_on else "",
        "ends_on": campaign.ends_on.isoformat() if campaign.ends_on else "",
        "budget": str(campaign.budget) if campaign.budget is not None else "",
        "currency": campaign.currency or "",
    }
    for key in UTM_KEYS:
        values[key] = str((campaign.utm or {}).get(key, ""))
    return values


def _read_campaign(
    viewer: Viewer, form: FormData
) -> tuple[dict[str, str], dict[str, str], CampaignCreate | None]:
    keys = ("name", "description", "goal", "starts_on", "ends_on", "budget", "currency")
    values = {k: text(form, k) for k in (*keys, *UTM_KEYS)}
    values["currency"] = values["currency"].upper()
    raw: dict[str, Any] = {k: values[k] for k in ("name", "description", "goal")}
    errors: dict[str, str] = {}
    for key in ("starts_on", "ends_on"):
        raw[key] = values[key] or None
    if values["budget"]:
        try:
            raw["budget"] = decimal.Decimal(values["budget"].replace(",", "."))
        except decimal.InvalidOperation:
            errors["budget"] = viewer.gettext(BUDGET_ERROR)
    raw["currency"] = values["currency"] or None
    raw["utm"] = {k: values[k] for k in UTM_KEYS if values[k]}
    if errors:
        return values, errors, None
    try:
        data = CampaignCreate(**raw)
    except ValidationError as exc:
        errors = messages.field_errors(viewer.tr, exc, CAMPAIGN_FIELD_ERRORS)
        if "" in errors:  # the model's own check: the dates' order
            errors["ends_on"] = viewer.gettext("The end is before the start.")
            errors.pop("")
        return values, errors, None
    return values, errors, data


def _campaigns_page(
    viewer: Viewer,
    workspace_id: int,
    *,
    editing: Campaign | None = None,
    values: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
    message: Flash | None = None,
    status: int = 200,
) -> Response:
    workspace, role = viewer.workspace(workspace_id, Permission.posts_read)
    campaigns = publishing.list_campaigns(viewer.session, viewer.principal, workspace_id)
    counts: dict[int, int] = {}
    for c in campaigns:
        counts[c.id] = len(
            publishing.list_posts(
                viewer.session,
                viewer.principal,
                workspace_id,
                PostFilters(campaign_id=c.id, limit=500),
            )
        )
    return viewer.render(
        "publishing_campaigns.html",
        active="publishing",
        workspace=workspace,
        role=role,
        campaigns=campaigns,
        counts=counts,
        editing=editing,
        values=values if values is not None else _campaign_values(editing),
        errors=errors or {},
        message=message,
        utm_keys=UTM_KEYS,
        can_write=viewer.can(role, Permission.posts_write),
        status=status,
    )


@router.get("/w/{workspace_id}/publishing/campaigns")
def campaigns_page(workspace_id: int, viewer: CurrentViewer) -> Response:
    return _campaigns_page(viewer, workspace_id)


@router.get("/w/{workspace_id}/publishing/campaigns/{campaign_id}")
def campaign_page(workspace_id: int, campaign_id: int, viewer: CurrentViewer) -> Response:
    campaign = publishing.get_campaign(viewer.session, viewer.principal, workspace_id, campaign_id)
    return _campaigns_page(viewer, workspace_id, editing=campaign)


async def _save_campaign(viewer: Viewer, workspace_id: int, campaign_id: int | None) -> Response:
    viewer.workspace(workspace_id, Permission.posts_write)
    editing = (
        publishing.get_campaign(viewer.session, viewer.principal, workspace_id, campaign_id)
        if campaign_id is not None
        else None
    )
    form = await read_form(viewer.request)
    values, errors, data = _read_campaign(viewer, form)
    if data is None:
        return _campaigns_page(
            viewer, workspace_id, editing=editing, values=values, errors=errors, status=422
        )
    try:
        if editing is None:
            campaign = publishing.create_campaign(
                viewer.session, viewer.principal, workspace_id, data
            )
        else:
            campaign = publishing.update_campaign(
                viewer.session, viewer.principal, workspace_id, editing.id, data
            )
    except DomainError as exc:
        viewer.session.rollback()
        if editing is not None:
            editing = publishing.get_campaign(
                viewer.session, viewer.principal, workspace_id, editing.id
            )
        errs = {"name": refusal(viewer, exc)} if exc.code == "campaign_exists" else {}
        return _campaigns_page(
            viewer,
            workspace_id,
            editing=editing,
            values=values,
            errors=errs,
            message=None if errs else Flash("error", refusal(viewer, exc)),
            status=exc.status,
        )
    return _redirect(
        viewer,
        f"/w/{workspace_id}/publishing/campaigns",
        "success",
        viewer.gettext("Campaign %(name)s saved.") % {"name": campaign.name},
    )


@router.post("/w/{workspace_id}/publishing/campaigns")
async def create_campaign(workspace_id: int, viewer: FormViewer) -> Response:
    return await _save_campaign(viewer, workspace_id, None)


@router.post("/w/{workspace_id}/publishing/campaigns/{campaign_id}")
async def update_campaign(workspace_id: int, campaign_id: int, viewer: FormViewer) -> Response:
    return await _save_campaign(viewer, workspace_id, campaign_id)
