"""Word-of-mouth API: the interaction graph, the influencer ranking, advocate selection, and
user-generated content (candidates, rights requests and the authors' answers)."""

from __future__ import annotations

import dataclasses
from typing import Annotated, Any

from fastapi import APIRouter, Query, status

from dialogo.accounts.permissions import Permission
from dialogo.api.deps import Ctx, CurrentPrincipal, Db
from dialogo.api.routers.accounts import needs
from dialogo.channels.crypto import CredentialCipher
from dialogo.influence import refresh, service, ugc
from dialogo.influence.schemas import (
    AdvocatePlanOut,
    AdvocatesIn,
    GraphOut,
    RankingPage,
    UgcAnswerIn,
    UgcCandidateOut,
    UgcRequestIn,
    UgcRequestOut,
)

router = APIRouter(prefix="/api/v1/workspaces/{workspace_id}/influence", tags=["influence"])


@router.get(
    "/graph",
    operation_id="get_influence_graph",
    response_model=GraphOut,
    openapi_extra=needs(Permission.audience_read),
)
def get_influence_graph(workspace_id: int, principal: CurrentPrincipal, session: Db) -> Any:
    """Size of the interaction graph: people, connections by kind, observed estimates."""
    return service.graph_summary(session, principal, workspace_id)


@router.post(
    "/graph/rebuild",
    operation_id="rebuild_influence_graph",
    response_model=GraphOut,
    openapi_extra=needs(Permission.audience_manage),
)
def rebuild_influence_graph(
    workspace_id: int, principal: CurrentPrincipal, session: Db, ctx: Ctx
) -> Any:
    """Rebuild profiles (sandbox), the interaction graph and the ranking from the channels."""
    refresh.rebuild(
        session,
        principal,
        workspace_id,
        registry=ctx.providers,
        cipher=CredentialCipher.from_settings(ctx.settings),
    )
    return service.graph_summary(session, principal, workspace_id)


@router.get(
    "/rankings",
    operation_id="list_influencers",
    response_model=RankingPage,
    openapi_extra=needs(Permission.audience_read),
)
def list_influencers(
    workspace_id: int,
    principal: CurrentPrincipal,
    session: Db,
    sort: Annotated[str, Query(max_length=20)] = "rank",
    topic: Annotated[str | None, Query(max_length=80)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> Any:
    """The influencer ranking (overall score, or reach, engagement, PageRank, k-core, topic)."""
    total, items = service.rankings(
        session, principal, workspace_id, sort=sort, topic=topic, limit=limit, offset=offset
    )
    return {"total": total, "items": [dataclasses.asdict(i) for i in items]}


@router.post(
    "/advocates",
    operation_id="select_advocates",
    response_model=AdvocatePlanOut,
    openapi_extra=needs(Permission.audience_read),
)
def select_advocates(
    workspace_id: int, body: AdvocatesIn, principal: CurrentPrincipal, session: Db
) -> Any:
    """Advocates by influence maximisation (IMM, IC or LT) with the Monte Carlo forecast."""
    plan = service.select_advocates(
        session,
        principal,
        workspace_id,
        k=body.k,
        model=body.model,
        exclude=body.exclude,
        exclude_segment=body.exclude_segment,
        runs=body.runs,
        seed=body.seed,
    )
    return dataclasses.asdict(plan)


@router.get(
    "/ugc/candidates",
    operation_id="list_ugc_candidates",
    response_model=list[UgcCandidateOut],
    openapi_extra=needs(Permission.audience_read),
)
def list_ugc_candidates(
    workspace_id: int,
    principal: CurrentPrincipal,
    session: Db,
    media_only: bool = False,
    include_requested: bool = False,
    min_sentiment: Annotated[float, Query(ge=-1.0, le=1.0)] = 0.3,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> Any:
    """Customers' positive public posts about the brand (with media first)."""
    found = ugc.candidates(
        session,
        principal,
        workspace_id,
        media_only=media_only,
        include_requested=include_requested,
        min_sentiment=min_sentiment,
        limit=limit,
    )
    return [dataclasses.asdict(c) for c in found]


@router.get(
    "/ugc/requests",
    operation_id="list_ugc_requests",
    response_model=list[UgcRequestOut],
    openapi_extra=needs(Permission.audience_read),
)
def list_ugc_requests(
    workspace_id: int,
    principal: CurrentPrincipal,
    session: Db,
    status: str | None = None,
) -> Any:
    return ugc.list_requests(session, principal, workspace_id, status=status)


@router.post(
    "/ugc/requests",
    operation_id="create_ugc_request",
    response_model=UgcRequestOut,
    status_code=status.HTTP_201_CREATED,
    openapi_extra=needs(Permission.audience_manage),
)
def create_ugc_request(
    workspace_id: int, body: UgcRequestIn, principal: CurrentPrincipal, session: Db
) -> Any:
    """Record that the author was asked (from the inbox) for the right to reuse the post."""
    return ugc.request_rights(session, principal, workspace_id, body.item_key, body.request_text)


@router.post(
    "/ugc/requests/{request_id}/answer",
    operation_id="answer_ugc_request",
    response_model=UgcRequestOut,
    openapi_extra=needs(Permission.audience_manage),
)
def answer_ugc_request(
    workspace_id: int,
    request_id: int,
    body: UgcAnswerIn,
    principal: CurrentPrincipal,
    session: Db,
) -> Any:
    """The author's answer: granted (with the rights given) or refused."""
    return ugc.record_answer(session, principal, workspace_id, request_id, body.status, body.rights)
