"""Inbox in/out models (Pydantic)."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from dialogo.inbox.models import ConversationStatus

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_HHMM = re.compile(r"^([01]\d|2[0-3]):[0-5]\d$|^24:00$")


class ConversationFilters(BaseModel):
    # "active": open, plus snoozed ones whose time came; or one status; None: all.
    status: Literal["active", "open", "pending", "snoozed", "closed"] | None = "active"
    assignee: Literal["me", "unassigned"] | None = None
    assignee_id: int | None = None
    channel_id: int | None = None
    tag: str | None = Field(default=None, max_length=60)
    q: str | None = Field(default=None, max_length=200)
    limit: int = Field(default=50, ge=1, le=200)
    offset: int = Field(default=0, ge=0)


class Interval(BaseModel):
    start: str
    end: str

    @field_validator("start", "end")
    @classmethod
    def _hhmm(cls, value: str) -> str:
        if not _HHMM.match(value):
            raise ValueError("use HH:MM (00:00–24:00)")
        return value

    @model_validator(mode="after")
    def _ordered(self) -> Interval:
        if self.start >= self.end:
            raise ValueError("an interval ends after it starts")
        return self


class InboxSettingsIn(BaseModel):
    first_response_minutes: int = Field(default=60, ge=1, le=60 * 24 * 30)
    resolution_minutes: int = Field(default=24 * 60, ge=1, le=60 * 24 * 90)
    # Days missing are closed; an empty dict means always open.
    business_hours: dict[
        Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"], list[Interval]
    ] = Field(default_factory=dict)
    # Automated acknowledgements (rules with an ``acknowledge`` action): off unless turned on.
    auto_ack_enabled: bool = False
    # Added to every acknowledgement; empty: the default, in the workspace's language.
    ack_disclosure: str | None = Field(default=None, max_length=300)

    def business_hours_json(self) -> dict[str, Any]:
        return {
            day: [[i.start, i.end] for i in sorted(intervals, key=lambda i: i.start)]
            for day, intervals in self.business_hours.items()
        }


class InboxSettingsOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    workspace_id: int
    first_response_minutes: int
    resolution_minutes: int
    business_hours: dict[str, Any]
    auto_ack_enabled: bool
    ack_disclosure: str | None


class ConversationOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    workspace_id: int
    channel_id: int
    network: str
    kind: str
    contact_id: int | None
    status: str
    snoozed_until: dt.datetime | None
    assignee_id: int | None
    priority: int
    priority_reasons: list[str]
    preview: str
    message_count: int
    first_message_at: dt.datetime | None
    last_message_at: dt.datetime | None
    waiting_since: dt.datetime | None
    first_response_at: dt.datetime | None
    resolved_at: dt.datetime | None
    tags: list[str] = []


class MessageOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    remote_id: str
    direction: str
    kind: str
    author_handle: str
    author_name: str
    text: str
    url: str | None
    created_at: dt.datetime
    language: str | None
    sentiment: float | None
    is_question: bool
    is_complaint: bool
    sent_by: int | None
    automated: bool = False  # an automated acknowledgement, not written by a person
    deleted_at: dt.datetime | None = None  # its author deleted it on the network


class MentionOut(BaseModel):
    user_id: int
    text: str  # the handle as written after ``@``


class MemberHandleOut(BaseModel):
    user_id: int
    handle: str  # mention as ``@handle``
    name: str


class NoteOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    author_id: int | None
    body: str
    mentions: list[MentionOut] = []
    created_at: dt.datetime


class ReplyOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    conversation_id: int
    agent_id: int | None
    text: str
    status: str
    automated: bool = False  # sent by an acknowledgement rule, not by a person
    copy_score: float
    remote_id: str | None
    url: str | None
    last_error: str | None
    created_at: dt.datetime
    sent_at: dt.datetime | None


class ConversationDetail(ConversationOut):
    messages: list[MessageOut] = []
    notes: list[NoteOut] = []
    replies: list[ReplyOut] = []


class AssignIn(BaseModel):
    # None with round_robin=False: unassign.
    assignee_id: int | None = None
    round_robin: bool = False


class StatusIn(BaseModel):
    status: ConversationStatus
    snoozed_until: dt.datetime | None = None


class TagIn(BaseModel):
    tag: str = Field(min_length=1, max_length=60)


class NoteIn(BaseModel):
    body: str = Field(min_length=1, max_length=10_000)


class ReplyIn(BaseModel):
    text: str = Field(min_length=1, max_length=10_000)
    in_reply_to_id: int | None = None
    idempotency_key: str | None = Field(default=None, min_length=8, max_length=64)


class QuarantineOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    channel_id: int | None
    remote_id: str | None
    reason: str
    payload: dict[str, Any]
    created_at: dt.datetime


class IngestOut(BaseModel):
    channels: int
    received: int
    stored: int
    duplicates: int
    quarantined: int


class SavedReplyIn(BaseModel):
    name: str = Field(min_length=1, max_length=120)
    body: str = Field(min_length=1, max_length=10_000)


class SavedReplyOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    name: str
    body: str


class TimeStatsOut(BaseModel):
    count: int
    median_seconds: float | None
    p90_seconds: float | None
    mean_seconds: float | None
    within_target: float | None


class ResponseStatsOut(BaseModel):
    first_response: TimeStatsOut
    resolution: TimeStatsOut
    timezone: str
    business_hours: bool


class IdentityOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    network: str
    remote_id: str
    handle: str
    display_name: str
    followers: int | None


class SentimentPointOut(BaseModel):
    at: dt.datetime
    sentiment: float
    message_id: int


class CustomerConversationOut(ConversationOut):
    messages: list[MessageOut] = []


class ContactHistoryOut(BaseModel):
    id: int
    display_name: str
    identities: list[IdentityOut]
    conversations: list[CustomerConversationOut]
    notes: list[NoteOut]
    tags: list[str]
    sentiment: list[SentimentPointOut]
    average_sentiment: float | None


class RuleIn(BaseModel):
    """See :mod:`dialogo.inbox.rules` for the conditions, the actions and the order."""

    name: str = Field(min_length=1, max_length=120)
    position: int = Field(default=0, ge=-1_000_000, le=1_000_000)
    enabled: bool = True
    stop: bool = False
    conditions: dict[str, Any] = {}
    actions: dict[str, Any]


class RuleOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    name: str
    position: int
    enabled: bool
    stop: bool
    conditions: dict[str, Any]
    actions: dict[str, Any]
    created_at: dt.datetime
