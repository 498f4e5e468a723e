"""The publishing calendar: month and week grids in the workspace's time zone, moving a post to
another day or time (the local wall-clock time is what people mean, across daylight-saving
changes), and an ICS feed per workspace behind a secret, rotatable URL.

The grid and time functions are pure; the feed's secret is stored only as a SHA-256 hash (like
API tokens): its URL is shown once, when it is made, and rotating it makes the old one fail.
"""

from __future__ import annotations

import calendar as _calendar
import dataclasses
import datetime as dt
import hashlib
import hmac
import secrets
from collections.abc import Iterable, Sequence
from zoneinfo import ZoneInfo

import httpx
import icalendar
from sqlalchemy import ForeignKey, String, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from dialogo.accounts.models import Audited, Workspace
from dialogo.accounts.permissions import Permission
from dialogo.accounts.service import Principal, authorize
from dialogo.channels.crypto import CredentialCipher
from dialogo.channels.models import Channel
from dialogo.core.clock import ensure_aware, utcnow
from dialogo.core.db import Base, BigId
from dialogo.core.errors import InvalidInput
from dialogo.providers.registry import ProviderRegistry
from dialogo.publishing import service
from dialogo.publishing.models import Campaign, Post, PostStatus
from dialogo.publishing.schemas import PostFilters

FEED_TOKEN_PREFIX = "dlgcal_"  # noqa: S105 (a prefix, not a secret)
MAX_CALENDAR_POSTS = 500  # the service's largest page; a busier month is cut (and says so)
FEED_PAST = dt.timedelta(days=90)
FEED_FUTURE = dt.timedelta(days=366)
# Posts the calendar shows: those with a time (drafts and cancelled posts have none there).
ON_CALENDAR = (
    PostStatus.scheduled.value,
    PostStatus.publishing.value,
    PostStatus.published.value,
    PostStatus.failed.value,
    PostStatus.unconfirmed.value,
)
MOVABLE = (PostStatus.scheduled.value, PostStatus.approved.value, PostStatus.draft.value)


class CalendarFeed(Audited, Base):
    """The workspace's ICS feed: one secret per workspace, stored hashed."""

    __tablename__ = "publishing_calendar_feeds"
    __audit_exclude__ = frozenset({"token_hash"})

    workspace_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("workspaces.id", ondelete="CASCADE"), primary_key=True
    )
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_by: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("users.id", ondelete="SET NULL"), default=None
    )
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


# --- grids (pure) -------------------------------------------------------------------------------


def zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


def month_grid(year: int, month: int, first_weekday: int = 0) -> list[list[dt.date]]:
    """The weeks that show the month, each seven dates (the neighbouring months' included)."""
    if not 1 <= month <= 12 or not 1 <= year <= 9998:
        raise InvalidInput("no such month", code="bad_month")
    weeks = _calendar.Calendar(first_weekday).monthdatescalendar(year, month)
    return [list(w) for w in weeks]


def week_of(day: dt.date, first_weekday: int = 0) -> list[dt.date]:
    start = day - dt.timedelta(days=(day.weekday() - first_weekday) % 7)
    return [start + dt.timedelta(days=i) for i in range(7)]


def local_midnight(day: dt.date, tz: ZoneInfo) -> dt.datetime:
    """The UTC instant a local day starts (midnight, or the first valid minute after it)."""
    return to_utc(day, dt.time(0, 0), tz)


def utc_span(days: Sequence[dt.date], tz: ZoneInfo) -> tuple[dt.datetime, dt.datetime]:
    """[start, end) in UTC of a run of local days."""
    return local_midnight(days[0], tz), local_midnight(days[-1] + dt.timedelta(days=1), tz)


def to_utc(day: dt.date, time: dt.time, tz: ZoneInfo) -> dt.datetime:
    """A local wall-clock time as a UTC instant. An hour skipped by a daylight-saving change
    (02:30 on the night clocks go forward) moves forward by the gap, as people expect; an hour
    that happens twice is taken the first time."""
    # fold=0 gives a skipped time the offset from before the gap, so it lands after it.
    local_time = dt.datetime.combine(day, time.replace(tzinfo=None), tzinfo=tz).replace(fold=0)
    return local_time.astimezone(dt.UTC)


def local(value: dt.datetime, tz: ZoneInfo) -> dt.datetime:
    return ensure_aware(value).astimezone(tz)


def moved(
    scheduled_at: dt.datetime | None, day: dt.date, tz: ZoneInfo, time: dt.time | None = None
) -> dt.datetime:
    """A post moved to ``day`` (and ``time``, if given): otherwise it keeps its local time
    of day — 09:00 stays 09:00 local on the other side of a daylight-saving change."""
    if time is None:
        time = local(scheduled_at, tz).time() if scheduled_at is not None else dt.time(9, 0)
    return to_utc(day, time, tz)


@dataclasses.dataclass(frozen=True)
class Entry:
    """A post on the calendar."""

    post: Post
    at: dt.datetime  # local, in the workspace's zone
    channels: list[str]
    campaign: str | None
    movable: bool

    @property
    def summary(self) -> str:
        first = next((v.text for v in self.post.variants if v.text), "")
        return first if len(first) <= 80 else first[:79] + "…"


def by_day(entries: Iterable[Entry]) -> dict[dt.date, list[Entry]]:
    days: dict[dt.date, list[Entry]] = {}
    for entry in sorted(entries, key=lambda e: (e.at, e.post.id)):
        days.setdefault(entry.at.date(), []).append(entry)
    return days


# --- reading and moving -------------------------------------------------------------------------


def calendar_entries(
    session: Session,
    principal: Principal,
    workspace: Workspace,
    start: dt.datetime,
    end: dt.datetime,
    *,
    channel_id: int | None = None,
    campaign_id: int | None = None,
) -> tuple[list[Entry], bool]:
    """The posts with a time in [start, end), and whether there were more than shown."""
    posts = service.list_posts(
        session,
        principal,
        workspace.id,
        PostFilters(
            scheduled_from=start,
            scheduled_to=end,
            channel_id=channel_id,
            campaign_id=campaign_id,
            limit=MAX_CALENDAR_POSTS,
        ),
    )
    tz = zone(workspace.timezone)
    names = _channel_names(session, workspace.id)
    campaigns = _campaign_names(session, workspace.id)
    entries = [
        Entry(
            post=p,
            at=local(p.scheduled_at, tz),
            channels=[names.get(v.channel_id or 0, v.network) for v in p.variants],
            campaign=campaigns.get(p.campaign_id) if p.campaign_id else None,
            movable=p.status in MOVABLE,
        )
        for p in posts
        if p.scheduled_at is not None and p.status in ON_CALENDAR
    ]
    return entries, len(posts) >= MAX_CALENDAR_POSTS


def _channel_names(session: Session, workspace_id: int) -> dict[int, str]:
    rows = session.execute(
        select(Channel.id, Channel.name).where(Channel.workspace_id == workspace_id)
    )
    return {int(i): str(n) for i, n in rows}


def _campaign_names(session: Session, workspace_id: int) -> dict[int, str]:
    rows = session.execute(
        select(Campaign.id, Campaign.name).where(Campaign.workspace_id == workspace_id)
    )
    return {int(i): str(n) for i, n in rows}


def reschedule(
    session: Session,
    principal: Principal,
    workspace: Workspace,
    post_id: int,
    day: dt.date,
    time: dt.time | None = None,
    *,
    registry: ProviderRegistry,
    cipher: CredentialCipher,
    http: httpx.Client | None = None,
    now: dt.datetime | None = None,
) -> Post:
    """Move a scheduled post to another local day (keeping its time of day) or day and time;
    every rule of :func:`service.schedule_post` applies (approval, validation, the future)."""
    post = service.get_post(session, principal, workspace.id, post_id)
    when = moved(post.scheduled_at, day, zone(workspace.timezone), time)
    return service.schedule_post(
        session,
        principal,
        workspace.id,
        post_id,
        when,
        registry=registry,
        cipher=cipher,
        http=http,
        now=now,
    )


# --- the ICS feed -------------------------------------------------------------------------------


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def feed_exists(session: Session, principal: Principal, workspace_id: int) -> bool:
    authorize(session, principal, workspace_id, Permission.posts_read)
    return session.get(CalendarFeed, workspace_id) is not None


def rotate_feed(session: Session, principal: Principal, workspace_id: int) -> str:
    """A new secret for the workspace's feed (the old URL stops working); returns the token,
    which is not stored and cannot be shown again."""
    authorize(session, principal, workspace_id, Permission.posts_publish)
    token = FEED_TOKEN_PREFIX + secrets.token_urlsafe(32)
    feed = session.get(CalendarFeed, workspace_id)
    if feed is None:
        feed = CalendarFeed(workspace_id=workspace_id)
        session.add(feed)
    feed.token_hash = _hash(token)
    feed.created_by = principal.user_id
    feed.created_at = utcnow()
    session.flush()
    return token


def disable_feed(session: Session, principal: Principal, workspace_id: int) -> None:
    authorize(session, principal, workspace_id, Permission.posts_publish)
    feed = session.get(CalendarFeed, workspace_id)
    if feed is not None:
        session.delete(feed)
        session.flush()


def feed_workspace(session: Session, workspace_id: int, token: str) -> Workspace | None:
    """The workspace whose feed this token opens, or None (wrong, rotated or disabled)."""
    feed = session.get(CalendarFeed, workspace_id)
    if feed is None or not hmac.compare_digest(feed.token_hash, _hash(token)):
        return None
    return session.get(Workspace, workspace_id)


def feed_ics(
    session: Session, workspace: Workspace, *, now: dt.datetime | None = None, base_url: str = ""
) -> bytes:
    """The workspace's posts from 90 days ago to a year ahead as an iCalendar document. Called
    only after :func:`feed_workspace` accepted the secret (the feed is its own credential)."""
    now = now or utcnow()
    posts = list(
        session.scalars(
            service._post_query(workspace.id)
            .where(
                Post.scheduled_at >= now - FEED_PAST,
                Post.scheduled_at < now + FEED_FUTURE,
                Post.status.in_(ON_CALENDAR),
            )
            .order_by(Post.scheduled_at, Post.id)
            .limit(5000)
        )
    )
    names = _channel_names(session, workspace.id)
    campaigns = _campaign_names(session, workspace.id)
    cal = icalendar.Calendar()
    cal.add("prodid", "-//Dialogo//Publishing calendar//EN")
    cal.add("version", "2.0")
    cal.add("x-wr-calname", f"{workspace.name} · Dialogo")
    cal.add("x-wr-timezone", workspace.timezone)
    for post in posts:
        assert post.scheduled_at is not None
        start = ensure_aware(post.scheduled_at)
        event = icalendar.Event()
        event.add("uid", f"post-{post.id}@{workspace.id}.dialogo")
        event.add("dtstamp", ensure_aware(post.updated_at))
        event.add("dtstart", start)
        event.add("dtend", start + dt.timedelta(minutes=15))
        text = next((v.text for v in post.variants if v.text), "")
        event.add("summary", (text[:60] + "…") if len(text) > 60 else text or f"#{post.id}")
        lines = [f"{names.get(v.channel_id or 0, v.network)}: {v.text}" for v in post.variants]
        if post.campaign_id and post.campaign_id in campaigns:
            lines.append(f"Campaign: {campaigns[post.campaign_id]}")
        lines.append(f"Status: {post.status}")
        event.add("description", "\n\n".join(lines))
        event.add("status", "CONFIRMED" if post.status != PostStatus.failed.value else "CANCELLED")
        if base_url:
            event.add("url", f"{base_url}/w/{workspace.id}/publishing/posts/{post.id}")
        cal.add_component(event)
    return bytes(cal.to_ical())
