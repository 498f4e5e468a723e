"""Publishing API: campaigns, posts and their variants, validation, approvals, scheduling."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from fastapi import APIRouter, Query, status
from sqlalchemy.orm import Session

from dialogo.accounts.permissions import Permission
from dialogo.accounts.service import Principal
from dialogo.api.deps import Ctx, CurrentPrincipal, Db
from dialogo.api.routers.accounts import needs
from dialogo.api.routers.channels import Cipher
from dialogo.publishing import service as publishing
from dialogo.publishing.models import Post, PostStatus
from dialogo.publishing.schemas import (
    ApprovalOut,
    CampaignCreate,
    CampaignOut,
    ChannelValidation,
    Decision,
    PostCreate,
    PostDetail,
    PostFilters,
    PostOut,
    PostUpdate,
    PublishingSettingsIn,
    PublishingSettingsOut,
    ScheduleIn,
)

router = APIRouter(prefix="/api/v1/workspaces/{workspace_id}", tags=["publishing"])


def _detail(session: Session, post: Post) -> PostDetail:
    out = PostDetail.model_validate(post, from_attributes=True)
    out.approvals = [
        ApprovalOut.model_validate(a) for a in publishing.list_approvals(session, post)
    ]
    out.approval_stages = publishing.approval_stages(
        publishing.publishing_settings(session, post.workspace_id)
    )
    return out


@router.get(
    "/publishing/settings",
    operation_id="get_publishing_settings",
    response_model=PublishingSettingsOut,
    openapi_extra=needs(Permission.posts_read),
)
def get_publishing_settings(workspace_id: int, principal: CurrentPrincipal, session: Db) -> Any:
    return publishing.get_settings(session, principal, workspace_id)


@router.put(
    "/publishing/settings",
    operation_id="update_publishing_settings",
    response_model=PublishingSettingsOut,
    openapi_extra=needs(Permission.workspace_update),
)
def update_publishing_settings(
    workspace_id: int, body: PublishingSettingsIn, principal: CurrentPrincipal, session: Db
) -> Any:
    """Approval stages, in order, and whether posts need them before scheduling."""
    return publishing.update_settings(session, principal, workspace_id, body)


@router.get(
    "/campaigns",
    operation_id="list_campaigns",
    response_model=list[CampaignOut],
    openapi_extra=needs(Permission.posts_read),
)
def list_campaigns(workspace_id: int, principal: CurrentPrincipal, session: Db) -> Any:
    return publishing.list_campaigns(session, principal, workspace_id)


@router.post(
    "/campaigns",
    operation_id="create_campaign",
    response_model=CampaignOut,
    status_code=status.HTTP_201_CREATED,
    openapi_extra=needs(Permission.posts_write),
)
def create_campaign(
    workspace_id: int, body: CampaignCreate, principal: CurrentPrincipal, session: Db
) -> Any:
    return publishing.create_campaign(session, principal, workspace_id, body)


@router.get(
    "/posts",
    operation_id="list_posts",
    response_model=list[PostOut],
    openapi_extra=needs(Permission.posts_read),
)
def list_posts(
    workspace_id: int,
    principal: CurrentPrincipal,
    session: Db,
    status_: Annotated[PostStatus | None, Query(alias="status")] = None,
    campaign_id: Annotated[int | None, Query()] = None,
    channel_id: Annotated[int | None, Query()] = None,
    scheduled_from: Annotated[dt.datetime | None, Query()] = None,
    scheduled_to: Annotated[dt.datetime | None, Query()] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> Any:
    """Posts by scheduled time (drafts last), filtered by status, campaign, channel, dates."""
    filters = PostFilters(
        status=status_,
        campaign_id=campaign_id,
        channel_id=channel_id,
        scheduled_from=scheduled_from,
        scheduled_to=scheduled_to,
        limit=limit,
        offset=offset,
    )
    return publishing.list_posts(session, principal, workspace_id, filters)


@router.post(
    "/posts",
    operation_id="create_post",
    response_model=PostDetail,
    status_code=status.HTTP_201_CREATED,
    openapi_extra=needs(Permission.posts_write),
)
def create_post(
    workspace_id: int, body: PostCreate, principal: CurrentPrincipal, session: Db
) -> Any:
    """A draft with one variant per channel."""
    return _detail(session, publishing.create_post(session, principal, workspace_id, body))


@router.get(
    "/posts/{post_id}",
    operation_id="get_post",
    response_model=PostDetail,
    openapi_extra=needs(Permission.posts_read),
)
def get_post(workspace_id: int, post_id: int, principal: CurrentPrincipal, session: Db) -> Any:
    return _detail(session, publishing.get_post(session, principal, workspace_id, post_id))


@router.patch(
    "/posts/{post_id}",
    operation_id="update_post",
    response_model=PostDetail,
    openapi_extra=needs(Permission.posts_write),
)
def update_post(
    workspace_id: int,
    post_id: int,
    body: PostUpdate,
    principal: CurrentPrincipal,
    session: Db,
) -> Any:
    """Edit a post not yet on its way; changing variants withdraws approvals and schedule."""
    post = publishing.update_post(session, principal, workspace_id, post_id, body)
    return _detail(session, post)


@router.post(
    "/posts/{post_id}/validate",
    operation_id="validate_post",
    response_model=list[ChannelValidation],
    openapi_extra=needs(Permission.posts_write),
)
def validate_post(
    workspace_id: int,
    post_id: int,
    ctx: Ctx,
    cipher: Cipher,
    principal: CurrentPrincipal,
    session: Db,
) -> Any:
    """Each variant checked by its network's rules: the issues per channel."""
    return publishing.validate_post(
        session, principal, workspace_id, post_id, registry=ctx.providers, cipher=cipher
    )


def _decision(
    action: Any, session: Session, principal: Principal, workspace_id: int, post_id: int, c: str
) -> PostDetail:
    return _detail(session, action(session, principal, workspace_id, post_id, c))


@router.post(
    "/posts/{post_id}/submit",
    operation_id="submit_post",
    response_model=PostDetail,
    openapi_extra=needs(Permission.posts_write),
)
def submit_post(
    workspace_id: int,
    post_id: int,
    principal: CurrentPrincipal,
    session: Db,
    body: Decision | None = None,
) -> Any:
    """Ask for approval (the workspace's first stage)."""
    comment = body.comment if body else ""
    return _decision(publishing.submit_post, session, principal, workspace_id, post_id, comment)


@router.post(
    "/posts/{post_id}/approve",
    operation_id="approve_post",
    response_model=PostDetail,
    openapi_extra=needs(Permission.posts_approve),
)
def approve_post(
    workspace_id: int,
    post_id: int,
    principal: CurrentPrincipal,
    session: Db,
    body: Decision | None = None,
) -> Any:
    """Approve the current stage; after the last one the post is approved."""
    comment = body.comment if body else ""
    return _decision(publishing.approve_post, session, principal, workspace_id, post_id, comment)


@router.post(
    "/posts/{post_id}/reject",
    operation_id="reject_post",
    response_model=PostDetail,
    openapi_extra=needs(Permission.posts_approve),
)
def reject_post(
    workspace_id: int, post_id: int, body: Decision, principal: CurrentPrincipal, session: Db
) -> Any:
    """Send the post back to draft with a comment saying why."""
    return _decision(
        publishing.reject_post, session, principal, workspace_id, post_id, body.comment
    )


@router.post(
    "/posts/{post_id}/schedule",
    operation_id="schedule_post",
    response_model=PostDetail,
    openapi_extra=needs(Permission.posts_publish),
)
def schedule_post(
    workspace_id: int,
    post_id: int,
    body: ScheduleIn,
    ctx: Ctx,
    cipher: Cipher,
    principal: CurrentPrincipal,
    session: Db,
) -> Any:
    """Schedule at a timezone-aware time in the future (approval first where required)."""
    post = publishing.schedule_post(
        session,
        principal,
        workspace_id,
        post_id,
        body.scheduled_at,
        registry=ctx.providers,
        cipher=cipher,
        now=ctx.clock.now(),
    )
    return _detail(session, post)


@router.post(
    "/posts/{post_id}/cancel",
    operation_id="cancel_post",
    response_model=PostDetail,
    openapi_extra=needs(Permission.posts_publish),
)
def cancel_post(workspace_id: int, post_id: int, principal: CurrentPrincipal, session: Db) -> Any:
    """Stop what has not gone out yet."""
    return _detail(session, publishing.cancel_post(session, principal, workspace_id, post_id))


@router.post(
    "/posts/{post_id}/duplicate",
    operation_id="duplicate_post",
    response_model=PostDetail,
    status_code=status.HTTP_201_CREATED,
    openapi_extra=needs(Permission.posts_write),
)
def duplicate_post(
    workspace_id: int, post_id: int, principal: CurrentPrincipal, session: Db
) -> Any:
    """A new draft with this post's campaign and content."""
    return _detail(session, publishing.duplicate_post(session, principal, workspace_id, post_id))
