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
