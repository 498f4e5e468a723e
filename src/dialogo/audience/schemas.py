"""Audience API shapes (Pydantic)."""

from __future__ import annotations

import datetime as dt
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class ExpressionIn(BaseModel):
    expression: str = Field(min_length=1, max_length=4000)


class SizeOut(BaseModel):
    expression: str
    size: int


class SegmentIn(BaseModel):
    name: str = Field(min_length=1, max_length=120)
    expression: str = Field(min_length=1, max_length=4000)


class SegmentOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    name: str
    expression: str
    created_at: dt.datetime


class OverlapOut(BaseModel):
    names: list[str]
    sizes: list[int]
    shared: list[list[int]]


class ExportIn(BaseModel):
    expression: str = Field(min_length=1, max_length=4000)
    format: Literal["meta", "google"] = "meta"


class ProfileOut(BaseModel):
    contact_id: int
    display_name: str
    age_band: str | None
    sex: str | None
    place: str | None
    region: str | None
    source: str | None
    engagement_count: int
    interests: list[str]


class ProfilePage(BaseModel):
    total: int
    items: list[ProfileOut]


class ImportOut(BaseModel):
    created: int
    updated: int


class ExperimentOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    name: str
    topic: str | None
    source: str
    treated: int
    control: int
    responded_treated: int
    responded_control: int
    created_at: dt.datetime


class SegmentUpliftOut(BaseModel):
    label: str  # in English (a saved segment: its name)
    expression: str
    saved: bool
    size: int
    uplift: float
    incremental: float
    observed: float | None
    treated: int
    control: int
    # A segment of one profile field: the field ("age_band", "sex", "region", "interest") and
    # its value, for a client that words the label itself.
    facet: str | None = None
    value: str | None = None


class ReceptivenessOut(BaseModel):
    experiment_id: int
    experiment: str
    topic: str | None
    model: Literal["two_model", "class_transformation"]
    units: int
    qini: float
    qini_normalised: float
    auuc: float
    baseline_uplift: float
    curve: list[tuple[int, float]]
    segments: list[SegmentUpliftOut]


class InterestOut(BaseModel):
    interest: str
    score: float
    source: str
    confidence: float | None
    evidence: int


class ContactProfileOut(BaseModel):
    contact_id: int
    display_name: str
    age_band: str | None
    sex: str | None
    place: str | None
    region: str | None
    country: str | None
    source: str | None
    engagement_count: int
    last_engaged_at: dt.datetime | None
    interests: list[InterestOut]
