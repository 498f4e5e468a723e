"""Publishing: campaigns, drafts with one variant per channel, validation by each channel's
provider, approvals in workspace-defined stages, scheduling, cancelling and duplicating.

Who may do what: ``posts.read`` to read, ``posts.write`` to compose, submit and duplicate,
``posts.approve`` to approve or reject, ``posts.publish`` to schedule and cancel. Changing a
post's content withdraws its approvals (it goes back to ``draft``). The dispatcher
(:mod:`dialogo.publishing.dispatcher`) takes over once a post is scheduled.
"""

from __future__ import annotations

import datetime as dt
import secrets
from collections.abc import Iterable, Sequence

import httpx
from sqlalchemy import Select, select
from sqlalchemy.orm import Session, selectinload

from dialogo.accounts.permissions import Permission
from dialogo.accounts.service import Principal, authorize
from dialogo.channels.crypto import CredentialCipher
from dialogo.channels.models import Channel, ChannelStatus
from dialogo.channels.service import open_provider
from dialogo.core.clock import ensure_aware, utcnow
from dialogo.core.errors import Conflict, InvalidInput, NotFound
from dialogo.core.i18n import N_
from dialogo.providers.base import Draft, Media
from dialogo.providers.errors import ProviderError
from dialogo.providers.registry import ProviderRegistry
from dialogo.publishing.models import (
    FINAL,
    ApprovalDecision,
    Campaign,
    Post,
    PostApproval,
    PostStatus,
    PostVariant,
    VariantStatus,
    WorkspacePublishingSettings,
)
from dialogo.publishing.schemas import (
    CampaignCreate,
    ChannelValidation,
    IssueOut,
    PostCreate,
    PostFilters,
    PostUpdate,
    PublishingSettingsIn,
    VariantIn,
)

DEFAULT_STAGE = "approval"
EDITABLE = (
    PostStatus.draft.value,
    PostStatus.pending_approval.value,
    PostStatus.approved.value,
    PostStatus.scheduled.value,
)


def new_idempotency_key() -> str:
    return f"dlg-{secrets.token_hex(12)}"


# --- settings -----------------------------------------------------------------------------------


def publishing_settings(session: Session, workspace_id: int) -> WorkspacePublishingSettings:
    """The workspace's settings, or the defaults (no approval required, one stage)."""
    found = session.get(WorkspacePublishingSettings, workspace_id)
    if found is not None:
        return found
    return WorkspacePublishingSettings(
        workspace_id=workspace_id, approval_required=False, approval_stages=[]
    )


def approval_stages(settings: WorkspacePublishingSettings) -> list[str]:
    return [str(s) for s in settings.approval_stages or []] or [DEFAULT_STAGE]


def get_settings(
    session: Session, principal: Principal, workspace_id: int
) -> WorkspacePublishingSettings:
    authorize(session, principal, workspace_id, Permission.posts_read)
    return publishing_settings(session, workspace_id)


def update_settings(
    session: Session, principal: Principal, workspace_id: int, data: PublishingSettingsIn
) -> WorkspacePublishingSettings:
    authorize(session, principal, workspace_id, Permission.workspace_update)
    row = session.get(WorkspacePublishingSettings, workspace_id)
    if row is None:
        row = WorkspacePublishingSettings(workspace_id=workspace_id)
        session.add(row)
    row.approval_required = data.approval_required
    row.approval_stages = list(data.approval_stages)
    row.updated_at = utcnow()
    session.flush()
    return row


# --- campaigns ----------------------------------------------------------------------------------


def list_campaigns(session: Session, principal: Principal, workspace_id: int) -> list[Campaign]:
    authorize(session, principal, workspace_id, Permission.posts_read)
    return list(
        session.scalars(
            select(Campaign).where(Campaign.workspace_id == workspace_id).order_by(Campaign.id)
        )
    )


def create_campaign(
    session: Session, principal: Principal, workspace_id: int, data: CampaignCreate
) -> Campaign:
    authorize(session, principal, workspace_id, Permission.posts_write)
    exists = session.scalar(
        select(Campaign.id).where(Campaign.workspace_id == workspace_id, Campaign.name == data.name)
    )
    if exists is not None:
        raise Conflict(f"a campaign named {data.name!r} exists already", code="campaign_exists")
    campaign = Campaign(
        workspace_id=workspace_id,
        name=data.name,
        description=data.description,
        goal=data.goal,
        starts_on=data.starts_on,
        ends_on=data.ends_on,
        budget=data.budget,
        currency=data.currency,
        utm=dict(data.utm),
        created_by=principal.user_id,
    )
    session.add(campaign)
    session.flush()
    return campaign


def _campaign_in(session: Session, workspace_id: int, campaign_id: int | None) -> int | None:
    if campaign_id is None:
        return None
    campaign = session.get(Campaign, campaign_id)
    if campaign is None or campaign.workspace_id != workspace_id:
        raise InvalidInput(f"campaign {campaign_id} not found", code="unknown_campaign")
    return campaign.id


# --- posts --------------------------------------------------------------------------------------


def _post_query(workspace_id: int) -> Select[Post]:
    return (
        select(Post).where(Post.workspace_id == workspace_id).options(selectinload(Post.variants))
    )


def _load_post(session: Session, workspace_id: int, post_id: int, *, lock: bool = False) -> Post:
    query = _post_query(workspace_id).where(Post.id == post_id)
    if lock:
        query = query.with_for_update(of=Post).execution_options(populate_existing=True)
    post = session.scalar(query)
    if post is None:
        raise NotFound("post not found")
    return post


def get_post(session: Session, principal: Principal, workspace_id: int, post_id: int) -> Post:
    authorize(session, principal, workspace_id, Permission.posts_read)
    return _load_post(session, workspace_id, post_id)


def list_approvals(session: Session, post: Post) -> list[PostApproval]:
    return list(
        session.scalars(
            select(PostApproval).where(PostApproval.post_id == post.id).order_by(PostApproval.id)
        )
    )


def list_posts(
    session: Session, principal: Principal, workspace_id: int, filters: PostFilters
) -> list[Post]:
    authorize(session, principal, workspace_id, Permission.posts_read)
    query = _post_query(workspace_id)
    if filters.status is not None:
        query = query.where(Post.status == filters.status.value)
    if filters.campaign_id is not None:
        query = query.where(Post.campaign_id == filters.campaign_id)
    if filters.channel_id is not None:
        query = query.where(
            Post.id.in_(
                select(PostVariant.post_id).where(PostVariant.channel_id == filters.channel_id)
            )
        )
    if filters.scheduled_from is not None:
        query = query.where(Post.scheduled_at >= ensure_aware(filters.scheduled_from))
    if filters.scheduled_to is not None:
        query = query.where(Post.scheduled_at < ensure_aware(filters.scheduled_to))
    query = query.order_by(Post.scheduled_at.is_(None), Post.scheduled_at, Post.id)
    return list(session.scalars(query.limit(filters.limit).offset(filters.offset)))


def _channels(session: Session, workspace_id: int, ids: Sequence[int]) -> dict[int, Channel]:
    found = {
        c.id: c
        for c in session.scalars(
            select(Channel).where(Channel.workspace_id == workspace_id, Channel.id.in_(ids))
        )
    }
    missing = sorted(set(ids) - set(found))
    if missing:
        raise InvalidInput(
            f"no connected channel with id {', '.join(map(str, missing))} in this workspace",
            code="unknown_channel",
            channel_ids=missing,
        )
    return found


def _apply_variants(session: Session, post: Post, variants: Sequence[VariantIn]) -> None:
    """Make the post's variants match ``variants``; a channel's variant keeps its id and its
    idempotency key across edits."""
    channels = _channels(session, post.workspace_id, [v.channel_id for v in variants])
    existing = {v.channel_id: v for v in post.variants}
    keep: list[PostVariant] = []
    for data in variants:
        variant = existing.get(data.channel_id)
        if variant is None:
            variant = PostVariant(
                workspace_id=post.workspace_id,
                channel_id=data.channel_id,
                network=channels[data.channel_id].network,
                idempotency_key=new_idempotency_key(),
                status=VariantStatus.draft.value,
            )
        variant.text = data.text
        variant.media = list(data.media)
        variant.first_comment = data.first_comment or None
        variant.thread = list(data.thread)
        variant.updated_at = utcnow()
        keep.append(variant)
    post.variants = keep


def create_post(
    session: Session, principal: Principal, workspace_id: int, data: PostCreate
) -> Post:
    authorize(session, principal, workspace_id, Permission.posts_write)
    post = Post(
        workspace_id=workspace_id,
        campaign_id=_campaign_in(session, workspace_id, data.campaign_id),
        author_id=principal.user_id,
        status=PostStatus.draft.value,
    )
    session.add(post)
    _apply_variants(session, post, data.variants)
    session.flush()
    return post


def _back_to_draft(post: Post) -> None:
    post.status = PostStatus.draft.value
    post.approval_step = 0
    post.scheduled_at = None
    for variant in post.variants:
        variant.status = VariantStatus.draft.value
        variant.due_at = None


def _lock_variants(session: Session, post: Post) -> list[PostVariant]:
    """The post's variants read afresh and locked, so a dispatcher job working on one is
    waited for (PostgreSQL) rather than overwritten."""
    return list(
        session.scalars(
            select(PostVariant)
            .where(PostVariant.post_id == post.id)
            .order_by(PostVariant.id)
            .with_for_update()
            .execution_options(populate_existing=True)
        )
    )


def update_post(
    session: Session, principal: Principal, workspace_id: int, post_id: int, data: PostUpdate
) -> Post:
    """Edit a post not yet on its way. Content changes withdraw approvals and unschedule it."""
    authorize(session, principal, workspace_id, Permission.posts_write)
    post = _load_post(session, workspace_id, post_id, lock=True)
    variants = _lock_variants(session, post)
    if post.status not in EDITABLE or any(v.status not in _UNSENT for v in variants):
        raise Conflict(
            f"a {post.status} post cannot be edited; duplicate it instead", code="not_editable"
        )
    if "campaign_id" in data.model_fields_set:
        post.campaign_id = _campaign_in(session, workspace_id, data.campaign_id)
    if data.variants is not None:
        _apply_variants(session, post, data.variants)
        _back_to_draft(post)
    post.updated_at = utcnow()
    session.flush()
    return post


_UNSENT = (VariantStatus.draft.value, VariantStatus.scheduled.value)


def duplicate_post(session: Session, principal: Principal, workspace_id: int, post_id: int) -> Post:
    """A new draft with the same campaign and content (variants on channels still connected)."""
    authorize(session, principal, workspace_id, Permission.posts_write)
    source = _load_post(session, workspace_id, post_id)
    copies = [
        VariantIn(
            channel_id=v.channel_id,
            text=v.text,
            media=[str(m) for m in v.media or []],
            first_comment=v.first_comment,
            thread=[str(t) for t in v.thread or []],
        )
        for v in source.variants
        if v.channel_id is not None
    ]
    if not copies:
        raise Conflict("none of this post's channels is connected any more", code="no_channels")
    post = Post(
        workspace_id=workspace_id,
        campaign_id=source.campaign_id,
        author_id=principal.user_id,
        status=PostStatus.draft.value,
        duplicated_from_id=source.id,
    )
    session.add(post)
    _apply_variants(session, post, copies)
    session.flush()
    return post


# --- validation ---------------------------------------------------------------------------------


def draft_of(variant: PostVariant) -> Draft:
    return Draft(
        text=variant.text,
        thread=tuple(Draft(text=str(t)) for t in variant.thread or []),
        idempotency_key=variant.idempotency_key,
    )


def validate_variants(
    session: Session,
    post: Post,
    *,
    registry: ProviderRegistry,
    cipher: CredentialCipher,
    http: httpx.Client | None = None,
) -> list[ChannelValidation]:
    results = []
    for variant in post.variants:
        issues = _variant_issues(session, variant, registry=registry, cipher=cipher, http=http)
        results.append(
            ChannelValidation(
                channel_id=variant.channel_id,
                network=variant.network,
                ok=not issues,
                issues=issues,
            )
        )
    return results


_MEDIA_URL_STAND_IN = "https://dialogo.invalid/media"


#: Why a channel needs a person, worded by the provider error that flagged it (stored in
#: ``channels.status_code``); the network's own text follows as a detail, never translated.
#: A channel flagged before codes were stored says its stored reason alone.
_ATTENTION_BY_CODE = {
    "reauth_required": N_(
        "%(channel)s (%(network)s) needs to be connected again: the network refused the "
        "credentials or they expired — details: %(reason)s"
    ),
    "insufficient_scopes": N_(
        "%(channel)s (%(network)s) needs to be connected again: a permission this needs was "
        "not granted — details: %(reason)s"
    ),
    "disconnected": N_(
        "%(channel)s (%(network)s) needs to be connected again: the account is no longer "
        "available on the network — details: %(reason)s"
    ),
}


def _variant_issues(
    session: Session,
    variant: PostVariant,
    *,
    registry: ProviderRegistry,
    cipher: CredentialCipher,
    http: httpx.Client | None,
) -> list[IssueOut]:
    channel = session.get(Channel, variant.channel_id) if variant.channel_id else None
    if channel is None:
        return [IssueOut.of("channel_removed", N_("the channel was removed"), "channel")]
    if channel.network not in registry:
        return [
            IssueOut.of(
                "unknown_network",
                N_("no provider for %(network)s is installed or allowed here"),
                "channel",
                {"network": repr(channel.network)},
            )
        ]
    caps = registry.get(channel.network).capabilities
    issues: list[IssueOut] = []
    if channel.status != ChannelStatus.ok.value:
        names = {"channel": channel.name, "network": caps.display_name}
        worded = _ATTENTION_BY_CODE.get(channel.status_code or "")
        issues.append(
            IssueOut.of(
                "channel_needs_attention",
                worded or N_("%(channel)s (%(network)s) needs to be connected again: %(reason)s"),
                "channel",
                {**names, "reason": channel.status_reason},
            )
            if channel.status_reason
            else IssueOut.of(
                "channel_needs_attention",
                N_("%(channel)s (%(network)s) needs to be connected again"),
                "channel",
                names,
            )
        )
    if not caps.publishes:
        return [
            IssueOut.of(
                "cannot_publish",
                N_("%(network)s is a listening source: it cannot publish"),
                "channel",
                {"network": caps.display_name},
            )
        ]
    if variant.thread and not caps.threads:
        issues.append(
            IssueOut.of(
                "threads_unsupported",
                N_("%(network)s does not support threads"),
                "thread",
                {"network": caps.display_name},
            )
        )
    attached: list[Media] = []
    if variant.media:
        from dialogo.publishing import media as media_library  # media imports this module

        try:
            assets = media_library.resolve_refs(session, variant.workspace_id, variant.media)
            issues += media_library.check(assets, caps.media, caps.display_name)
            # Stand-ins for the provider's own rules (how many, which kinds, alt text, that a
            # URL will exist): sizes and types were checked above against the network's media
            # rules without reading the files, and the dispatcher attaches the bytes and a
            # public signed URL when it sends (publishing.media.MediaSource).
            attached = [
                Media(
                    content=b"",
                    mime_type=a.mime_type,
                    alt_text=a.alt_text,
                    filename=a.filename,
                    url=_MEDIA_URL_STAND_IN,
                )
                for a in assets
            ]
        except InvalidInput as exc:
            issues.append(IssueOut(code=exc.code, message=exc.message, field="media"))
    try:
        with open_provider(session, channel, registry=registry, cipher=cipher, http=http) as p:
            checks: list[tuple[str, Draft]] = [
                ("text", Draft(text=variant.text, media=tuple(attached)))
            ]
            checks += [(f"thread[{i}]", Draft(text=str(t))) for i, t in enumerate(variant.thread)]
            if variant.first_comment:
                checks.append(("first_comment", Draft(text=variant.first_comment)))
            for field, draft in checks:
                for issue in p.validate(draft):
                    issues.append(
                        IssueOut.of(
                            issue.code,
                            issue.template,
                            field if issue.field == "text" else f"{field}.{issue.field}",
                            issue.params,
                        )
                    )
    except ProviderError as exc:  # validation is local; a provider asking the network failed
        issues.append(IssueOut(code=exc.code, message=exc.message, field="channel"))
    return issues


def validate_post(
    session: Session,
    principal: Principal,
    workspace_id: int,
    post_id: int,
    *,
    registry: ProviderRegistry,
    cipher: CredentialCipher,
    http: httpx.Client | None = None,
) -> list[ChannelValidation]:
    authorize(session, principal, workspace_id, Permission.posts_write)
    post = _load_post(session, workspace_id, post_id)
    return validate_variants(session, post, registry=registry, cipher=cipher, http=http)


# --- approvals ----------------------------------------------------------------------------------


def _record(
    session: Session,
    post: Post,
    principal: Principal,
    stage: str,
    decision: ApprovalDecision,
    comment: str,
) -> PostApproval:
    approval = PostApproval(
        post_id=post.id,
        workspace_id=post.workspace_id,
        stage=stage,
        decision=decision.value,
        comment=comment,
        user_id=principal.user_id,
    )
    session.add(approval)
    return approval


def submit_post(
    session: Session, principal: Principal, workspace_id: int, post_id: int, comment: str = ""
) -> Post:
    authorize(session, principal, workspace_id, Permission.posts_write)
    post = _load_post(session, workspace_id, post_id, lock=True)
    if post.status != PostStatus.draft.value:
        raise Conflict(f"only drafts are submitted; this post is {post.status}", code="bad_state")
    stages = approval_stages(publishing_settings(session, workspace_id))
    post.status = PostStatus.pending_approval.value
    post.approval_step = 0
    post.updated_at = utcnow()
    _record(session, post, principal, stages[0], ApprovalDecision.submitted, comment)
    session.flush()
    return post


def approve_post(
    session: Session, principal: Principal, workspace_id: int, post_id: int, comment: str = ""
) -> Post:
    """Approve the current stage; the last stage's approval makes the post ``approved``."""
    authorize(session, principal, workspace_id, Permission.posts_approve)
    post = _load_post(session, workspace_id, post_id, lock=True)
    if post.status != PostStatus.pending_approval.value:
        raise Conflict(f"this post is {post.status}, not pending approval", code="bad_state")
    stages = approval_stages(publishing_settings(session, workspace_id))
    step = min(post.approval_step, len(stages) - 1)
    _record(session, post, principal, stages[step], ApprovalDecision.approved, comment)
    post.approval_step = step + 1
    if post.approval_step >= len(stages):
        post.status = PostStatus.approved.value
    post.updated_at = utcnow()
    session.flush()
    return post


def reject_post(
    session: Session, principal: Principal, workspace_id: int, post_id: int, comment: str
) -> Post:
    """Send the post back to its author as a draft, saying why."""
    authorize(session, principal, workspace_id, Permission.posts_approve)
    if not comment.strip():
        raise InvalidInput("say why the post is rejected", code="comment_required")
    post = _load_post(session, workspace_id, post_id, lock=True)
    if post.status not in (PostStatus.pending_approval.value, PostStatus.approved.value):
        raise Conflict(f"this post is {post.status}, not awaiting a decision", code="bad_state")
    stages = approval_stages(publishing_settings(session, workspace_id))
    step = min(post.approval_step, len(stages) - 1)
    _record(session, post, principal, stages[step], ApprovalDecision.rejected, comment)
    _back_to_draft(post)
    post.updated_at = utcnow()
    session.flush()
    return post


# --- scheduling ---------------------------------------------------------------------------------


def schedule_post(
    session: Session,
    principal: Principal,
    workspace_id: int,
    post_id: int,
    scheduled_at: dt.datetime,
    *,
    registry: ProviderRegistry,
    cipher: CredentialCipher,
    http: httpx.Client | None = None,
    now: dt.datetime | None = None,
) -> Post:
    """Schedule (or reschedule) a post: approved where the workspace requires it, every variant
    valid for its network, at a timezone-aware moment in the future."""
    authorize(session, principal, workspace_id, Permission.posts_publish)
    if scheduled_at.tzinfo is None or scheduled_at.utcoffset() is None:
        raise InvalidInput(
            "scheduled_at needs a time zone (for example 2030-01-31T09:00:00+01:00)",
            code="naive_datetime",
        )
    when = scheduled_at.astimezone(dt.UTC)
    if when <= (now or utcnow()):
        raise InvalidInput("scheduled_at is in the past", code="in_the_past")
    post = _load_post(session, workspace_id, post_id, lock=True)
    variants = _lock_variants(session, post)
    settings = publishing_settings(session, workspace_id)
    allowed = [PostStatus.approved.value, PostStatus.scheduled.value]
    if not settings.approval_required:
        allowed.append(PostStatus.draft.value)
    if post.status not in allowed:
        why = (
            "it needs approval first"
            if post.status in (PostStatus.draft.value, PostStatus.pending_approval.value)
            else f"it is {post.status}"
        )
        raise Conflict(f"this post cannot be scheduled: {why}", code="not_schedulable")
    if any(v.status not in _UNSENT for v in variants):
        raise Conflict("this post is already on its way", code="not_schedulable")
    results = validate_variants(session, post, registry=registry, cipher=cipher, http=http)
    problems = [r for r in results if not r.ok]
    if problems:
        raise InvalidInput(
            "some variants would be refused by their network: "
            + "; ".join(f"{r.network}: {r.issues[0].message}" for r in problems),
            code="validation_failed",
            channels=[r.model_dump() for r in problems],
        )
    post.status = PostStatus.scheduled.value
    post.scheduled_at = when
    for variant in variants:
        variant.status = VariantStatus.scheduled.value
        variant.due_at = when
        variant.updated_at = utcnow()
    post.updated_at = utcnow()
    session.flush()
    return post


_CANCELLABLE = (
    VariantStatus.draft.value,
    VariantStatus.scheduled.value,
    VariantStatus.queued.value,
    VariantStatus.waiting_channel.value,
)


def cancel_post(session: Session, principal: Principal, workspace_id: int, post_id: int) -> Post:
    """Stop what has not gone out. A variant already published stays published, and one whose
    outcome is being reconciled cannot be cancelled (it may be on the network already)."""
    authorize(session, principal, workspace_id, Permission.posts_publish)
    post = _load_post(session, workspace_id, post_id, lock=True)
    variants = _lock_variants(session, post)
    if post.status == PostStatus.cancelled.value:
        return post
    cancellable = [v for v in variants if v.status in _CANCELLABLE]
    if not cancellable:
        raise Conflict(f"nothing left to cancel: this post is {post.status}", code="bad_state")
    for variant in cancellable:
        variant.status = VariantStatus.cancelled.value
        variant.updated_at = utcnow()
    if all(v.status == VariantStatus.cancelled.value for v in variants):
        post.status = PostStatus.cancelled.value
    else:
        refresh_post_status(post, variants)
    post.updated_at = utcnow()
    session.flush()
    return post


def refresh_post_status(post: Post, variants: Sequence[PostVariant]) -> None:
    """A scheduled post's status from its variants' (callers hold the post's row lock)."""
    status = post_status(post.status, [v.status for v in variants])
    if post.status != status:
        post.status = status
        post.updated_at = utcnow()


def post_status(current: str, variant_states: Iterable[str]) -> str:
    """What a post's status is given its variants' statuses (``current``: its status now)."""
    live = set(variant_states) - {VariantStatus.cancelled.value}
    if not live:
        status = PostStatus.cancelled
    elif live & {VariantStatus.queued.value, VariantStatus.waiting_channel.value}:
        status = PostStatus.publishing
    elif VariantStatus.scheduled.value in live:
        started = live & {*FINAL, VariantStatus.unconfirmed.value}
        status = PostStatus.publishing if started else PostStatus.scheduled
    elif VariantStatus.unconfirmed.value in live:
        status = PostStatus.unconfirmed
    elif VariantStatus.failed.value in live:
        status = PostStatus.failed
    elif VariantStatus.draft.value in live:
        status = PostStatus(current)
    else:
        status = PostStatus.published
    return status.value


# --- composer and campaign pages (web UI) ---------------------------------------------------------


def check_variants(
    session: Session,
    principal: Principal,
    workspace_id: int,
    variants: Sequence[VariantIn],
    *,
    registry: ProviderRegistry,
    cipher: CredentialCipher,
    http: httpx.Client | None = None,
) -> list[ChannelValidation]:
    """Validate content that is not saved (the composer, as people type): the same checks as
    :func:`validate_post`, on throw-away variants that never reach the database."""
    authorize(session, principal, workspace_id, Permission.posts_write)
    channels = _channels(session, workspace_id, [v.channel_id for v in variants])
    results = []
    for data in variants:
        variant = PostVariant(
            workspace_id=workspace_id,
            channel_id=data.channel_id,
            network=channels[data.channel_id].network,
            text=data.text,
            media=list(data.media),
            first_comment=data.first_comment or None,
            thread=list(data.thread),
            idempotency_key="check",
        )
        issues = _variant_issues(session, variant, registry=registry, cipher=cipher, http=http)
        results.append(
            ChannelValidation(
                channel_id=data.channel_id, network=variant.network, ok=not issues, issues=issues
            )
        )
    return results


def get_campaign(
    session: Session, principal: Principal, workspace_id: int, campaign_id: int
) -> Campaign:
    authorize(session, principal, workspace_id, Permission.posts_read)
    campaign = session.get(Campaign, campaign_id)
    if campaign is None or campaign.workspace_id != workspace_id:
        raise NotFound("campaign not found")
    return campaign


def update_campaign(
    session: Session,
    principal: Principal,
    workspace_id: int,
    campaign_id: int,
    data: CampaignCreate,
) -> Campaign:
    """Replace a campaign's name, goal, dates, budget and default UTM tags."""
    authorize(session, principal, workspace_id, Permission.posts_write)
    campaign = get_campaign(session, principal, workspace_id, campaign_id)
    clash = session.scalar(
        select(Campaign.id).where(
            Campaign.workspace_id == workspace_id,
            Campaign.name == data.name,
            Campaign.id != campaign_id,
        )
    )
    if clash is not None:
        raise Conflict(f"a campaign named {data.name!r} exists already", code="campaign_exists")
    campaign.name = data.name
    campaign.description = data.description
    campaign.goal = data.goal
    campaign.starts_on = data.starts_on
    campaign.ends_on = data.ends_on
    campaign.budget = data.budget
    campaign.currency = data.currency
    campaign.utm = dict(data.utm)
    session.flush()
    return campaign
