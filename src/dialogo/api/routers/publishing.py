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


# --- recurring posts, queue slots, bulk import (issue #4, engine side) -------------------------

from fastapi import File, UploadFile  # noqa: E402

from dialogo.api.problems import problem  # noqa: E402
from dialogo.publishing import imports, recurrence, slots  # noqa: E402


@router.get(
    "/recurring-posts",
    operation_id="list_recurring_posts",
    response_model=list[recurrence.RecurringOut],
    openapi_extra=needs(Permission.posts_read),
)
def list_recurring_posts(workspace_id: int, principal: CurrentPrincipal, session: Db) -> Any:
    return recurrence.list_recurring(session, principal, workspace_id)


@router.post(
    "/recurring-posts",
    operation_id="create_recurring_post",
    response_model=recurrence.RecurringOut,
    status_code=status.HTTP_201_CREATED,
    openapi_extra=needs(Permission.posts_publish),
)
def create_recurring_post(
    workspace_id: int,
    body: recurrence.RecurringIn,
    ctx: Ctx,
    cipher: Cipher,
    principal: CurrentPrincipal,
    session: Db,
) -> Any:
    """A rule (daily, weekly, monthly at a local time in the workspace's time zone); its next
    occurrences are scheduled at once and kept scheduled ahead by the worker."""
    return recurrence.create_recurring(
        session,
        principal,
        workspace_id,
        body,
        registry=ctx.providers,
        cipher=cipher,
        now=ctx.clock.now(),
    )


@router.get(
    "/recurring-posts/{recurring_id}/posts",
    operation_id="list_recurring_post_occurrences",
    response_model=list[PostOut],
    openapi_extra=needs(Permission.posts_read),
)
def list_recurring_post_occurrences(
    workspace_id: int, recurring_id: int, principal: CurrentPrincipal, session: Db
) -> Any:
    row = recurrence.get_recurring(session, principal, workspace_id, recurring_id)
    return recurrence.occurrence_posts(session, row)


@router.post(
    "/recurring-posts/{recurring_id}/stop",
    operation_id="stop_recurring_post",
    response_model=recurrence.RecurringOut,
    openapi_extra=needs(Permission.posts_publish),
)
def stop_recurring_post(
    workspace_id: int, recurring_id: int, principal: CurrentPrincipal, session: Db
) -> Any:
    """Stop the rule and cancel its occurrences that have not gone out."""
    return recurrence.stop_recurring(session, principal, workspace_id, recurring_id)


@router.get(
    "/queue-slots",
    operation_id="list_queue_slots",
    response_model=list[slots.SlotOut],
    openapi_extra=needs(Permission.posts_read),
)
def list_queue_slots(
    workspace_id: int,
    principal: CurrentPrincipal,
    session: Db,
    channel_id: Annotated[int | None, Query()] = None,
) -> Any:
    return slots.list_slots(session, principal, workspace_id, channel_id)


@router.put(
    "/channels/{channel_id}/queue-slots",
    operation_id="replace_queue_slots",
    response_model=list[slots.SlotOut],
    openapi_extra=needs(Permission.posts_publish),
)
def replace_queue_slots(
    workspace_id: int,
    channel_id: int,
    body: list[slots.SlotIn],
    principal: CurrentPrincipal,
    session: Db,
) -> Any:
    """Replace a channel's weekly slots (weekday + local time in the workspace's zone)."""
    return slots.set_slots(session, principal, workspace_id, channel_id, body)


@router.get(
    "/queue-slots/next",
    operation_id="next_queue_slot",
    response_model=slots.NextSlotOut,
    openapi_extra=needs(Permission.posts_read),
)
def next_queue_slot(
    workspace_id: int,
    ctx: Ctx,
    principal: CurrentPrincipal,
    session: Db,
    channel_id: Annotated[list[int], Query()],
) -> Any:
    """The next slot common to these channels and free on all of them (null when none)."""
    return slots.next_slot(session, principal, workspace_id, channel_id, now=ctx.clock.now())


@router.post(
    "/posts/{post_id}/queue",
    operation_id="queue_post",
    response_model=PostDetail,
    openapi_extra=needs(Permission.posts_publish),
)
def queue_post(
    workspace_id: int,
    post_id: int,
    ctx: Ctx,
    cipher: Cipher,
    principal: CurrentPrincipal,
    session: Db,
) -> Any:
    """Add to queue: schedule at the channels' next free slot."""
    post = slots.add_to_queue(
        session,
        principal,
        workspace_id,
        post_id,
        registry=ctx.providers,
        cipher=cipher,
        now=ctx.clock.now(),
    )
    return _detail(session, post)


@router.post(
    "/posts/import",
    operation_id="import_posts",
    response_model=imports.ImportReport,
    openapi_extra=needs(Permission.posts_write),
)
def import_posts(
    workspace_id: int,
    ctx: Ctx,
    cipher: Cipher,
    principal: CurrentPrincipal,
    session: Db,
    file: Annotated[UploadFile, File(description="CSV (with a header line) or JSON")],
    dry_run: Annotated[bool, Query(description="check every row, write nothing")] = False,
    format: Annotated[str | None, Query(pattern="^(csv|json)$")] = None,
) -> Any:
    """Posts from a CSV or JSON file: every row checked, every error reported with its row
    number (problem ``import_rejected``, ``errors``), and nothing imported unless all are
    valid. Columns: channel, text, scheduled_at, campaign, first_comment."""
    data = file.file.read(imports.MAX_BYTES + 1)
    fmt = format or imports.detect_format(file.filename, file.content_type)
    try:
        return imports.import_posts(
            session,
            principal,
            workspace_id,
            data,
            fmt,
            registry=ctx.providers,
            cipher=cipher,
            dry_run=dry_run,
            now=ctx.clock.now(),
        )
    except imports.ImportRejected as exc:  # the generic handler keeps scalar details only
        session.rollback()
        return problem(
            exc.status,
            "Nothing was imported",
            code=exc.code,
            detail=exc.message,
            errors=[e.model_dump() for e in exc.errors],
        )


# --- media library -----------------------------------------------------------------------------

from fastapi import Form  # noqa: E402

from dialogo.publishing import media as media_library  # noqa: E402


@router.post(
    "/media",
    operation_id="upload_media",
    response_model=media_library.MediaOut,
    status_code=status.HTTP_201_CREATED,
    openapi_extra=needs(Permission.posts_write),
)
def upload_media(
    workspace_id: int,
    ctx: Ctx,
    principal: CurrentPrincipal,
    session: Db,
    file: Annotated[UploadFile, File(description="an image or a video")],
    alt_text: Annotated[str, Form(max_length=media_library.ALT_TEXT_MAX)] = "",
) -> Any:
    """Add an image or video to the library; its type is read from its content."""
    data = file.file.read(media_library.MAX_UPLOAD_BYTES + 1)
    return media_library.upload(
        session,
        principal,
        workspace_id,
        data,
        filename=file.filename,
        alt_text=alt_text,
        data_dir=ctx.settings.data_dir,
    )


@router.get(
    "/media",
    operation_id="list_media",
    response_model=list[media_library.MediaOut],
    openapi_extra=needs(Permission.posts_read),
)
def list_media(workspace_id: int, principal: CurrentPrincipal, session: Db) -> Any:
    return media_library.list_assets(session, principal, workspace_id)


@router.patch(
    "/media/{media_id}",
    operation_id="update_media_alt_text",
    response_model=media_library.MediaOut,
    openapi_extra=needs(Permission.posts_write),
)
def update_media_alt_text(
    workspace_id: int,
    media_id: int,
    body: media_library.AltTextIn,
    principal: CurrentPrincipal,
    session: Db,
) -> Any:
    return media_library.set_alt_text(session, principal, workspace_id, media_id, body.alt_text)


# --- webhooks ----------------------------------------------------------------------------------

from fastapi import Response  # noqa: E402

from dialogo.publishing import webhooks  # noqa: E402


@router.post(
    "/webhooks",
    operation_id="create_webhook",
    response_model=webhooks.WebhookCreated,
    status_code=status.HTTP_201_CREATED,
    openapi_extra=needs(Permission.workspace_update),
)
def create_webhook(
    workspace_id: int,
    body: webhooks.WebhookIn,
    cipher: Cipher,
    principal: CurrentPrincipal,
    session: Db,
) -> Any:
    """An endpoint for post events (scheduled, published, failed, unconfirmed), signed in the
    Standard Webhooks style; the secret is in this answer only."""
    endpoint, secret = webhooks.create_endpoint(
        session, principal, workspace_id, body, cipher=cipher
    )
    out = webhooks.WebhookCreated.model_validate(
        {**webhooks.WebhookOut.model_validate(endpoint).model_dump(), "secret": secret}
    )
    return out


@router.get(
    "/webhooks",
    operation_id="list_webhooks",
    response_model=list[webhooks.WebhookOut],
    openapi_extra=needs(Permission.workspace_update),
)
def list_webhooks(workspace_id: int, principal: CurrentPrincipal, session: Db) -> Any:
    return webhooks.list_endpoints(session, principal, workspace_id)


@router.delete(
    "/webhooks/{webhook_id}",
    operation_id="delete_webhook",
    status_code=status.HTTP_204_NO_CONTENT,
    openapi_extra=needs(Permission.workspace_update),
)
def delete_webhook(
    workspace_id: int, webhook_id: int, principal: CurrentPrincipal, session: Db
) -> Response:
    webhooks.delete_endpoint(session, principal, workspace_id, webhook_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get(
    "/webhooks/{webhook_id}/deliveries",
    operation_id="list_webhook_deliveries",
    response_model=list[webhooks.DeliveryOut],
    openapi_extra=needs(Permission.workspace_update),
)
def list_webhook_deliveries(
    workspace_id: int, webhook_id: int, principal: CurrentPrincipal, session: Db
) -> Any:
    """The delivery log: each event, its status and every attempt."""
    return webhooks.list_deliveries(session, principal, workspace_id, webhook_id)
