"""Recurring posts: a rule (daily, weekly, monthly; by weekday; at a local time) computed in the
workspace's IANA time zone, and its occurrences materialised ahead of time as ordinary
scheduled posts, idempotently (one ``recurring_occurrences`` row per rule and instant).

Local times that do not exist or exist twice (daylight-saving changes) are resolved on purpose,
by :func:`resolve_local`:

* **nonexistent** (the clock jumps from 02:00 to 03:00 in spring): the occurrence moves
  forward by the length of the gap, so 02:30 becomes 03:30 local time that day. It is never
  skipped: a weekly post should not silently miss a week;
* **ambiguous** (02:00–03:00 happens twice in autumn): the first of the two instants (still
  in summer time) is used, so the post goes out once, at the earlier moment.

Every other occurrence stays at its wall-clock time whatever the UTC offset: a post at 09:00
Europe/Rome is at 08:00 UTC in winter and 07:00 UTC in summer.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import enum
from collections.abc import Iterator, Sequence
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import httpx
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from sqlalchemy import select
from sqlalchemy.orm import Session

from dialogo.accounts.models import Workspace
from dialogo.accounts.permissions import Permission
from dialogo.accounts.service import Principal, authorize
from dialogo.channels.crypto import CredentialCipher
from dialogo.core.clock import utcnow
from dialogo.core.errors import Conflict, InvalidInput, NotFound
from dialogo.notifications import service as notifications
from dialogo.providers.registry import ProviderRegistry
from dialogo.publishing import service as publishing
from dialogo.publishing import webhooks  # noqa: F401 - installs the post-event hook
from dialogo.publishing.models import (
    Post,
    PostStatus,
    RecurrenceFrequency,
    RecurringOccurrence,
    RecurringPost,
    VariantStatus,
)
from dialogo.publishing.schemas import VariantIn

#: How far ahead occurrences are materialised by default.
DEFAULT_HORIZON = dt.timedelta(days=14)
#: The longest horizon accepted (bounds the work of one materialising pass).
MAX_HORIZON = dt.timedelta(days=120)


# --- local time, pure functions ----------------------------------------------------------------


class LocalTimeKind(enum.StrEnum):
    normal = "normal"
    nonexistent = "nonexistent"  # in a spring-forward gap
    ambiguous = "ambiguous"  # in an autumn fall-back overlap


def zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise InvalidInput(f"unknown time zone {name!r}", code="unknown_timezone") from None


def parse_local_time(value: str) -> dt.time:
    """``"HH:MM"`` (24 h) to a time; anything else is refused."""
    try:
        hours, minutes = value.strip().split(":")
        if len(hours) not in (1, 2) or len(minutes) != 2:
            raise ValueError
        return dt.time(int(hours), int(minutes))
    except ValueError:
        raise InvalidInput(
            f"{value!r} is not a time of day like 09:30", code="bad_local_time"
        ) from None


def classify_local(day: dt.date, at: dt.time, tz: ZoneInfo) -> LocalTimeKind:
    naive = dt.datetime.combine(day, at)
    early = naive.replace(tzinfo=tz, fold=0)
    late = naive.replace(tzinfo=tz, fold=1)
    if early.utcoffset() == late.utcoffset():
        return LocalTimeKind.normal
    # Both folds differ: a gap if the wall time does not survive a round trip through UTC.
    back = early.astimezone(dt.UTC).astimezone(tz).replace(tzinfo=None)
    return LocalTimeKind.nonexistent if back != naive else LocalTimeKind.ambiguous


def resolve_local(day: dt.date, at: dt.time, tz: ZoneInfo) -> dt.datetime:
    """The UTC instant of ``at`` on ``day`` in ``tz``, with the module's DST policy: a
    nonexistent time moves forward by the gap, an ambiguous one takes the first instant."""
    naive = dt.datetime.combine(day, at)
    kind = classify_local(day, at, tz)
    if kind is LocalTimeKind.nonexistent:
        # fold=0 in a gap applies the offset in force before the jump: 02:30 at +01:00 is
        # 01:30 UTC, which reads 03:30 at +02:00, i.e. forward by the gap.
        return naive.replace(tzinfo=tz, fold=0).astimezone(dt.UTC)
    # normal: both folds agree; ambiguous: fold=0 is the first (earlier) instant.
    return naive.replace(tzinfo=tz, fold=0).astimezone(dt.UTC)


@dataclasses.dataclass(frozen=True)
class Rule:
    """A recurrence rule on local dates. ``weekdays``: 0 = Monday … 6 = Sunday."""

    frequency: RecurrenceFrequency
    at: dt.time
    starts_on: dt.date
    interval: int = 1
    weekdays: tuple[int, ...] = ()
    month_day: int | None = None
    ends_on: dt.date | None = None

    def __post_init__(self) -> None:
        if self.interval < 1:
            raise ValueError("interval must be at least 1")
        if any(d not in range(7) for d in self.weekdays):
            raise ValueError("weekdays are 0 (Monday) to 6 (Sunday)")
        if self.month_day is not None and not 1 <= self.month_day <= 31:
            raise ValueError("month_day is 1 to 31")

    def matches(self, day: dt.date) -> bool:
        if day < self.starts_on or (self.ends_on is not None and day > self.ends_on):
            return False
        if self.frequency is RecurrenceFrequency.daily:
            if (day - self.starts_on).days % self.interval:
                return False
            return not self.weekdays or day.weekday() in self.weekdays
        if self.frequency is RecurrenceFrequency.weekly:
            first_monday = self.starts_on - dt.timedelta(days=self.starts_on.weekday())
            week = (day - first_monday).days // 7
            days = self.weekdays or (self.starts_on.weekday(),)
            return week % self.interval == 0 and day.weekday() in days
        # monthly: the month_day (default: the start's day); months without it are skipped
        months = (day.year - self.starts_on.year) * 12 + day.month - self.starts_on.month
        return months % self.interval == 0 and day.day == (self.month_day or self.starts_on.day)

    def dates(self, first: dt.date, last: dt.date) -> Iterator[dt.date]:
        day = max(first, self.starts_on)
        end = last if self.ends_on is None else min(last, self.ends_on)
        while day <= end:
            if self.matches(day):
                yield day
            day += dt.timedelta(days=1)


def occurrences(
    rule: Rule, tz: ZoneInfo, start: dt.datetime, end: dt.datetime
) -> list[dt.datetime]:
    """The rule's instants (UTC) in ``[start, end)``, each at ``rule.at`` local time."""
    if start.tzinfo is None or end.tzinfo is None:
        raise ValueError("start and end must be timezone-aware")
    # One day of margin each side: the local date of a UTC instant can differ by one.
    first = start.astimezone(tz).date() - dt.timedelta(days=1)
    last = end.astimezone(tz).date() + dt.timedelta(days=1)
    found = (resolve_local(day, rule.at, tz) for day in rule.dates(first, last))
    return [t for t in found if start <= t < end]


# --- schemas -----------------------------------------------------------------------------------


class RecurringIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(default="", max_length=200)
    campaign_id: int | None = None
    frequency: RecurrenceFrequency
    interval: int = Field(default=1, ge=1, le=52)
    weekdays: list[int] = Field(default_factory=list, max_length=7)
    month_day: int | None = Field(default=None, ge=1, le=31)
    local_time: str = Field(description="HH:MM in the workspace's time zone", examples=["09:00"])
    starts_on: dt.date
    ends_on: dt.date | None = None
    variants: list[VariantIn] = Field(min_length=1, max_length=100)

    @field_validator("weekdays")
    @classmethod
    def _weekdays(cls, value: list[int]) -> list[int]:
        if any(d not in range(7) for d in value):
            raise ValueError("weekdays are 0 (Monday) to 6 (Sunday)")
        return sorted(set(value))

    @field_validator("local_time")
    @classmethod
    def _local_time(cls, value: str) -> str:
        try:
            return parse_local_time(value).strftime("%H:%M")
        except InvalidInput as exc:
            raise ValueError(exc.message) from None

    @model_validator(mode="after")
    def _consistent(self) -> RecurringIn:
        if self.ends_on is not None and self.ends_on < self.starts_on:
            raise ValueError("ends_on is before starts_on")
        if self.month_day is not None and self.frequency is not RecurrenceFrequency.monthly:
            raise ValueError("month_day is for monthly rules")
        if len({v.channel_id for v in self.variants}) != len(self.variants):
            raise ValueError("one variant per channel")
        return self


class RecurringOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    workspace_id: int
    campaign_id: int | None
    name: str
    frequency: RecurrenceFrequency
    interval: int
    weekdays: list[int]
    month_day: int | None
    local_time: str
    starts_on: dt.date
    ends_on: dt.date | None
    variants: list[dict[str, object]]
    active: bool
    materialised_until: dt.datetime | None
    created_at: dt.datetime


# --- service -----------------------------------------------------------------------------------


def rule_of(row: RecurringPost) -> Rule:
    return Rule(
        frequency=RecurrenceFrequency(row.frequency),
        at=parse_local_time(row.local_time),
        starts_on=row.starts_on,
        interval=row.interval,
        weekdays=tuple(int(d) for d in row.weekdays or []),
        month_day=row.month_day,
        ends_on=row.ends_on,
    )


def workspace_zone(session: Session, workspace_id: int) -> ZoneInfo:
    workspace = session.get(Workspace, workspace_id)
    if workspace is None:
        raise NotFound("workspace not found")
    return zone(workspace.timezone)


def _variants_of(row: RecurringPost) -> list[VariantIn]:
    return [VariantIn.model_validate(v) for v in row.variants or []]


def create_recurring(
    session: Session,
    principal: Principal,
    workspace_id: int,
    data: RecurringIn,
    *,
    registry: ProviderRegistry,
    cipher: CredentialCipher,
    http: httpx.Client | None = None,
    now: dt.datetime | None = None,
    horizon: dt.timedelta = DEFAULT_HORIZON,
) -> RecurringPost:
    """Create a rule and materialise its first occurrences. Its posts are scheduled without a
    further approval, so where the workspace requires approval the creator must be allowed to
    approve as well as to publish: creating the rule is that approval."""
    authorize(session, principal, workspace_id, Permission.posts_publish)
    if publishing.publishing_settings(session, workspace_id).approval_required:
        authorize(session, principal, workspace_id, Permission.posts_approve)
    publishing._channels(session, workspace_id, [v.channel_id for v in data.variants])
    row = RecurringPost(
        workspace_id=workspace_id,
        campaign_id=publishing._campaign_in(session, workspace_id, data.campaign_id),
        created_by=principal.user_id,
        name=data.name,
        frequency=data.frequency.value,
        interval=data.interval,
        weekdays=list(data.weekdays),
        month_day=data.month_day,
        local_time=data.local_time,
        starts_on=data.starts_on,
        ends_on=data.ends_on,
        variants=[v.model_dump() for v in data.variants],
        active=True,
    )
    session.add(row)
    session.flush()
    materialise(session, row, registry=registry, cipher=cipher, http=http, now=now, horizon=horizon)
    return row


def list_recurring(
    session: Session, principal: Principal, workspace_id: int
) -> list[RecurringPost]:
    authorize(session, principal, workspace_id, Permission.posts_read)
    return list(
        session.scalars(
            select(RecurringPost)
            .where(RecurringPost.workspace_id == workspace_id)
            .order_by(RecurringPost.id)
        )
    )


def get_recurring(
    session: Session, principal: Principal, workspace_id: int, recurring_id: int
) -> RecurringPost:
    authorize(session, principal, workspace_id, Permission.posts_read)
    row = session.get(RecurringPost, recurring_id)
    if row is None or row.workspace_id != workspace_id:
        raise NotFound("recurring post not found")
    return row


def occurrence_posts(session: Session, row: RecurringPost) -> list[Post]:
    """The posts materialised for a rule, by time."""
    return list(
        session.scalars(
            select(Post)
            .join(RecurringOccurrence, RecurringOccurrence.post_id == Post.id)
            .where(RecurringOccurrence.recurring_id == row.id)
            .order_by(RecurringOccurrence.occurs_at)
        )
    )


def stop_recurring(
    session: Session, principal: Principal, workspace_id: int, recurring_id: int
) -> RecurringPost:
    """Stop the rule and cancel its materialised posts that have not gone out yet."""
    authorize(session, principal, workspace_id, Permission.posts_publish)
    row = session.get(RecurringPost, recurring_id, with_for_update=True)
    if row is None or row.workspace_id != workspace_id:
        raise NotFound("recurring post not found")
    if not row.active:
        raise Conflict("this recurring post is stopped already", code="bad_state")
    row.active = False
    row.updated_at = utcnow()
    for post in occurrence_posts(session, row):
        if post.status in (PostStatus.scheduled.value, PostStatus.draft.value):
            publishing.cancel_post(session, principal, workspace_id, post.id)
    session.flush()
    return row


def materialise(
    session: Session,
    row: RecurringPost,
    *,
    registry: ProviderRegistry,
    cipher: CredentialCipher,
    http: httpx.Client | None = None,
    now: dt.datetime | None = None,
    horizon: dt.timedelta = DEFAULT_HORIZON,
) -> list[RecurringOccurrence]:
    """Create the posts of the rule's occurrences in ``[now, now + horizon)`` that do not
    exist yet. Running it again (or concurrently: the rule's row is locked) creates nothing
    twice. An occurrence whose variants its network would refuse (a channel needing
    re-authorisation, a text now too long) is kept as a draft and the team is notified."""
    now = now or utcnow()
    horizon = min(horizon, MAX_HORIZON)
    locked = session.scalar(
        select(RecurringPost)
        .where(RecurringPost.id == row.id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    if locked is None or not locked.active:
        return []
    tz = workspace_zone(session, locked.workspace_id)
    end = now + horizon
    wanted = occurrences(rule_of(locked), tz, now, end)
    have = set(
        session.scalars(
            select(RecurringOccurrence.occurs_at).where(
                RecurringOccurrence.recurring_id == locked.id,
                RecurringOccurrence.occurs_at >= now,
                RecurringOccurrence.occurs_at < end,
            )
        )
    )
    created = []
    for when in wanted:
        if when in have:
            continue
        created.append(
            _materialise_one(session, locked, when, registry=registry, cipher=cipher, http=http)
        )
    locked.materialised_until = max(end, locked.materialised_until or end)
    locked.updated_at = utcnow()
    session.flush()
    return created


def _materialise_one(
    session: Session,
    row: RecurringPost,
    when: dt.datetime,
    *,
    registry: ProviderRegistry,
    cipher: CredentialCipher,
    http: httpx.Client | None,
) -> RecurringOccurrence:
    variants = _variants_of(row)
    error: str | None = None
    post: Post | None = None
    try:  # a channel may have been removed since the rule was made
        publishing._channels(session, row.workspace_id, [v.channel_id for v in variants])
    except InvalidInput as exc:
        error = exc.message
    if error is None:
        post = Post(
            workspace_id=row.workspace_id,
            campaign_id=row.campaign_id,
            author_id=row.created_by,
            status=PostStatus.draft.value,
        )
        session.add(post)
        publishing._apply_variants(session, post, variants)
        session.flush()
        problems = [
            r
            for r in publishing.validate_variants(
                session, post, registry=registry, cipher=cipher, http=http
            )
            if not r.ok
        ]
        if problems:
            error = "; ".join(f"{r.network}: {r.issues[0].message}" for r in problems)
        else:
            post.status = PostStatus.scheduled.value
            post.scheduled_at = when
            post.approval_step = len(
                publishing.approval_stages(
                    publishing.publishing_settings(session, row.workspace_id)
                )
            )
            for variant in post.variants:
                variant.status = VariantStatus.scheduled.value
                variant.due_at = when
    occurrence = RecurringOccurrence(
        recurring_id=row.id,
        occurs_at=when,
        post_id=post.id if post is not None else None,
        error=error,
    )
    session.add(occurrence)
    session.flush()
    if error is not None:
        notifications.notify(
            session,
            row.workspace_id,
            kind="recurring_post_not_scheduled",
            params={"name": row.name or f"#{row.id}"},
            body=f"{when.isoformat()}: {error}",
            dedupe_key=f"recurring:{row.id}:not_scheduled",
        )
    return occurrence


def materialise_all(
    session: Session,
    *,
    registry: ProviderRegistry,
    cipher: CredentialCipher,
    http: httpx.Client | None = None,
    now: dt.datetime | None = None,
    horizon: dt.timedelta = DEFAULT_HORIZON,
) -> int:
    """Materialise every active rule of every workspace; the number of occurrences made."""
    ids: Sequence[int] = list(
        session.scalars(select(RecurringPost.id).where(RecurringPost.active.is_(True)))
    )
    made = 0
    for rule_id in ids:
        row = session.get(RecurringPost, rule_id)
        if row is not None:
            made += len(
                materialise(
                    session,
                    row,
                    registry=registry,
                    cipher=cipher,
                    http=http,
                    now=now,
                    horizon=horizon,
                )
            )
    return made
