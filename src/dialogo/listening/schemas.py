"""Pydantic models in and out of the listening services."""

from __future__ import annotations

import datetime as dt
import re
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from dialogo.listening.mail import ADDRESS_RE

QueryKindName = Literal["brand", "competitor", "topic"]
LabelName = Literal["negative", "neutral", "positive"]


class QueryCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=200)
    query: str = Field(min_length=1, max_length=2000)
    kind: QueryKindName = "brand"
    active: bool = True


class QueryUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(default=None, min_length=1, max_length=200)
    query: str | None = Field(default=None, min_length=1, max_length=2000)
    kind: QueryKindName | None = None
    active: bool | None = None


class QueryOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    workspace_id: int
    name: str
    query: str
    kind: str
    active: bool
    created_at: dt.datetime


class MentionIn(BaseModel):
    """One mention pushed to the intake or read from an import file."""

    model_config = ConfigDict(extra="ignore")

    id: str = Field(min_length=1, max_length=512, description="the post's id on its network")
    text: str = Field(max_length=100_000)
    posted_at: dt.datetime
    channel: str = Field(default="import", min_length=1, max_length=64)
    author: str = Field(default="", max_length=255)
    author_name: str = Field(default="", max_length=255)
    reach: int = Field(default=0, ge=0)
    url: str | None = Field(default=None, max_length=2048)
    language: str | None = Field(default=None, max_length=16)


class MentionOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    channel: str
    remote_id: str
    source: str
    author_handle: str
    author_name: str
    reach: int
    text: str
    url: str | None
    posted_at: dt.datetime
    language: str
    sentiment: float
    label: str
    corrected_label: str | None
    final_label: str
    is_question: bool
    is_complaint: bool
    topics: list[str]
    # Plutchik's emotions an emotion model found ([]: none); null where no model judged it.
    emotions: list[str] | None = None


class LabelCorrection(BaseModel):
    model_config = ConfigDict(extra="forbid")

    label: LabelName


class IngestResult(BaseModel):
    received: int = 0
    stored: int = 0
    duplicates: int = 0
    unmatched: int = 0
    matches: int = 0
    errors: list[str] = Field(default_factory=list)


class ImportRowError(BaseModel):
    row: int  # 1-based: the data row (CSV: the header is row 0) or the JSON/JSONL item
    message: str


class ReputationPoint(BaseModel):
    start: dt.datetime
    volume: int
    net: float
    weighted: float
    negative_share: float


class QueryReputation(BaseModel):
    query_id: int
    name: str
    kind: str
    volume: int
    positive: int
    negative: int
    net: float
    weighted: float
    share_of_voice: float
    points: list[ReputationPoint]


class Reputation(BaseModel):
    start: dt.datetime
    end: dt.datetime
    bucket: Literal["hour", "day"]
    queries: list[QueryReputation]


class AlertTargetCreate(BaseModel):
    """A signed webhook (``target`` an http(s) URL, ``secret`` its HMAC key of 16+ characters)
    or an e-mail address (``kind="email"``, no secret)."""

    model_config = ConfigDict(extra="forbid")

    kind: Literal["webhook", "email"] = "webhook"
    target: str = Field(min_length=3, max_length=2048)
    secret: str = Field(default="", max_length=128)

    @model_validator(mode="after")
    def _check(self) -> AlertTargetCreate:
        if self.kind == "webhook":
            if not re.match(r"^https?://\S{4,}$", self.target):
                raise ValueError("a webhook target must be an http(s) URL")
            if len(self.secret) < 16:
                raise ValueError("a webhook needs a secret of at least 16 characters")
        else:
            self.target = self.target.strip()
            if not ADDRESS_RE.match(self.target) or len(self.target) > 254:
                raise ValueError("not an e-mail address")
            if self.secret:
                raise ValueError("an e-mail target takes no secret")
        return self


class AlertOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    query_id: int
    kind: str
    window_start: dt.datetime
    observed: float
    expected: float
    threshold: float
    created_at: dt.datetime


class ChangeOut(BaseModel):
    """A term, topic or author: its count in the alert's hour and its share there against the
    baseline weeks (``lift``: how many times more usual it is now)."""

    model_config = ConfigDict(from_attributes=True)

    key: str
    count: int
    share: float
    baseline_share: float
    lift: float


class CrisisHour(BaseModel):
    start: dt.datetime
    volume: int
    negative: int
    expected: float  # the baseline volume of that hour of the week


class CrisisOut(BaseModel):
    """An alert explained: the hours before it against their baseline, the mentions behind it
    (negative first, then by reach), and what they say more than usual."""

    alert: AlertOut
    query: QueryOut
    weeks: int  # the baseline: this many weeks before the alert's hour
    hours: list[CrisisHour]
    window_volume: int
    window_negative_share: float
    baseline_volume: int
    baseline_negative_share: float
    terms: list[ChangeOut]
    topics: list[ChangeOut]
    authors: list[ChangeOut]
    mentions: list[MentionOut]


class TopicClusterOut(BaseModel):
    label: str
    terms: list[str]
    size: int
    negative_share: float
    net: float
    examples: list[MentionOut]


class NamedOut(BaseModel):
    name: str
    kind: str  # brand, competitor or product
    mentions: int


class TopicsOut(BaseModel):
    """The latest mentions clustered into topics, and the brands and products they name."""

    mentions: int
    days: int
    clusters: list[TopicClusterOut]
    names: list[NamedOut]


class LabelRequestOut(BaseModel):
    mention: MentionOut
    uncertainty: float  # 0..1: how unsure the model is
    suggestion: str  # the label the model would give


class LabelRequestsOut(BaseModel):
    """The mentions whose label would teach the model most (active learning), and which model
    chose them: ``corrections`` (trained on the team's labels) or ``lexicon`` (until there are
    enough of them). Label one with ``PUT …/mentions/{id}/label``."""

    source: Literal["corrections", "lexicon"]
    items: list[LabelRequestOut]
