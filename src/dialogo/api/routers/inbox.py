"""Inbox API: conversations, their messages, assignment, status, tags, notes, replies, the
quarantine of malformed inbound items, and the workspace's inbox settings."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, status
from sqlalchemy.orm import Session

from dialogo.accounts.permissions import Permission
from dialogo.api.deps import CurrentPrincipal, Db
from dialogo.api.routers.accounts import needs
from dialogo.inbox import customer
from dialogo.inbox import service as inbox
from dialogo.inbox.models import Conversation
from dialogo.inbox.schemas import (
    AssignIn,
    ContactHistoryOut,
    ConversationDetail,
    ConversationFilters,
    ConversationOut,
    CustomerConversationOut,
    IdentityOut,
    InboxSettingsIn,
    InboxSettingsOut,
    MemberHandleOut,
    MessageOut,
    NoteIn,
    NoteOut,
    QuarantineOut,
    ReplyIn,
    ReplyOut,
    ResponseStatsOut,
    RuleIn,
    RuleOut,
    SavedReplyIn,
    SavedReplyOut,
    SentimentPointOut,
    StatusIn,
    TagIn,
    TimeStatsOut,
)

router = APIRouter(prefix="/api/v1/workspaces/{workspace_id}", tags=["inbox"])


def _out(session: Session, conversation: Conversation) -> ConversationOut:
    out = ConversationOut.model_validate(conversation)
    out.tags = inbox.tags_of(session, [conversation.id])[conversation.id]
    return out


def _detail(session: Session, conversation: Conversation) -> ConversationDetail:
    out = ConversationDetail.model_validate(conversation)
    out.tags = inbox.tags_of(session, [conversation.id])[conversation.id]
    out.messages = [MessageOut.model_validate(m) for m in inbox.messages_of(session, conversation)]
    out.notes = [NoteOut.model_validate(n) for n in inbox.notes_of(session, conversation)]
    out.replies = [ReplyOut.model_validate(r) for r in inbox.replies_of(session, conversation)]
    return out


@router.get(
    "/conversations",
    operation_id="list_conversations",
    response_model=list[ConversationOut],
    openapi_extra=needs(Permission.inbox_read),
)
def list_conversations(
    workspace_id: int,
    principal: CurrentPrincipal,
    session: Db,
    status_: Annotated[
        Literal["active", "open", "pending", "snoozed", "closed"] | None, Query(alias="status")
    ] = "active",
    assignee: Annotated[Literal["me", "unassigned"] | None, Query()] = None,
    assignee_id: Annotated[int | None, Query()] = None,
    channel_id: Annotated[int | None, Query()] = None,
    tag: Annotated[str | None, Query(max_length=60)] = None,
    q: Annotated[str | None, Query(max_length=200)] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> Any:
    """By priority (stored reasons), then longest waiting. ``status=active``: open ones and
    snoozed ones whose time came."""
    filters = ConversationFilters(
        status=status_,
        assignee=assignee,
        assignee_id=assignee_id,
        channel_id=channel_id,
        tag=tag,
        q=q,
        limit=limit,
        offset=offset,
    )
    listed = inbox.list_conversations(session, principal, workspace_id, filters)
    tags = inbox.tags_of(session, [c.id for c in listed])
    out = []
    for c in listed:
        item = ConversationOut.model_validate(c)
        item.tags = tags.get(c.id, [])
        out.append(item)
    return out


@router.get(
    "/conversations/{conversation_id}",
    operation_id="get_conversation",
    response_model=ConversationDetail,
    openapi_extra=needs(Permission.inbox_read),
)
def get_conversation(
    workspace_id: int, conversation_id: int, principal: CurrentPrincipal, session: Db
) -> Any:
    return _detail(
        session, inbox.get_conversation(session, principal, workspace_id, conversation_id)
    )


@router.post(
    "/conversations/{conversation_id}/assign",
    operation_id="assign_conversation",
    response_model=ConversationOut,
    openapi_extra=needs(Permission.inbox_assign),
)
def assign_conversation(
    workspace_id: int,
    conversation_id: int,
    body: AssignIn,
    principal: CurrentPrincipal,
    session: Db,
) -> Any:
    """To a member who may reply, to nobody (``assignee_id: null``), or to the next member
    in turn (``round_robin: true``)."""
    if body.round_robin:
        conv = inbox.assign_round_robin(session, principal, workspace_id, conversation_id)
    else:
        conv = inbox.assign(session, principal, workspace_id, conversation_id, body.assignee_id)
    return _out(session, conv)


@router.post(
    "/conversations/{conversation_id}/status",
    operation_id="set_conversation_status",
    response_model=ConversationOut,
    openapi_extra=needs(Permission.inbox_reply),
)
def set_conversation_status(
    workspace_id: int,
    conversation_id: int,
    body: StatusIn,
    principal: CurrentPrincipal,
    session: Db,
) -> Any:
    conv = inbox.set_status(
        session,
        principal,
        workspace_id,
        conversation_id,
        body.status,
        snoozed_until=body.snoozed_until,
    )
    return _out(session, conv)


@router.post(
    "/conversations/{conversation_id}/tags",
    operation_id="add_conversation_tag",
    response_model=list[str],
    openapi_extra=needs(Permission.inbox_reply),
)
def add_conversation_tag(
    workspace_id: int, conversation_id: int, body: TagIn, principal: CurrentPrincipal, session: Db
) -> Any:
    return inbox.add_tag(session, principal, workspace_id, conversation_id, body.tag)


@router.delete(
    "/conversations/{conversation_id}/tags/{tag}",
    operation_id="remove_conversation_tag",
    response_model=list[str],
    openapi_extra=needs(Permission.inbox_reply),
)
def remove_conversation_tag(
    workspace_id: int, conversation_id: int, tag: str, principal: CurrentPrincipal, session: Db
) -> Any:
    return inbox.remove_tag(session, principal, workspace_id, conversation_id, tag)


@router.post(
    "/conversations/{conversation_id}/notes",
    operation_id="add_conversation_note",
    response_model=NoteOut,
    status_code=status.HTTP_201_CREATED,
    openapi_extra=needs(Permission.inbox_reply),
)
def add_conversation_note(
    workspace_id: int, conversation_id: int, body: NoteIn, principal: CurrentPrincipal, session: Db
) -> Any:
    return inbox.add_note(session, principal, workspace_id, conversation_id, body.body)


@router.post(
    "/conversations/{conversation_id}/replies",
    operation_id="create_reply",
    response_model=ReplyOut,
    status_code=status.HTTP_202_ACCEPTED,
    openapi_extra=needs(Permission.inbox_reply),
)
def create_reply(
    workspace_id: int,
    conversation_id: int,
    body: ReplyIn,
    principal: CurrentPrincipal,
    session: Db,
) -> Any:
    """Queued: a job sends it through the network as a reply in the thread, exactly once
    (the same ``idempotency_key`` again returns the first reply)."""
    return inbox.create_reply(
        session,
        principal,
        workspace_id,
        conversation_id,
        body.text,
        in_reply_to_id=body.in_reply_to_id,
        idempotency_key=body.idempotency_key,
    )


@router.get(
    "/inbox/quarantine",
    operation_id="list_inbox_quarantine",
    response_model=list[QuarantineOut],
    openapi_extra=needs(Permission.channels_manage),
)
def list_inbox_quarantine(
    workspace_id: int,
    principal: CurrentPrincipal,
    session: Db,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> Any:
    """Inbound items a network sent that could not be stored, with the reason (admins)."""
    return inbox.list_quarantine(session, principal, workspace_id, limit=limit)


@router.get(
    "/inbox/settings",
    operation_id="get_inbox_settings",
    response_model=InboxSettingsOut,
    openapi_extra=needs(Permission.inbox_read),
)
def get_inbox_settings(workspace_id: int, principal: CurrentPrincipal, session: Db) -> Any:
    return inbox.get_settings(session, principal, workspace_id)


@router.put(
    "/inbox/settings",
    operation_id="update_inbox_settings",
    response_model=InboxSettingsOut,
    openapi_extra=needs(Permission.workspace_update),
)
def update_inbox_settings(
    workspace_id: int, body: InboxSettingsIn, principal: CurrentPrincipal, session: Db
) -> Any:
    """Response-time targets (minutes of business hours) and business hours per weekday, in
    the workspace's time zone."""
    return inbox.update_settings(session, principal, workspace_id, body)


@router.get(
    "/inbox/stats",
    operation_id="get_inbox_stats",
    response_model=ResponseStatsOut,
    openapi_extra=needs(Permission.inbox_read),
)
def get_inbox_stats(
    workspace_id: int,
    principal: CurrentPrincipal,
    session: Db,
    since: Annotated[dt.datetime | None, Query()] = None,
) -> Any:
    """First-response and resolution times in seconds of business hours (the workspace's
    hours and time zone), and the share within the targets."""
    found = inbox.response_stats(session, principal, workspace_id, since=since)
    return ResponseStatsOut(
        first_response=TimeStatsOut(**found.first_response.as_dict()),
        resolution=TimeStatsOut(**found.resolution.as_dict()),
        timezone=found.timezone,
        business_hours=found.business_hours,
    )


@router.get(
    "/contacts/{contact_id}/history",
    operation_id="get_contact_history",
    response_model=ContactHistoryOut,
    openapi_extra=needs(Permission.inbox_read),
)
def get_contact_history(
    workspace_id: int, contact_id: int, principal: CurrentPrincipal, session: Db
) -> Any:
    """One person's history across channels: their identities, every conversation with its
    messages (most recent conversation first), the team's notes and tags on them, and the
    sentiment of what they wrote over time."""
    found = customer.customer_history(session, principal, workspace_id, contact_id)
    conversations = []
    for c in found.conversations:
        item = CustomerConversationOut.model_validate(c)
        item.tags = found.tags.get(c.id, [])
        item.messages = [MessageOut.model_validate(m) for m in found.messages.get(c.id, [])]
        conversations.append(item)
    return ContactHistoryOut(
        id=found.contact.id,
        display_name=found.contact.display_name,
        identities=[IdentityOut.model_validate(i) for i in found.identities],
        conversations=conversations,
        notes=[NoteOut.model_validate(n) for n in found.notes],
        tags=found.all_tags,
        sentiment=[
            SentimentPointOut(at=p.at, sentiment=p.sentiment, message_id=p.message_id)
            for p in found.sentiment
        ],
        average_sentiment=found.average_sentiment,
    )


@router.get(
    "/inbox/rules",
    operation_id="list_inbox_rules",
    response_model=list[RuleOut],
    openapi_extra=needs(Permission.inbox_read),
)
def list_inbox_rules(workspace_id: int, principal: CurrentPrincipal, session: Db) -> Any:
    """In evaluation order: by ``position``, then id (see ``dialogo.inbox.rules``)."""
    return inbox.list_rules(session, principal, workspace_id)


@router.post(
    "/inbox/rules",
    operation_id="create_inbox_rule",
    response_model=RuleOut,
    status_code=status.HTTP_201_CREATED,
    openapi_extra=needs(Permission.workspace_update),
)
def create_inbox_rule(
    workspace_id: int, body: RuleIn, principal: CurrentPrincipal, session: Db
) -> Any:
    """Conditions (``channel_id``, ``kind``, ``language``, ``words``, ``sentiment_below``,
    ``followers_at_least``, ``question``, ``complaint``; all must hold) → actions (``tag``,
    ``assign_to``, ``priority``, ``close``, ``acknowledge``). Rules send nothing, except
    ``acknowledge`` (a saved reply's id) once the workspace turned automated acknowledgements
    on in its inbox settings: then that reply goes out once per conversation, labelled as
    automated."""
    return inbox.create_rule(
        session,
        principal,
        workspace_id,
        name=body.name,
        conditions=body.conditions,
        actions=body.actions,
        position=body.position,
        stop=body.stop,
        enabled=body.enabled,
    )


@router.put(
    "/inbox/rules/{rule_id}",
    operation_id="update_inbox_rule",
    response_model=RuleOut,
    openapi_extra=needs(Permission.workspace_update),
)
def update_inbox_rule(
    workspace_id: int, rule_id: int, body: RuleIn, principal: CurrentPrincipal, session: Db
) -> Any:
    return inbox.update_rule(
        session,
        principal,
        workspace_id,
        rule_id,
        name=body.name,
        conditions=body.conditions,
        actions=body.actions,
        position=body.position,
        stop=body.stop,
        enabled=body.enabled,
    )


@router.delete(
    "/inbox/rules/{rule_id}",
    operation_id="delete_inbox_rule",
    status_code=status.HTTP_204_NO_CONTENT,
    openapi_extra=needs(Permission.workspace_update),
)
def delete_inbox_rule(
    workspace_id: int, rule_id: int, principal: CurrentPrincipal, session: Db
) -> None:
    inbox.delete_rule(session, principal, workspace_id, rule_id)


@router.get(
    "/inbox/saved-replies",
    operation_id="list_saved_replies",
    response_model=list[SavedReplyOut],
    openapi_extra=needs(Permission.inbox_read),
)
def list_saved_replies(workspace_id: int, principal: CurrentPrincipal, session: Db) -> Any:
    return inbox.list_saved_replies(session, principal, workspace_id)


@router.post(
    "/inbox/saved-replies",
    operation_id="create_saved_reply",
    response_model=SavedReplyOut,
    status_code=status.HTTP_201_CREATED,
    openapi_extra=needs(Permission.inbox_reply),
)
def create_saved_reply(
    workspace_id: int, body: SavedReplyIn, principal: CurrentPrincipal, session: Db
) -> Any:
    """A reusable text with ``{name}``, ``{handle}``, ``{agent}``, ``{brand}``; also what an
    acknowledgement rule sends (without ``{agent}``)."""
    return inbox.create_saved_reply(session, principal, workspace_id, body.name, body.body)


@router.get(
    "/inbox/mentionable",
    operation_id="list_mentionable_members",
    response_model=list[MemberHandleOut],
    openapi_extra=needs(Permission.inbox_read),
)
def list_mentionable_members(
    workspace_id: int,
    principal: CurrentPrincipal,
    session: Db,
    q: Annotated[str | None, Query(max_length=100)] = None,
) -> Any:
    """Members a note can mention, as ``@handle`` (``q``: handles or names starting with it)."""
    return [
        MemberHandleOut(user_id=u.id, handle=h, name=u.name)
        for u, h in inbox.mentionable(session, principal, workspace_id, q)
    ]
