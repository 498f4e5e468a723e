"""Sandbox API: what-if forecasts of a planned campaign on the workspace's simulated world."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel

from dialogo.accounts.permissions import Permission
from dialogo.accounts.service import authorize
from dialogo.api.deps import Ctx, CurrentPrincipal, Db
from dialogo.api.routers.accounts import needs
from dialogo.api.routers.channels import Cipher
from dialogo.demo import whatif
from dialogo.demo.schemas import WhatIfIn, WhatIfOut
from dialogo.simulation.taxonomy import TOPICS

router = APIRouter(prefix="/api/v1/workspaces/{workspace_id}/sandbox", tags=["sandbox"])


class SegmentOut(BaseModel):
    key: str
    label_en: str
    label_it: str


class WhatIfOptions(BaseModel):
    channel_id: int
    topics: list[str]
    segments: list[SegmentOut]
    suggested_advocates: list[str]


@router.get(
    "/whatif",
    operation_id="get_whatif_options",
    response_model=WhatIfOptions,
    openapi_extra=needs(Permission.posts_read),
)
def get_whatif_options(
    workspace_id: int, principal: CurrentPrincipal, session: Db, ctx: Ctx, cipher: Cipher
) -> Any:
    """What a what-if can use: topics, segments, and well-followed people to ask to share."""
    authorize(session, principal, workspace_id, Permission.posts_read)
    channel_id, world = whatif.sandbox_world(
        session, workspace_id, registry=ctx.providers, cipher=cipher
    )
    return WhatIfOptions(
        channel_id=channel_id,
        topics=list(TOPICS),
        segments=[
            SegmentOut(key=s.key, label_en=s.label_en, label_it=s.label_it)
            for s in world.config.segments
        ],
        suggested_advocates=whatif.suggested_advocates(world),
    )


@router.post(
    "/whatif",
    operation_id="run_whatif",
    response_model=WhatIfOut,
    openapi_extra=needs(Permission.posts_read),
)
def run_whatif(
    workspace_id: int,
    data: WhatIfIn,
    principal: CurrentPrincipal,
    session: Db,
    ctx: Ctx,
    cipher: Cipher,
) -> Any:
    """Forecast a planned campaign (posts, times, topics, advocates, budget) with intervals;
    nothing is stored or published."""
    return whatif.run_whatif(
        session, principal, workspace_id, data, registry=ctx.providers, cipher=cipher
    )
