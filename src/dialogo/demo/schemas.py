"""What-if input and output models (the planned campaign, the forecast)."""

from __future__ import annotations

import datetime as dt

from pydantic import BaseModel, ConfigDict, Field, field_validator

from dialogo.simulation.taxonomy import TOPICS

MAX_POSTS = 20
MAX_ADVOCATES = 50


class WhatIfPost(BaseModel):
    model_config = ConfigDict(extra="forbid")

    at: dt.datetime = Field(description="When it is published (with a time zone).")
    topic: str = Field(description=f"One of: {', '.join(TOPICS)}.")
    media: bool = False
    link: bool = True
    language: str = Field(default="it", pattern=r"^(it|en)$")
    budget_eur: float | None = Field(
        default=None, ge=0, le=100_000, description="Paid budget of this post (None: a share)."
    )

    @field_validator("at")
    @classmethod
    def _aware(cls, value: dt.datetime) -> dt.datetime:
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError("needs a time zone (for example 2030-01-31T09:00:00+01:00)")
        return value.astimezone(dt.UTC)

    @field_validator("topic")
    @classmethod
    def _known_topic(cls, value: str) -> str:
        if value not in TOPICS:
            raise ValueError(f"unknown topic {value!r}; use one of {', '.join(TOPICS)}")
        return value


class WhatIfIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    posts: list[WhatIfPost] = Field(min_length=1, max_length=MAX_POSTS)
    advocates: list[str] = Field(
        default_factory=list,
        max_length=MAX_ADVOCATES,
        description="Handles of sandbox people asked to share every post.",
    )
    budget_eur: float = Field(default=0.0, ge=0, le=1_000_000)
    segments: list[str] | None = Field(
        default=None, description="Show the paid budget only to these segments (keys)."
    )
    runs: int = Field(default=100, ge=10, le=500, description="Monte Carlo runs.")


class IntervalOut(BaseModel):
    low: float = Field(description="10th percentile")
    median: float
    high: float = Field(description="90th percentile")
    mean: float


class WhatIfOut(BaseModel):
    channel_id: int
    runs: int
    quantiles: list[float]
    totals: dict[str, IntervalOut]
    per_post: list[dict[str, IntervalOut]]
    advocates: list[str]
