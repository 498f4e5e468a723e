"""Publishing input and output models."""

from __future__ import annotations

import datetime as dt
import decimal
from collections.abc import Callable, Mapping
from typing import Any

from babel.support import NullTranslations
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from dialogo.core.i18n import Param, Plural, english, say
from dialogo.publishing.models import PostStatus, VariantStatus

MAX_TEXT = 100_000  # generous: each network's own limit is checked by its provider


class CampaignCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=200)
    description: str = Field(default="", max_length=5000)
    goal: str = Field(default="", max_length=2000)
    starts_on: dt.date | None = None
    ends_on: dt.date | None = None
    budget: decimal.Decimal | None = Field(default=None, ge=0, max_digits=14, decimal_places=2)
    currency: str | None = Field(default=None, pattern=r"^[A-Z]{3}$")
    utm: dict[str, str] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _dates_in_order(self) -> CampaignCreate:
        if self.starts_on and self.ends_on and self.ends_on < self.starts_on:
            raise ValueError("ends_on is before starts_on")
        return self

    @field_validator("utm")
    @classmethod
    def _utm_keys(cls, value: dict[str, str]) -> dict[str, str]:
        allowed = {"utm_source", "utm_medium", "utm_campaign", "utm_term", "utm_content"}
        unknown = sorted(set(value) - allowed)
        if unknown:
            raise ValueError(f"unknown UTM tags {unknown}; use {sorted(allowed)}")
        return value


class CampaignOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    workspace_id: int
    name: str
    description: str
    goal: str
    starts_on: dt.date | None
    ends_on: dt.date | None
    budget: decimal.Decimal | None
    currency: str | None
    utm: dict[str, Any]
    created_at: dt.datetime


class VariantIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    channel_id: int
    text: str = Field(default="", max_length=MAX_TEXT)
    media: list[str] = Field(default_factory=list, max_length=20)
    first_comment: str | None = Field(default=None, max_length=MAX_TEXT)
    thread: list[str] = Field(default_factory=list, max_length=50)


class PostCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    campaign_id: int | None = None
    variants: list[VariantIn] = Field(min_length=1, max_length=100)

    @field_validator("variants")
    @classmethod
    def _one_per_channel(cls, value: list[VariantIn]) -> list[VariantIn]:
        ids = [v.channel_id for v in value]
        if len(ids) != len(set(ids)):
            raise ValueError("one variant per channel")
        return value


class PostUpdate(BaseModel):
    """Fields left out keep their value; ``variants`` replaces the whole set when given."""

    model_config = ConfigDict(extra="forbid")

    campaign_id: int | None = None
    variants: list[VariantIn] | None = Field(default=None, min_length=1, max_length=100)

    @field_validator("variants")
    @classmethod
    def _one_per_channel(cls, value: list[VariantIn] | None) -> list[VariantIn] | None:
        if value is not None:
            PostCreate._one_per_channel(value)
        return value


class Decision(BaseModel):
    model_config = ConfigDict(extra="forbid")

    comment: str = Field(default="", max_length=5000)


class ScheduleIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    scheduled_at: dt.datetime = Field(description="timezone-aware, in the future")


class PublishingSettingsIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    approval_required: bool
    approval_stages: list[str] = Field(default_factory=list, max_length=10)

    @field_validator("approval_stages")
    @classmethod
    def _stage_names(cls, value: list[str]) -> list[str]:
        names = [v.strip() for v in value]
        if any(not n or len(n) > 80 for n in names):
            raise ValueError("stage names are 1 to 80 characters")
        if len(set(names)) != len(names):
            raise ValueError("stage names must differ")
        return names


class PublishingSettingsOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    workspace_id: int
    approval_required: bool
    approval_stages: list[str]


class VariantOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    channel_id: int | None
    network: str
    text: str
    media: list[str]
    first_comment: str | None
    thread: list[str]
    status: VariantStatus
    remote_id: str | None
    url: str | None
    attempts: int
    last_error: str | None
    #: the type of ``last_error`` (a provider error code, or one of the dispatcher's own) and
    #: the parameters of its sentence, with the network's own text as ``detail``, to word it in
    #: another language; ``last_error`` stays English (null: written before codes were kept)
    last_error_code: str | None = None
    last_error_params: dict[str, Any] | None = None
    idempotency_key: str
    published_at: dt.datetime | None


class ApprovalOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    stage: str
    decision: str
    comment: str
    user_id: int | None
    created_at: dt.datetime


class PostOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    workspace_id: int
    campaign_id: int | None
    author_id: int | None
    status: PostStatus
    scheduled_at: dt.datetime | None
    approval_step: int
    duplicated_from_id: int | None
    created_at: dt.datetime
    updated_at: dt.datetime
    variants: list[VariantOut]


class PostDetail(PostOut):
    approvals: list[ApprovalOut] = Field(default_factory=list)
    approval_stages: list[str] = Field(default_factory=list)


class IssueOut(BaseModel):
    """One thing a network would refuse. ``message`` is English (as it always was);
    ``template`` is the same sentence with ``%(name)s`` placeholders, a msgid of the
    interface's catalogue, and ``params`` fill it, so a page (or a client) can say it in the
    reader's language (:meth:`render`). An issue from a network's own words has no template.

    An issue that counts something ("at most 1 attachment", "at most 4 attachments") has a
    singular/plural pair: ``template`` is the singular msgid, ``template_plural`` the plural
    one, and ``count_param`` names the parameter whose number picks the form (``ngettext``
    with ``params[count_param]``); both are empty for other issues."""

    code: str
    message: str
    field: str
    template: str = ""
    params: dict[str, Param] = Field(default_factory=dict)
    template_plural: str = ""
    count_param: str = ""

    @classmethod
    def of(
        cls,
        code: str,
        template: str | Plural,
        field: str,
        params: Mapping[str, Param] | None = None,
    ) -> IssueOut:
        """An issue worded by ``template`` (marked with ``N_``, or a :class:`Plural` marked
        with ``Nn_``) and its ``params``."""
        values = dict(params or {})
        message = english(template, values)
        if isinstance(template, Plural):
            (singular, plural), count = template.forms, template.count
        else:
            singular, plural, count = template, "", ""
        return cls(
            code=code,
            message=message,
            field=field,
            template=singular,
            params=values,
            template_plural=plural,
            count_param=count,
        )

    def render(
        self,
        translations: NullTranslations | Callable[[str], str],
        number: Callable[[float], str] | None = None,
    ) -> str:
        """The issue in the language of ``translations`` (a catalogue, or its ``gettext``),
        numbers through ``number``. A counting issue needs the catalogue (its ``ngettext``):
        given only a ``gettext`` it is said in English."""
        if not self.template:
            return self.message
        template: str | Plural = self.template
        if self.template_plural and self.count_param:
            template = Plural((self.template, self.template_plural), self.count_param)
        return say(translations, template, self.params, number)


class ChannelValidation(BaseModel):
    channel_id: int | None
    network: str
    ok: bool
    issues: list[IssueOut]


class PostFilters(BaseModel):
    status: PostStatus | None = None
    campaign_id: int | None = None
    channel_id: int | None = None
    scheduled_from: dt.datetime | None = None
    scheduled_to: dt.datetime | None = None
    limit: int = Field(default=100, ge=1, le=500)
    offset: int = Field(default=0, ge=0)
