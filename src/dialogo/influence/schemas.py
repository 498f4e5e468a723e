"""Word-of-mouth API shapes (Pydantic)."""

from __future__ import annotations

import datetime as dt
from typing import Literal

from pydantic import BaseModel, Field


class GraphOut(BaseModel):
    nodes: int
    arcs: int
    follows: int
    replies: int
    mentions: int
    reposts: int
    observed_arcs: int
    computed_at: dt.datetime | None = None


class RankedOut(BaseModel):
    contact_id: int
    display_name: str
    handle: str
    rank: int
    score: float
    followers: int
    engagement: int
    pagerank: float
    core: int
    topic_relevance: float
    out_degree: int
    in_degree: int
    topics: dict[str, float]


class RankingPage(BaseModel):
    total: int
    items: list[RankedOut]


class AdvocatesIn(BaseModel):
    k: int = Field(ge=1, le=200)
    model: Literal["ic", "lt"] = "ic"
    exclude: list[int] = Field(default_factory=list, max_length=10_000)
    exclude_segment: str | None = Field(default=None, max_length=4000)
    runs: int = Field(default=2000, ge=100, le=20_000)
    seed: int = 0


class AdvocateOut(BaseModel):
    contact: RankedOut
    order: int
    alone: float
    marginal: float
    cumulative: float


class AdvocatePlanOut(BaseModel):
    model: str
    k: int
    nodes: int
    arcs: int
    spread: float
    low: float
    high: float
    runs: int
    rr_sets: int
    excluded: int
    advocates: list[AdvocateOut]


class UgcCandidateOut(BaseModel):
    item_key: str
    source: Literal["inbox", "listening"]
    author_handle: str
    author_name: str
    contact_id: int | None
    conversation_id: int | None
    text: str
    url: str | None
    posted_at: dt.datetime
    sentiment: float
    media: bool
    request_id: int | None
    status: str | None


class UgcRequestIn(BaseModel):
    item_key: str = Field(min_length=1, max_length=40)
    request_text: str = Field(min_length=1, max_length=4000)


class UgcAnswerIn(BaseModel):
    status: Literal["granted", "refused"]
    rights: str = Field(default="", max_length=4000)


class UgcRequestOut(BaseModel):
    model_config = {"from_attributes": True}

    id: int
    item_key: str
    message_id: int | None
    mention_id: int | None
    contact_id: int | None
    author_handle: str
    url: str | None
    text: str
    request_text: str
    status: Literal["requested", "granted", "refused"]
    rights: str
    requested_by: int | None
    requested_at: dt.datetime
    decided_at: dt.datetime | None
