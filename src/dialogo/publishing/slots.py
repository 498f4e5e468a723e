"""Queue slots: each channel's weekly publishing times (weekday + local time in the workspace's
time zone); "add to queue" schedules a post at the next free slot.

A slot is free when no live variant (scheduled, queued, on its way or published) on the same
channel is due at that instant. A post on several channels goes to the next time that is a slot
of *every* one of its channels and free on all of them. Slot times go through
:func:`dialogo.publishing.recurrence.resolve_local`, so a slot inside a daylight-saving gap
moves forward by the gap and an ambiguous one takes the first instant.

:func:`next_free_slot` also takes ``suggested`` slots instead of the stored ones: the analytics
domain's best-time suggestions plug in there.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from zoneinfo import ZoneInfo

import httpx
from pydantic import BaseModel, ConfigDict, Field, field_validator
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from dialogo.accounts.permissions import Permission
from dialogo.accounts.service import Principal, authorize
from dialogo.channels.crypto import CredentialCipher
from dialogo.channels.models import Channel
from dialogo.core.clock import utcnow
from dialogo.core.errors import Conflict, InvalidInput, NotFound
from dialogo.providers.registry import ProviderRegistry
from dialogo.publishing import service as publishing
from dialogo.publishing.models import Post, PostVariant, QueueSlot, VariantStatus
from dialogo.publishing.recurrence import parse_local_time, resolve_local, workspace_zone

#: How far ahead the queue looks for a free slot.
LOOKAHEAD_WEEKS = 12
#: A slot must be at least this far in the future to be taken.
MIN_LEAD = dt.timedelta(minutes=1)
#: Variant states that occupy their slot.
OCCUPYING = (
    VariantStatus.scheduled.value,
    VariantStatus.queued.value,
    VariantStatus.waiting_channel.value,
    VariantStatus.unconfirmed.value,
    VariantStatus.published.value,
)

Slot = tuple[int, dt.time]  # (weekday 0 = Monday … 6 = Sunday, local time)


class SlotIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    weekday: int = Field(ge=0, le=6, description="0 = Monday … 6 = Sunday")
    local_time: str = Field(examples=["09:30"], description="HH:MM in the workspace's time zone")

    @field_validator("local_time")
    @classmethod
    def _time(cls, value: str) -> str:
        try:
            return parse_local_time(value).strftime("%H:%M")
        except InvalidInput as exc:
            raise ValueError(exc.message) from None

    def as_slot(self) -> Slot:
        return (self.weekday, parse_local_time(self.local_time))


class SlotOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    channel_id: int
    weekday: int
    local_time: str


class NextSlotOut(BaseModel):
    channel_ids: list[int]
    scheduled_at: dt.datetime | None
    local_time: str | None = Field(description="the same instant in the workspace's time zone")


def list_slots(
    session: Session, principal: Principal, workspace_id: int, channel_id: int | None = None
) -> list[QueueSlot]:
    authorize(session, principal, workspace_id, Permission.posts_read)
    query = select(QueueSlot).where(QueueSlot.workspace_id == workspace_id)
    if channel_id is not None:
        query = query.where(QueueSlot.channel_id == channel_id)
    return list(
        session.scalars(
            query.order_by(QueueSlot.channel_id, QueueSlot.weekday, QueueSlot.local_time)
        )
    )


def set_slots(
    session: Session,
    principal: Principal,
    workspace_id: int,
    channel_id: int,
    slots: Sequence[SlotIn],
) -> list[QueueSlot]:
    """Replace a channel's slots (an empty list clears its queue)."""
    authorize(session, principal, workspace_id, Permission.posts_publish)
    channel = session.get(Channel, channel_id)
    if channel is None or channel.workspace_id != workspace_id:
        raise NotFound("channel not found")  # the path names it: 404, as for every resource
    unique = sorted({(s.weekday, s.local_time) for s in slots})
    if len(unique) > 7 * 24:
        raise InvalidInput("at most 168 slots per channel", code="too_many_slots")
    session.execute(
        delete(QueueSlot)
        .where(QueueSlot.workspace_id == workspace_id, QueueSlot.channel_id == channel_id)
        .execution_options(synchronize_session="fetch")
    )
    rows = [
        QueueSlot(workspace_id=workspace_id, channel_id=channel_id, weekday=w, local_time=t)
        for w, t in unique
    ]
    session.add_all(rows)
    session.flush()
    return rows


def _stored(session: Session, workspace_id: int, channel_id: int) -> set[Slot]:
    return {
        (row.weekday, parse_local_time(row.local_time))
        for row in session.scalars(
            select(QueueSlot).where(
                QueueSlot.workspace_id == workspace_id, QueueSlot.channel_id == channel_id
            )
        )
    }


def candidate_times(
    slots: Iterable[Slot], tz: ZoneInfo, after: dt.datetime, weeks: int
) -> list[dt.datetime]:
    """Every slot instant (UTC) after ``after`` for ``weeks`` weeks, in order. Pure."""
    by_day: dict[int, list[dt.time]] = {}
    for weekday, at in slots:
        by_day.setdefault(weekday, []).append(at)
    start = after.astimezone(tz).date()
    found: set[dt.datetime] = set()
    for offset in range(weeks * 7 + 1):
        day = start + dt.timedelta(days=offset)
        for at in by_day.get(day.weekday(), ()):
            when = resolve_local(day, at, tz)
            if when > after:
                found.add(when)
    return sorted(found)


def next_free_slot(
    session: Session,
    workspace_id: int,
    channel_ids: Sequence[int],
    *,
    now: dt.datetime | None = None,
    suggested: Sequence[Slot] | None = None,
    exclude_post_id: int | None = None,
    weeks: int = LOOKAHEAD_WEEKS,
) -> dt.datetime | None:
    """The next instant that is a slot of every channel (or one of ``suggested``) and free on
    all of them; ``None`` when there is none in the next ``weeks`` weeks."""
    if not channel_ids:
        raise InvalidInput("name at least one channel", code="no_channels")
    tz = workspace_zone(session, workspace_id)
    if suggested is not None:
        common = set(suggested)
    else:
        sets = [_stored(session, workspace_id, c) for c in channel_ids]
        common = set.intersection(*sets)
    if not common:
        return None
    after = (now or utcnow()) + MIN_LEAD
    candidates = candidate_times(common, tz, after, weeks)
    if not candidates:
        return None
    taken_query = select(PostVariant.due_at).where(
        PostVariant.workspace_id == workspace_id,
        PostVariant.channel_id.in_(channel_ids),
        PostVariant.status.in_(OCCUPYING),
        PostVariant.due_at >= candidates[0],
        PostVariant.due_at <= candidates[-1],
    )
    if exclude_post_id is not None:
        taken_query = taken_query.where(PostVariant.post_id != exclude_post_id)
    taken = set(session.scalars(taken_query))
    return next((t for t in candidates if t not in taken), None)


def next_slot(
    session: Session,
    principal: Principal,
    workspace_id: int,
    channel_ids: Sequence[int],
    *,
    now: dt.datetime | None = None,
) -> NextSlotOut:
    authorize(session, principal, workspace_id, Permission.posts_read)
    publishing._channels(session, workspace_id, channel_ids)
    when = next_free_slot(session, workspace_id, channel_ids, now=now)
    tz = workspace_zone(session, workspace_id)
    return NextSlotOut(
        channel_ids=list(channel_ids),
        scheduled_at=when,
        local_time=when.astimezone(tz).isoformat() if when else None,
    )


def add_to_queue(
    session: Session,
    principal: Principal,
    workspace_id: int,
    post_id: int,
    *,
    registry: ProviderRegistry,
    cipher: CredentialCipher,
    http: httpx.Client | None = None,
    now: dt.datetime | None = None,
    suggested: Sequence[Slot] | None = None,
) -> Post:
    """Schedule the post at its channels' next free slot (approval and validation as for any
    scheduling: :func:`dialogo.publishing.service.schedule_post`)."""
    authorize(session, principal, workspace_id, Permission.posts_publish)
    post = publishing.get_post(session, principal, workspace_id, post_id)
    channel_ids = [v.channel_id for v in post.variants if v.channel_id is not None]
    now = now or utcnow()
    when = next_free_slot(
        session,
        workspace_id,
        channel_ids,
        now=now,
        suggested=suggested,
        exclude_post_id=post.id,
    )
    if when is None:
        raise Conflict(
            "no free queue slot common to this post's channels in the next "
            f"{LOOKAHEAD_WEEKS} weeks: add slots to the channels first",
            code="no_free_slot",
        )
    return publishing.schedule_post(
        session,
        principal,
        workspace_id,
        post_id,
        when,
        registry=registry,
        cipher=cipher,
        http=http,
        now=now,
    )


# --- for the queue page (issue #4, publishing pages) ---------------------------------------------


def next_free_slots(
    session: Session,
    workspace_id: int,
    channel_id: int,
    *,
    count: int = 5,
    now: dt.datetime | None = None,
    weeks: int = LOOKAHEAD_WEEKS,
) -> list[dt.datetime]:
    """The channel's next ``count`` free slot instants (UTC), in order: what "add to queue"
    would take for a post on this channel alone, and after it."""
    stored = _stored(session, workspace_id, channel_id)
    if not stored or count < 1:
        return []
    tz = workspace_zone(session, workspace_id)
    candidates = candidate_times(stored, tz, (now or utcnow()) + MIN_LEAD, weeks)
    if not candidates:
        return []
    taken = set(
        session.scalars(
            select(PostVariant.due_at).where(
                PostVariant.workspace_id == workspace_id,
                PostVariant.channel_id == channel_id,
                PostVariant.status.in_(OCCUPYING),
                PostVariant.due_at >= candidates[0],
                PostVariant.due_at <= candidates[-1],
            )
        )
    )
    return [t for t in candidates if t not in taken][:count]
