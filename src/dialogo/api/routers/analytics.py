"""Measurement API: dashboard, ROI, attribution, best time, short links, conversions, spend.

CSV imports take the file as the request body (``Content-Type: text/csv``); a file with broken
rows gets a 422 problem whose ``errors`` list each row and field, and nothing is imported.
The conversion webhook (``/api/v1/hooks/conversions/{workspace_id}``) takes no credentials: it
is authenticated by its HMAC signature (see :mod:`dialogo.analytics.conversions`).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response, status
from fastapi.responses import JSONResponse
from pydantic import ValidationError

from dialogo.accounts.models import Workspace
from dialogo.accounts.permissions import Permission
from dialogo.accounts.service import authorize
from dialogo.analytics import (
    benchmarking,
    besttime,
    conversions,
    experiments,
    exports,
    links,
    predict,
    reports,
)
from dialogo.analytics.models import ShortLink
from dialogo.analytics.schemas import (
    AbAssignment,
    AbCounts,
    AbTestCreate,
    AbTestOut,
    Attribution,
    BestTimeOut,
    ConversionIn,
    ConversionOut,
    Dashboard,
    ImportReport,
    LinkCreate,
    LinkOut,
    PlacementQuery,
    RankedOut,
    RoiRow,
    SegmentForecastOut,
    SegmentQuery,
    SpendIn,
    SpendOut,
    VoiceOut,
    WebhookSecretOut,
)
from dialogo.api.deps import Ctx, CurrentPrincipal, Db
from dialogo.api.problems import problem
from dialogo.api.routers.accounts import needs
from dialogo.core.errors import InvalidInput, NotFound

router = APIRouter(prefix="/api/v1/workspaces/{workspace_id}", tags=["analytics"])
hooks = APIRouter(prefix="/api/v1/hooks", tags=["analytics"])


def short_url(ctx: Ctx, code: str) -> str:
    return f"{ctx.settings.public_url.rstrip('/')}/l/{code}"


def link_out(ctx: Ctx, session: Db, found: list[ShortLink]) -> list[LinkOut]:
    stats = links.link_stats(session, [link.id for link in found])
    out = []
    for link in found:
        item = LinkOut.model_validate(link)
        item.short_url = short_url(ctx, link.code)
        for key, value in stats[link.id].items():
            setattr(item, key, value)
        out.append(item)
    return out


def _rows_problem(exc: InvalidInput) -> JSONResponse:
    return problem(
        exc.status, exc.message, code=exc.code, detail=exc.message, errors=exc.details["errors"]
    )


@router.get(
    "/analytics/dashboard",
    operation_id="get_analytics_dashboard",
    response_model=Dashboard,
    openapi_extra=needs(Permission.analytics_read),
)
def get_analytics_dashboard(
    workspace_id: int,
    principal: CurrentPrincipal,
    session: Db,
    ctx: Ctx,
    days: Annotated[int, Query(ge=1, le=366)] = 30,
) -> Any:
    """Daily reach, impressions, engagements and clicks, the top posts with their engagement
    rates (by reach and by followers), and each campaign's ROI."""
    return reports.dashboard(session, principal, workspace_id, now=ctx.clock.now(), days=days)


@router.get(
    "/analytics/roi",
    operation_id="get_roi",
    response_model=list[RoiRow],
    openapi_extra=needs(Permission.analytics_read),
)
def get_roi(
    workspace_id: int,
    principal: CurrentPrincipal,
    session: Db,
    by: Annotated[str, Query(pattern="^(campaign|channel|post)$")] = "campaign",
) -> Any:
    """Spend, revenue, conversions, clicks, ROI, ROAS and CPA per campaign, channel or post."""
    return reports.roi(session, principal, workspace_id, by)


@router.get(
    "/analytics/attribution",
    operation_id="get_attribution",
    response_model=Attribution,
    openapi_extra=needs(Permission.analytics_read),
)
def get_attribution(workspace_id: int, principal: CurrentPrincipal, session: Db) -> Any:
    """Revenue credited to each channel by six attribution models, side by side."""
    return reports.attribution_report(session, principal, workspace_id)


@router.get(
    "/analytics/best-time",
    operation_id="get_best_time",
    response_model=BestTimeOut,
    openapi_extra=needs(Permission.analytics_read),
)
def get_best_time(
    workspace_id: int,
    principal: CurrentPrincipal,
    session: Db,
    channel_id: Annotated[int | None, Query()] = None,
    top: Annotated[int, Query(ge=1, le=168)] = 10,
) -> Any:
    """The best hours of the week to post (workspace time zone), with credible intervals."""
    return besttime.best_time(session, principal, workspace_id, channel_id=channel_id, top=top)


@router.get(
    "/links",
    operation_id="list_links",
    response_model=list[LinkOut],
    openapi_extra=needs(Permission.analytics_read),
)
def list_links(
    workspace_id: int,
    principal: CurrentPrincipal,
    session: Db,
    ctx: Ctx,
    campaign_id: Annotated[int | None, Query()] = None,
) -> Any:
    found = links.list_links(session, principal, workspace_id, campaign_id=campaign_id)
    return link_out(ctx, session, found)


@router.post(
    "/links",
    operation_id="create_link",
    response_model=LinkOut,
    status_code=status.HTTP_201_CREATED,
    openapi_extra=needs(Permission.posts_write),
)
def create_link(
    workspace_id: int, body: LinkCreate, principal: CurrentPrincipal, session: Db, ctx: Ctx
) -> Any:
    """A short link to ``url`` with UTM tags from the campaign, channel and post."""
    return link_out(ctx, session, [links.create_link(session, principal, workspace_id, body)])[0]


@router.get(
    "/conversions",
    operation_id="list_conversions",
    response_model=list[ConversionOut],
    openapi_extra=needs(Permission.analytics_read),
)
def list_conversions(workspace_id: int, principal: CurrentPrincipal, session: Db) -> Any:
    return conversions.list_conversions(session, principal, workspace_id)


@router.post(
    "/conversions",
    operation_id="create_conversion",
    response_model=ConversionOut,
    status_code=status.HTTP_201_CREATED,
    openapi_extra=needs(Permission.posts_write),
)
def create_conversion(
    workspace_id: int, body: ConversionIn, principal: CurrentPrincipal, session: Db, ctx: Ctx
) -> Any:
    return conversions.add_conversion(session, principal, workspace_id, body, now=ctx.clock.now())


@router.post(
    "/conversions/import",
    operation_id="import_conversions",
    response_model=ImportReport,
    openapi_extra=needs(Permission.posts_write),
)
async def import_conversions(
    workspace_id: int, request: Request, principal: CurrentPrincipal, session: Db, ctx: Ctx
) -> Any:
    """A CSV body: ``order_id,value`` and optionally ``currency,occurred_at,link,campaign_id,
    channel_id,post_id``. All rows or none."""
    body = await request.body()
    try:
        return conversions.import_conversions_csv(
            session, principal, workspace_id, body, now=ctx.clock.now()
        )
    except InvalidInput as exc:
        if "errors" in exc.details:
            return _rows_problem(exc)
        raise


@router.get(
    "/conversions/webhook-secret",
    operation_id="get_conversion_webhook_secret",
    response_model=WebhookSecretOut,
    openapi_extra=needs(Permission.workspace_update),
)
def get_conversion_webhook_secret(
    workspace_id: int, principal: CurrentPrincipal, session: Db, ctx: Ctx
) -> Any:
    """The secret a shop signs its conversion webhooks with, and where to send them."""
    authorize(session, principal, workspace_id, Permission.workspace_update)
    key_material = ctx.settings.secret_key.get_secret_value()
    key = conversions.webhook_generation(session, workspace_id)
    return WebhookSecretOut(
        secret=conversions.current_webhook_secret(session, key_material, workspace_id),
        url=f"{ctx.settings.public_url.rstrip('/')}/api/v1/hooks/conversions/{workspace_id}",
        header=conversions.SIGNATURE_HEADER,
        generation=key.generation if key else 0,
        previous_valid_until=key.previous_until if key else None,
    )


@router.post(
    "/conversions/webhook-secret/rotate",
    operation_id="rotate_conversion_webhook_secret",
    response_model=WebhookSecretOut,
    openapi_extra=needs(Permission.workspace_update),
)
def rotate_conversion_webhook_secret(
    workspace_id: int, principal: CurrentPrincipal, session: Db, ctx: Ctx
) -> Any:
    """A new webhook secret; the previous one is still accepted for 24 hours."""
    key_material = ctx.settings.secret_key.get_secret_value()
    secret, until = conversions.rotate_webhook_secret(
        session, principal, workspace_id, key_material, now=ctx.clock.now()
    )
    key = conversions.webhook_generation(session, workspace_id)
    assert key is not None
    return WebhookSecretOut(
        secret=secret,
        url=f"{ctx.settings.public_url.rstrip('/')}/api/v1/hooks/conversions/{workspace_id}",
        header=conversions.SIGNATURE_HEADER,
        generation=key.generation,
        previous_valid_until=until,
    )


@router.get(
    "/spend",
    operation_id="list_spend",
    response_model=list[SpendOut],
    openapi_extra=needs(Permission.analytics_read),
)
def list_spend(workspace_id: int, principal: CurrentPrincipal, session: Db) -> Any:
    return conversions.list_spend(session, principal, workspace_id)


@router.post(
    "/spend",
    operation_id="create_spend",
    response_model=SpendOut,
    status_code=status.HTTP_201_CREATED,
    openapi_extra=needs(Permission.posts_write),
)
def create_spend(workspace_id: int, body: SpendIn, principal: CurrentPrincipal, session: Db) -> Any:
    return conversions.add_spend(session, principal, workspace_id, body)


@router.post(
    "/spend/import",
    operation_id="import_spend",
    response_model=ImportReport,
    openapi_extra=needs(Permission.posts_write),
)
async def import_spend(
    workspace_id: int, request: Request, principal: CurrentPrincipal, session: Db
) -> Any:
    """A CSV body: ``day,amount`` and optionally ``currency,campaign_id,channel_id,post_id,
    note``. All rows or none."""
    body = await request.body()
    try:
        return conversions.import_spend_csv(session, principal, workspace_id, body)
    except InvalidInput as exc:
        if "errors" in exc.details:
            return _rows_problem(exc)
        raise


@hooks.post(
    "/conversions/{workspace_id}",
    operation_id="receive_conversion_webhook",
    response_model=ConversionOut,
)
async def receive_conversion_webhook(
    workspace_id: int, request: Request, session: Db, ctx: Ctx
) -> Any:
    """An order from a shop, signed with the workspace's secret (``X-Dialogo-Signature:
    t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>">``). Sending an order twice stores
    it once."""
    body = await request.body()
    if session.get(Workspace, workspace_id) is None:
        raise NotFound("no such workspace", code="workspace_not_found")
    conversions.verify_webhook(
        session,
        ctx.settings.secret_key.get_secret_value(),
        workspace_id,
        body,
        request.headers.get(conversions.SIGNATURE_HEADER),
        now=ctx.clock.now(),
    )
    try:
        data = ConversionIn.model_validate_json(body)
    except ValidationError as exc:
        errors = [
            {"field": ".".join(str(p) for p in e["loc"]), "message": e["msg"]} for e in exc.errors()
        ]
        return problem(422, "invalid conversion", code="validation_failed", errors=errors)
    conversion, _ = conversions.record_conversion(
        session, workspace_id, data, source="webhook", now=ctx.clock.now()
    )
    return conversion


# -- exports --------------------------------------------------------------------------------------


@router.get(
    "/analytics/export/{table}.csv",
    operation_id="export_analytics_csv",
    response_class=Response,
    openapi_extra=needs(Permission.analytics_read),
)
def export_analytics_csv(
    workspace_id: int,
    table: str,
    principal: CurrentPrincipal,
    session: Db,
    ctx: Ctx,
    days: Annotated[int, Query(ge=1, le=366)] = 30,
) -> Response:
    """One dashboard table (``daily``, ``top_posts``, ``campaigns``) as CSV."""
    board = reports.dashboard(session, principal, workspace_id, now=ctx.clock.now(), days=days)
    found = exports.pick(board, table)
    return Response(
        exports.to_csv(found),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{table}.csv"'},
    )


@router.get(
    "/analytics/export.xlsx",
    operation_id="export_analytics_xlsx",
    response_class=Response,
    openapi_extra=needs(Permission.analytics_read),
)
def export_analytics_xlsx(
    workspace_id: int,
    principal: CurrentPrincipal,
    session: Db,
    ctx: Ctx,
    days: Annotated[int, Query(ge=1, le=366)] = 30,
) -> Response:
    """The dashboard's tables as one XLSX workbook (a sheet per table)."""
    board = reports.dashboard(session, principal, workspace_id, now=ctx.clock.now(), days=days)
    return Response(
        exports.to_xlsx(list(exports.dashboard_tables(board).values())),
        media_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        headers={"Content-Disposition": 'attachment; filename="dashboard.xlsx"'},
    )


# -- engagement prediction ------------------------------------------------------------------------


def _ranked(found: list[predict.Ranked]) -> list[RankedOut]:
    return [
        RankedOut(
            variant_id=r.variant_id,
            post_id=r.post_id,
            channel_id=r.channel_id,
            channel=r.channel,
            at=r.at,
            text=r.text,
            predicted_engagements=round(r.prediction.engagements, 2),
            typical_engagements=round(r.prediction.base, 2),
            reasons=[
                {"feature": x.feature, "value": x.value, "factor": round(x.factor, 3)}
                for x in r.prediction.reasons
            ],
        )
        for r in found
    ]


@router.get(
    "/analytics/engagement/drafts",
    operation_id="rank_drafts_by_engagement",
    response_model=list[RankedOut],
    openapi_extra=needs(Permission.analytics_read),
)
def rank_drafts_by_engagement(
    workspace_id: int, principal: CurrentPrincipal, session: Db, ctx: Ctx
) -> Any:
    """Drafts and scheduled posts ranked by predicted engagement, with the reasons (the factor
    each feature multiplies the typical post by)."""
    return _ranked(predict.rank_drafts(session, principal, workspace_id, now=ctx.clock.now()))


@router.post(
    "/analytics/engagement/placements",
    operation_id="rank_engagement_placements",
    response_model=list[RankedOut],
    openapi_extra=needs(Permission.analytics_read),
)
def rank_engagement_placements(
    workspace_id: int, body: PlacementQuery, principal: CurrentPrincipal, session: Db, ctx: Ctx
) -> Any:
    """Where (channel) and when (hour of the coming week) a text would do best."""
    return _ranked(
        predict.rank_placements(
            session,
            principal,
            workspace_id,
            body.text,
            now=ctx.clock.now(),
            media=body.media,
            channel_ids=body.channel_ids,
            limit=body.limit,
        )
    )


@router.post(
    "/analytics/engagement/segments",
    operation_id="predict_engagement_by_segment",
    response_model=SegmentForecastOut,
    openapi_extra=needs(Permission.analytics_read),
)
def predict_engagement_by_segment(
    workspace_id: int, body: SegmentQuery, principal: CurrentPrincipal, session: Db, ctx: Ctx
) -> Any:
    """A draft's predicted engagement and how it splits over the workspace's audience
    segments (best engagement per member first)."""
    at = body.at or (ctx.clock.now() + dt.timedelta(hours=1)).replace(
        minute=0, second=0, microsecond=0
    )
    found = predict.predict_segments(
        session,
        principal,
        workspace_id,
        body.text,
        channel_id=body.channel_id,
        at=at,
        topic=body.topic,
        media=body.media,
        limit=body.limit,
    )
    return SegmentForecastOut(
        channel_id=found.channel_id,
        channel=found.channel,
        at=found.at,
        topic=found.topic,
        audience=found.audience,
        predicted_engagements=round(found.prediction.engagements, 2),
        typical_engagements=round(found.prediction.base, 2),
        reasons=[
            {"feature": x.feature, "value": x.value, "factor": round(x.factor, 3)}
            for x in found.prediction.reasons
        ],
        segments=[
            {
                "label": g.label,
                "expression": g.expression,
                "saved": g.saved,
                "size": g.size,
                "predicted_engagements": round(g.engagements, 3),
                "per_member": round(g.per_member, 5),
                "lift": round(g.lift, 3),
                "facet": g.facet,
                "value": g.value,
            }
            for g in found.segments
        ],
    )


# -- A/B tests ------------------------------------------------------------------------------------


@router.get(
    "/analytics/ab-tests",
    operation_id="list_ab_tests",
    response_model=list[AbTestOut],
    openapi_extra=needs(Permission.analytics_read),
)
def list_ab_tests(workspace_id: int, principal: CurrentPrincipal, session: Db) -> Any:
    return [
        experiments.as_dict(t) for t in experiments.list_results(session, principal, workspace_id)
    ]


@router.post(
    "/analytics/ab-tests",
    operation_id="create_ab_test",
    response_model=AbTestOut,
    status_code=status.HTTP_201_CREATED,
    openapi_extra=needs(Permission.posts_write),
)
def create_ab_test(
    workspace_id: int, body: AbTestCreate, principal: CurrentPrincipal, session: Db
) -> Any:
    """Arms are post variants (trials = impressions, successes = the metric) or counted
    elsewhere (their counts set with ``PUT …/counts``)."""
    test = experiments.create_test(
        session,
        principal,
        workspace_id,
        name=body.name,
        metric=body.metric,
        arms=[experiments.ArmSpec(**a.model_dump()) for a in body.arms],
        loss_threshold=body.loss_threshold,
        alpha=body.alpha,
        power=body.power,
        min_effect=body.min_effect,
    )
    return experiments.as_dict(experiments.result(session, principal, workspace_id, test.id))


@router.get(
    "/analytics/ab-tests/{test_id}",
    operation_id="get_ab_test",
    response_model=AbTestOut,
    openapi_extra=needs(Permission.analytics_read),
)
def get_ab_test(workspace_id: int, test_id: int, principal: CurrentPrincipal, session: Db) -> Any:
    """Bayesian (probability to be best, expected loss) and frequentist (z-test against the
    first arm) results, and the stopping rule's verdict."""
    return experiments.as_dict(experiments.result(session, principal, workspace_id, test_id))


@router.put(
    "/analytics/ab-tests/{test_id}/counts",
    operation_id="set_ab_test_counts",
    response_model=AbTestOut,
    openapi_extra=needs(Permission.posts_write),
)
def set_ab_test_counts(
    workspace_id: int,
    test_id: int,
    body: dict[str, AbCounts],
    principal: CurrentPrincipal,
    session: Db,
) -> Any:
    """Counts of arms that are not post variants, by arm name."""
    found = experiments.record_counts(
        session,
        principal,
        workspace_id,
        test_id,
        {name: (c.successes, c.trials) for name, c in body.items()},
    )
    return experiments.as_dict(found)


@router.post(
    "/analytics/ab-tests/{test_id}/stop",
    operation_id="stop_ab_test",
    response_model=AbTestOut,
    openapi_extra=needs(Permission.posts_write),
)
def stop_ab_test(
    workspace_id: int, test_id: int, principal: CurrentPrincipal, session: Db, ctx: Ctx
) -> Any:
    return experiments.as_dict(
        experiments.stop_test(session, principal, workspace_id, test_id, now=ctx.clock.now())
    )


@router.get(
    "/analytics/ab-tests/{test_id}/assign",
    operation_id="assign_ab_test_arm",
    response_model=AbAssignment,
    openapi_extra=needs(Permission.analytics_read),
)
def assign_ab_test_arm(
    workspace_id: int,
    test_id: int,
    unit: Annotated[str, Query(min_length=1, max_length=200)],
    principal: CurrentPrincipal,
    session: Db,
) -> Any:
    """The arm a unit (a contact id, a visitor) belongs to: stable, by the arms' weights."""
    arm = experiments.assign(session, principal, workspace_id, test_id, unit)
    return AbAssignment(unit=unit, arm=arm)


@router.get(
    "/analytics/competitors",
    operation_id="get_competitor_benchmark",
    response_model=list[VoiceOut],
    openapi_extra=needs(Permission.analytics_read),
)
def get_competitor_benchmark(
    workspace_id: int,
    principal: CurrentPrincipal,
    session: Db,
    ctx: Ctx,
    days: Annotated[int, Query(ge=1, le=366)] = 30,
) -> Any:
    """Share of voice and sentiment of the brand and its competitors, from the listening
    queries of kind ``brand`` and ``competitor``."""
    rows = benchmarking.share_of_voice(
        session, principal, workspace_id, now=ctx.clock.now(), days=days
    )
    return [VoiceOut(**dataclasses.asdict(r)) for r in rows]
