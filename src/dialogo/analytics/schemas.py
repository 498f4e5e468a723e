"""Measurement input and output models."""

from __future__ import annotations

import datetime as dt
import decimal
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

UTM_KEYS = ("utm_source", "utm_medium", "utm_campaign", "utm_content", "utm_term")


class LinkCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    url: str = Field(min_length=8, max_length=1500)
    campaign_id: int | None = None
    channel_id: int | None = None
    post_id: int | None = None
    paid: bool = False
    utm: dict[str, str | None] = Field(default_factory=dict)

    @field_validator("utm")
    @classmethod
    def _utm_keys(cls, value: dict[str, str | None]) -> dict[str, str | None]:
        unknown = sorted(set(value) - set(UTM_KEYS))
        if unknown:
            raise ValueError(f"unknown UTM tags {unknown}; use {list(UTM_KEYS)}")
        return value


class LinkOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    code: str
    destination: str
    utm: dict[str, Any]
    campaign_id: int | None
    channel_id: int | None
    post_id: int | None
    created_at: dt.datetime
    short_url: str = ""
    clicks: int = 0
    rejected: int = 0
    unique_visitors: int = 0


class ConversionIn(BaseModel):
    """One order. ``link`` (a short link code) ties it to a campaign, channel and post; else
    give them directly, or nothing (a conversion nobody can be credited with still counts)."""

    model_config = ConfigDict(extra="forbid")

    order_id: str = Field(min_length=1, max_length=200)
    value: decimal.Decimal = Field(ge=0, max_digits=14, decimal_places=2)
    currency: str = Field(default="EUR", pattern=r"^[A-Z]{3}$")
    occurred_at: dt.datetime | None = None
    link: str | None = Field(default=None, max_length=32)
    campaign_id: int | None = None
    channel_id: int | None = None
    post_id: int | None = None

    @field_validator("occurred_at")
    @classmethod
    def _aware(cls, value: dt.datetime | None) -> dt.datetime | None:
        if value is not None and value.tzinfo is None:
            raise ValueError("occurred_at needs a time zone (e.g. 2026-05-01T10:00:00Z)")
        return value


class ConversionOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    source: str
    external_id: str
    occurred_at: dt.datetime
    value: decimal.Decimal
    currency: str
    link_id: int | None
    campaign_id: int | None
    channel_id: int | None
    post_id: int | None


class SpendIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    day: dt.date
    amount: decimal.Decimal = Field(ge=0, max_digits=14, decimal_places=2)
    currency: str = Field(default="EUR", pattern=r"^[A-Z]{3}$")
    campaign_id: int | None = None
    channel_id: int | None = None
    post_id: int | None = None
    note: str = Field(default="", max_length=2000)


class SpendOut(SpendIn):
    model_config = ConfigDict(from_attributes=True, extra="ignore")

    id: int
    source: str


class ImportReport(BaseModel):
    imported: int
    skipped_existing: int = 0


class RoiRow(BaseModel):
    key: str
    id: int | None
    name: str
    spend: float
    revenue: float
    conversions: int
    clicks: int
    roi: float | None
    roas: float | None
    cpa: float | None


class Attribution(BaseModel):
    channels: list[str]
    models: dict[str, dict[str, float]]
    journeys: int
    conversions: int


class DailyPoint(BaseModel):
    day: dt.date
    impressions: int
    reach: int
    engagements: int
    clicks: int


class PostPerformance(BaseModel):
    variant_id: int
    post_id: int
    channel_id: int | None
    network: str
    text: str
    published_at: dt.datetime | None
    impressions: int
    reach: int
    engagements: int
    engagement_rate_reach: float | None
    engagement_rate_followers: float | None


class Dashboard(BaseModel):
    days: int
    totals: dict[str, float]
    daily: list[DailyPoint]
    top_posts: list[PostPerformance]
    campaigns: list[RoiRow]


class SlotOut(BaseModel):
    weekday: int
    hour: int
    score: float
    low: float
    high: float
    p_best: float


class BestTimeOut(BaseModel):
    channel_id: int | None
    timezone: str
    observations: int
    slots: list[SlotOut]


# -- A/B tests -------------------------------------------------------------------------------------


class AbArmIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=64)
    weight: float = Field(default=1.0, gt=0, le=1000)
    variant_id: int | None = None
    trials: int = Field(default=0, ge=0)
    successes: int = Field(default=0, ge=0)


class AbTestCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=200)
    metric: str = Field(default="clicks", pattern="^(clicks|likes|replies|reposts|engagements)$")
    arms: list[AbArmIn] = Field(min_length=2, max_length=10)
    loss_threshold: float = Field(default=0.001, gt=0, lt=1)
    alpha: float = Field(default=0.05, gt=0, lt=1)
    power: float = Field(default=0.8, gt=0, lt=1)
    min_effect: float = Field(default=0.1, gt=0, le=10)


class AbCounts(BaseModel):
    model_config = ConfigDict(extra="forbid")

    successes: int = Field(ge=0)
    trials: int = Field(ge=0)


class AbArmOut(BaseModel):
    id: int
    name: str
    weight: float
    variant_id: int | None
    trials: int
    successes: int
    rate: float | None
    probability_best: float
    expected_loss: float
    z: float | None
    p_value: float | None
    lift: float | None


class AbTestOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    name: str
    metric: str
    status: str
    loss_threshold: float
    arms: list[AbArmOut]
    stop: bool
    winner: str | None
    reason: str
    horizon: int | None
    created_at: dt.datetime
    stopped_at: dt.datetime | None


class AbAssignment(BaseModel):
    unit: str
    arm: str


# -- engagement prediction -------------------------------------------------------------------------


class ReasonOut(BaseModel):
    feature: str
    value: str
    factor: float


class RankedOut(BaseModel):
    variant_id: int | None
    post_id: int | None
    channel_id: int | None
    channel: str
    at: dt.datetime
    text: str
    predicted_engagements: float
    typical_engagements: float
    reasons: list[ReasonOut]


class PlacementQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")

    text: str = Field(min_length=1, max_length=10_000)
    media: int = Field(default=0, ge=0, le=20)
    channel_ids: list[int] | None = None
    limit: int = Field(default=10, ge=1, le=100)


class SegmentQuery(BaseModel):
    """A draft post to predict per audience segment."""

    model_config = ConfigDict(extra="forbid")

    text: str = Field(min_length=1, max_length=10_000)
    channel_id: int
    at: dt.datetime | None = None  # when it would go out; default: the next full hour
    topic: str | None = Field(default=None, max_length=64)  # an interest name
    media: int = Field(default=0, ge=0, le=20)
    limit: int = Field(default=20, ge=1, le=200)


class SegmentEngagementOut(BaseModel):
    label: str  # in English (a saved segment: its name)
    expression: str
    saved: bool
    size: int
    predicted_engagements: float
    per_member: float
    lift: float
    # A segment of one profile field: the field ("age_band", "sex", "region", "interest") and
    # its value, for a client that words the label itself.
    facet: str | None = None
    value: str | None = None


class SegmentForecastOut(BaseModel):
    channel_id: int
    channel: str
    at: dt.datetime
    topic: str | None
    audience: int
    predicted_engagements: float
    typical_engagements: float
    reasons: list[ReasonOut]
    segments: list[SegmentEngagementOut]


class WebhookSecretOut(BaseModel):
    secret: str
    url: str
    header: str
    generation: int
    previous_valid_until: dt.datetime | None = None


class VoiceOut(BaseModel):
    query_id: int
    name: str
    kind: str
    mentions: int
    share_of_voice: float | None
    positive: float | None
    negative: float | None
    net_sentiment: float | None
    mean_sentiment: float | None
