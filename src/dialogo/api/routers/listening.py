"""Listening API: queries, mentions (list, search, correct), file import, webhook intake,
ingestion from the channels, reputation, alerts and their crisis view, topic clusters, and the
mentions to label next (active learning)."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, UploadFile, status

from dialogo.accounts.permissions import Permission
from dialogo.accounts.service import authorize
from dialogo.api.deps import Ctx, CurrentPrincipal, Db
from dialogo.api.problems import problem
from dialogo.api.routers.accounts import needs
from dialogo.api.routers.channels import Cipher
from dialogo.listening import service as listening
from dialogo.listening.schemas import (
    AlertOut,
    AlertTargetCreate,
    ChangeOut,
    CrisisHour,
    CrisisOut,
    IngestResult,
    LabelCorrection,
    LabelRequestOut,
    LabelRequestsOut,
    MentionIn,
    MentionOut,
    NamedOut,
    QueryCreate,
    QueryOut,
    QueryUpdate,
    Reputation,
    TopicClusterOut,
    TopicsOut,
)

router = APIRouter(prefix="/api/v1/workspaces/{workspace_id}/listening", tags=["listening"])


@router.get(
    "/queries",
    operation_id="list_listening_queries",
    response_model=list[QueryOut],
    openapi_extra=needs(Permission.listening_read),
)
def list_queries(workspace_id: int, principal: CurrentPrincipal, session: Db) -> Any:
    return listening.list_queries(session, principal, workspace_id)


@router.post(
    "/queries",
    operation_id="create_listening_query",
    response_model=QueryOut,
    status_code=status.HTTP_201_CREATED,
    openapi_extra=needs(Permission.listening_manage),
)
def create_query(
    workspace_id: int, body: QueryCreate, principal: CurrentPrincipal, session: Db
) -> Any:
    """A syntax error answers 422 with code ``query_syntax_error`` and the ``position``."""
    return listening.create_query(session, principal, workspace_id, body)


@router.patch(
    "/queries/{query_id}",
    operation_id="update_listening_query",
    response_model=QueryOut,
    openapi_extra=needs(Permission.listening_manage),
)
def update_query(
    workspace_id: int, query_id: int, body: QueryUpdate, principal: CurrentPrincipal, session: Db
) -> Any:
    return listening.update_query(session, principal, workspace_id, query_id, body)


@router.delete(
    "/queries/{query_id}",
    operation_id="delete_listening_query",
    status_code=status.HTTP_204_NO_CONTENT,
    openapi_extra=needs(Permission.listening_manage),
)
def delete_query(
    workspace_id: int, query_id: int, principal: CurrentPrincipal, session: Db
) -> None:
    listening.delete_query(session, principal, workspace_id, query_id)


@router.get(
    "/mentions",
    operation_id="list_mentions",
    response_model=list[MentionOut],
    openapi_extra=needs(Permission.listening_read),
)
def list_mentions(
    workspace_id: int,
    principal: CurrentPrincipal,
    session: Db,
    query_id: int | None = None,
    q: Annotated[str | None, Query(max_length=2000, description="ad-hoc query")] = None,
    label: Literal["negative", "neutral", "positive"] | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> Any:
    return listening.list_mentions(
        session, principal, workspace_id, query_id=query_id, search=q, label=label, limit=limit
    )


@router.put(
    "/mentions/{mention_id}/label",
    operation_id="correct_mention_label",
    response_model=MentionOut,
    openapi_extra=needs(Permission.listening_manage),
)
def correct_label(
    workspace_id: int,
    mention_id: int,
    body: LabelCorrection,
    principal: CurrentPrincipal,
    session: Db,
) -> Any:
    """A person's label: shown instead of the model's and kept as training data."""
    return listening.correct_label(session, principal, workspace_id, mention_id, body.label)


@router.post(
    "/import",
    operation_id="import_mentions",
    response_model=IngestResult,
    openapi_extra=needs(Permission.listening_manage),
)
async def import_mentions(
    workspace_id: int,
    file: UploadFile,
    principal: CurrentPrincipal,
    session: Db,
    ctx: Ctx,
    format: Literal["csv", "json", "jsonl"] = "csv",
) -> Any:
    """Every bad row is reported (``errors``: row and message) and then nothing is imported."""
    content = await file.read(listening.MAX_IMPORT_BYTES + 1)
    try:
        return listening.import_file(
            session,
            principal,
            workspace_id,
            content,
            format,
            emotion_model=listening.emotion_model_for(ctx.settings),
        )
    except listening.ImportFailed as exc:
        # The generic handler keeps only scalar details: list every bad row here.
        return problem(
            exc.status,
            exc.message,
            code=exc.code,
            detail=exc.message,
            errors=[e.model_dump() for e in exc.errors],
        )


@router.post(
    "/intake",
    operation_id="intake_mentions",
    response_model=IngestResult,
    openapi_extra=needs(Permission.listening_manage),
)
def intake(
    workspace_id: int,
    body: list[MentionIn],
    principal: CurrentPrincipal,
    session: Db,
    ctx: Ctx,
) -> Any:
    """Webhook intake: another system pushes the mentions it found (bearer token auth)."""
    return listening.intake(
        session,
        principal,
        workspace_id,
        body,
        emotion_model=listening.emotion_model_for(ctx.settings),
    )


@router.post(
    "/ingest",
    operation_id="ingest_listening_channels",
    response_model=IngestResult,
    openapi_extra=needs(Permission.listening_manage),
)
def ingest_now(
    workspace_id: int, principal: CurrentPrincipal, session: Db, ctx: Ctx, cipher: Cipher
) -> Any:
    """Read the workspace's channels now, instead of waiting for the next periodic run."""
    authorize(session, principal, workspace_id, Permission.listening_manage)
    return listening.ingest_channels(
        session,
        workspace_id,
        registry=ctx.providers,
        cipher=cipher,
        emotion_model=listening.emotion_model_for(ctx.settings),
    )


@router.get(
    "/reputation",
    operation_id="get_reputation",
    response_model=Reputation,
    openapi_extra=needs(Permission.listening_read),
)
def get_reputation(
    workspace_id: int,
    principal: CurrentPrincipal,
    session: Db,
    ctx: Ctx,
    days: Annotated[int, Query(ge=1, le=365)] = 30,
    bucket: Literal["hour", "day"] = "day",
) -> Any:
    end = ctx.clock.now()
    return listening.reputation(
        session,
        principal,
        workspace_id,
        start=end - dt.timedelta(days=days),
        end=end,
        bucket=bucket,
    )


@router.get(
    "/alerts",
    operation_id="list_listening_alerts",
    response_model=list[AlertOut],
    openapi_extra=needs(Permission.listening_read),
)
def list_alerts(workspace_id: int, principal: CurrentPrincipal, session: Db) -> Any:
    return listening.list_alerts(session, principal, workspace_id)


@router.post(
    "/alert-targets",
    operation_id="add_listening_alert_target",
    status_code=status.HTTP_201_CREATED,
    openapi_extra=needs(Permission.listening_manage),
)
def add_alert_target(
    workspace_id: int, body: AlertTargetCreate, principal: CurrentPrincipal, session: Db
) -> dict[str, Any]:
    """A webhook that receives each alert, signed: ``X-Dialogo-Signature: sha256=HMAC(secret,
    X-Dialogo-Timestamp + "." + body)``."""
    target = listening.add_alert_target(session, principal, workspace_id, body)
    return {"id": target.id, "kind": target.kind, "target": target.target}


@router.get(
    "/alerts/{alert_id}/crisis",
    operation_id="get_listening_crisis",
    response_model=CrisisOut,
    openapi_extra=needs(Permission.listening_read),
)
def get_crisis(workspace_id: int, alert_id: int, principal: CurrentPrincipal, session: Db) -> Any:
    """The crisis view of an alert: the last 48 hours against the hour-of-week baseline, the
    mentions behind the spike and what they say more than usual."""
    crisis = listening.get_crisis(session, principal, workspace_id, alert_id)
    return CrisisOut(
        alert=AlertOut.model_validate(crisis.alert),
        query=QueryOut.model_validate(crisis.query),
        weeks=crisis.weeks,
        hours=[
            CrisisHour(start=start, volume=v, negative=n, expected=e)
            for start, v, n, e in zip(
                crisis.hours, crisis.volume, crisis.negative, crisis.expected, strict=True
            )
        ],
        window_volume=crisis.window_volume,
        window_negative_share=crisis.window_negative_share,
        baseline_volume=crisis.baseline_volume,
        baseline_negative_share=crisis.baseline_negative_share,
        terms=[ChangeOut.model_validate(c) for c in crisis.terms],
        topics=[ChangeOut.model_validate(c) for c in crisis.topics],
        authors=[ChangeOut.model_validate(c) for c in crisis.authors],
        mentions=[MentionOut.model_validate(m) for m in crisis.mentions],
    )


@router.get(
    "/topics",
    operation_id="get_listening_topics",
    response_model=TopicsOut,
    openapi_extra=needs(Permission.listening_read),
)
def get_topics(
    workspace_id: int,
    principal: CurrentPrincipal,
    session: Db,
    ctx: Ctx,
    days: Annotated[int, Query(ge=1, le=365)] = 30,
    query_id: int | None = None,
    limit: Annotated[int, Query(ge=10, le=5000, description="mentions clustered")] = 1500,
) -> Any:
    """The latest mentions (of one query, if given) clustered into topics named by their top
    terms, with their negative share and net sentiment; and the brands and products named."""
    view = listening.topics_view(
        session,
        principal,
        workspace_id,
        now=ctx.clock.now(),
        days=days,
        limit=limit,
        query_id=query_id,
    )
    return TopicsOut(
        mentions=view.mentions,
        days=view.days,
        clusters=[
            TopicClusterOut(
                label=c.label,
                terms=list(c.terms),
                size=c.size,
                negative_share=c.negative_share,
                net=c.net,
                examples=[MentionOut.model_validate(m) for m in c.examples],
            )
            for c in view.clusters
        ],
        names=[NamedOut(name=n, kind=k, mentions=count) for n, k, count in view.names],
    )


@router.get(
    "/label-requests",
    operation_id="list_label_requests",
    response_model=LabelRequestsOut,
    openapi_extra=needs(Permission.listening_read),
)
def list_label_requests(
    workspace_id: int,
    principal: CurrentPrincipal,
    session: Db,
    limit: Annotated[int, Query(ge=1, le=100)] = 5,
) -> Any:
    """Active learning: the uncorrected recent mentions the model is least sure of, most
    uncertain first. A correction (``PUT …/mentions/{id}/label``) becomes training data."""
    requests, source = listening.to_label(session, principal, workspace_id, limit=limit)
    return LabelRequestsOut(
        source="corrections" if source == "corrections" else "lexicon",
        items=[
            LabelRequestOut(
                mention=MentionOut.model_validate(r.mention),
                uncertainty=r.uncertainty,
                suggestion=r.suggestion,
            )
            for r in requests
        ],
    )
