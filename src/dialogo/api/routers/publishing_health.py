"""Publishing health API: the health page's figures for scripts and monitoring."""

from __future__ import annotations

import dataclasses
import datetime as dt
from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel

from dialogo.accounts.permissions import Permission
from dialogo.api.deps import Ctx, CurrentPrincipal, Db
from dialogo.api.routers.accounts import needs
from dialogo.api.routers.system import WorkerOut, stale_after
from dialogo.inbox import telegram_webhook
from dialogo.publishing import health


class VariantProblemOut(BaseModel):
    post_id: int
    variant_id: int
    channel_id: int | None
    channel_name: str
    network: str
    status: str
    due_at: dt.datetime | None
    attempts: int
    reason: str | None
    since: dt.datetime
    #: the type of ``reason`` (a provider error code, or one of the dispatcher's own) and the
    #: parameters of its sentence, with the network's own text as ``detail``, to word it in
    #: another language; ``reason`` stays English (null: written before codes were kept)
    last_error_code: str | None = None
    last_error_params: dict[str, Any] = {}


class ChannelProblemOut(BaseModel):
    channel_id: int
    name: str
    network: str
    status: str
    reason: str | None
    waiting_variants: int
    #: the provider error code behind ``reason`` (null: flagged before codes were kept)
    code: str | None = None


class AppLimitOut(BaseModel):
    """An app (OAuth client id) of the workspace's channels and its rate limit: ``until`` is
    set while every channel of the app waits; ``used_percent`` is the largest share of the
    limit the network last reported as used (``usage`` has its figures). ``reason`` says why
    the app waits, in English; ``reason_code`` is its type (``app_usage_high``: the app's own
    usage, ``percent`` in ``reason_params``; ``rate_limited``: the network refused, its own
    text as ``detail``), derived from the stored text, to word it in another language (null:
    no reason)."""

    network: str
    app_id: str
    scope: str
    limited: bool
    until: dt.datetime | None
    used_percent: float | None
    usage: dict[str, Any]
    reason: str | None
    updated_at: dt.datetime
    channels: int
    reason_code: str | None = None
    reason_params: dict[str, Any] = {}


class TelegramWebhookOut(BaseModel):
    """A Telegram channel in webhook mode as the periodic check last found it (``checked_at``
    null: not checked yet); ``problem`` says why it needs a person, in English;
    ``problem_code`` is its kind and ``problem_params`` its values, to word it in another
    language (null on states stored before kinds were kept)."""

    channel_id: int
    name: str
    url: str
    pending_update_count: int | None
    last_error_date: dt.datetime | None
    last_error_message: str | None
    problem: str | None
    checked_at: dt.datetime | None
    problem_code: str | None = None
    problem_params: dict[str, Any] = {}


class PublishingHealthOut(BaseModel):
    ok: bool
    alive_workers: int
    due_jobs: int
    lag_seconds: float
    workers: list[WorkerOut]
    stuck: list[VariantProblemOut]
    unconfirmed: list[VariantProblemOut]
    failed: list[VariantProblemOut]
    channels: list[ChannelProblemOut]
    apps: list[AppLimitOut] = []
    telegram_webhooks: list[TelegramWebhookOut] = []


router = APIRouter(prefix="/api/v1/workspaces/{workspace_id}", tags=["publishing"])


@router.get(
    "/publishing/health",
    operation_id="get_publishing_health",
    response_model=PublishingHealthOut,
    openapi_extra=needs(Permission.posts_read),
)
def get_publishing_health(
    workspace_id: int, ctx: Ctx, principal: CurrentPrincipal, session: Db
) -> PublishingHealthOut:
    """Workers, queue lag, stuck and unconfirmed posts, recent failures with their reason,
    channels that need to be authorised again, the apps waiting for a network's rate limit
    (or reported near it), and the Telegram webhooks as the periodic check last found them."""
    report = health.publishing_health(
        session, principal, workspace_id, stale_after=stale_after(ctx), now=ctx.clock.now()
    )

    def rows(items: list[health.VariantProblem]) -> list[VariantProblemOut]:
        return [
            VariantProblemOut.model_validate(
                {
                    **dataclasses.asdict(p),
                    "last_error_code": p.code,
                    "last_error_params": p.params or {},
                }
            )
            for p in items
        ]

    return PublishingHealthOut(
        ok=report.ok,
        alive_workers=report.queue.alive_workers,
        due_jobs=report.queue.due,
        lag_seconds=report.queue.lag_seconds,
        workers=[WorkerOut.model_validate(w, from_attributes=True) for w in report.queue.workers],
        stuck=rows(report.stuck),
        unconfirmed=rows(report.unconfirmed),
        failed=rows(report.failed),
        channels=[
            ChannelProblemOut.model_validate(c, from_attributes=True) for c in report.channels
        ],
        apps=[AppLimitOut.model_validate(a, from_attributes=True) for a in report.apps],
        telegram_webhooks=[
            TelegramWebhookOut.model_validate(t, from_attributes=True)
            for t in telegram_webhook.webhook_health(session, workspace_id)
        ],
    )
