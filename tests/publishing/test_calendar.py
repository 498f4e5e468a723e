"""The calendar's time arithmetic (pure), moving posts, and the ICS feed behind its secret."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import icalendar
import pytest
from sqlalchemy.orm import Session

from dialogo.channels.crypto import CredentialCipher
from dialogo.core.errors import Conflict, InvalidInput, PermissionDenied
from dialogo.providers.registry import ProviderRegistry
from dialogo.publishing import calendar as cal
from dialogo.publishing import service as publishing
from dialogo.publishing.schemas import CampaignCreate, PostUpdate
from tests.factories import add_member
from tests.publishing.conftest import Brand, compose

ROME = ZoneInfo("Europe/Rome")


def test_month_grid_covers_whole_weeks() -> None:
    weeks = cal.month_grid(2026, 2)
    assert all(len(w) == 7 for w in weeks)
    assert weeks[0][0] == dt.date(2026, 1, 26) and weeks[0][0].weekday() == 0
    assert dt.date(2026, 2, 28) in weeks[-1]
    with pytest.raises(InvalidInput):
        cal.month_grid(2026, 13)


def test_week_of_starts_on_monday() -> None:
    week = cal.week_of(dt.date(2026, 3, 29))  # a Sunday
    assert week[0] == dt.date(2026, 3, 23) and week[-1] == dt.date(2026, 3, 29)


def test_moving_keeps_the_local_time_across_daylight_saving_changes() -> None:
    winter = dt.datetime(2026, 3, 20, 8, 0, tzinfo=dt.UTC)  # 09:00 in Rome (UTC+1)
    summer = cal.moved(winter, dt.date(2026, 4, 3), ROME)
    assert summer == dt.datetime(2026, 4, 3, 7, 0, tzinfo=dt.UTC)  # 09:00 in Rome (UTC+2)
    back = cal.moved(summer, dt.date(2026, 10, 30), ROME)
    assert back == dt.datetime(2026, 10, 30, 8, 0, tzinfo=dt.UTC)
    assert cal.moved(winter, dt.date(2026, 3, 21), ROME, dt.time(18, 15)).astimezone(
        ROME
    ).time() == dt.time(18, 15)


def test_a_time_skipped_by_the_clocks_lands_after_the_gap() -> None:
    # 29 March 2026, Rome: 02:00 → 03:00. 02:30 does not exist; it becomes 03:30 local.
    at = cal.to_utc(dt.date(2026, 3, 29), dt.time(2, 30), ROME)
    assert at.astimezone(ROME).time() == dt.time(3, 30)
    # 25 October 2026: 02:30 happens twice; the first one (summer time) is taken.
    twice = cal.to_utc(dt.date(2026, 10, 25), dt.time(2, 30), ROME)
    assert twice == dt.datetime(2026, 10, 25, 0, 30, tzinfo=dt.UTC)


def test_utc_span_of_local_days() -> None:
    start, end = cal.utc_span([dt.date(2026, 3, 29)], ROME)  # a 23-hour day
    assert start == dt.datetime(2026, 3, 28, 23, 0, tzinfo=dt.UTC)
    assert end - start == dt.timedelta(hours=23)


def _scheduled(
    db: Session,
    brand: Brand,
    providers: ProviderRegistry,
    cipher: CredentialCipher,
    when: dt.datetime,
    text: str = "Buongiorno!",
):  # type: ignore[no-untyped-def]
    post = compose(db, brand, text)
    return publishing.schedule_post(
        db, brand.principal, brand.id, post.id, when, registry=providers, cipher=cipher
    )


def test_reschedule_moves_to_another_day_and_keeps_the_time(
    db: Session, brand: Brand, providers: ProviderRegistry, cipher: CredentialCipher
) -> None:
    brand.workspace.timezone = "Europe/Rome"
    first = dt.datetime.now(ROME).replace(hour=9, minute=0, second=0, microsecond=0)
    first += dt.timedelta(days=2)
    post = _scheduled(db, brand, providers, cipher, first)
    target = first.date() + dt.timedelta(days=3)
    moved = cal.reschedule(
        db, brand.principal, brand.workspace, post.id, target, registry=providers, cipher=cipher
    )
    local = moved.scheduled_at.astimezone(ROME)  # type: ignore[union-attr]
    assert (local.date(), local.time()) == (target, dt.time(9, 0))
    assert {v.status for v in moved.variants} == {"scheduled"}
    assert all(v.due_at == moved.scheduled_at for v in moved.variants)

    with pytest.raises(InvalidInput) as past:
        cal.reschedule(
            db,
            brand.principal,
            brand.workspace,
            post.id,
            dt.date(2001, 1, 1),
            registry=providers,
            cipher=cipher,
        )
    assert past.value.code == "in_the_past"
    db.refresh(moved)
    assert moved.scheduled_at.astimezone(ROME).date() == target  # type: ignore[union-attr]


def test_a_viewer_cannot_move_posts(
    db: Session, brand: Brand, providers: ProviderRegistry, cipher: CredentialCipher
) -> None:
    from dialogo.accounts import service as accounts
    from dialogo.accounts.permissions import Role

    post = _scheduled(db, brand, providers, cipher, dt.datetime.now(dt.UTC) + dt.timedelta(days=2))
    viewer = add_member(db, brand.workspace, brand.owner, Role.viewer)
    with pytest.raises(PermissionDenied):
        cal.reschedule(
            db,
            accounts.Principal.for_user(viewer),
            brand.workspace,
            post.id,
            dt.date.today() + dt.timedelta(days=5),
            registry=providers,
            cipher=cipher,
        )


def test_calendar_entries_filter_by_channel_and_campaign(
    db: Session, brand: Brand, providers: ProviderRegistry, cipher: CredentialCipher
) -> None:
    when = dt.datetime.now(dt.UTC) + dt.timedelta(days=1)
    campaign = publishing.create_campaign(
        db, brand.principal, brand.id, CampaignCreate(name="Autunno")
    )
    in_campaign = compose(db, brand, "in campagna")
    publishing.update_post(
        db, brand.principal, brand.id, in_campaign.id, PostUpdate(campaign_id=campaign.id)
    )
    publishing.schedule_post(
        db, brand.principal, brand.id, in_campaign.id, when, registry=providers, cipher=cipher
    )
    _scheduled(db, brand, providers, cipher, when + dt.timedelta(hours=1), "fuori")
    compose(db, brand, "a draft has no place on the calendar")
    span = (when - dt.timedelta(days=1), when + dt.timedelta(days=1))
    entries, cut = cal.calendar_entries(db, brand.principal, brand.workspace, *span)
    assert sorted(e.summary for e in entries) == ["fuori", "in campagna"] and not cut
    only, _ = cal.calendar_entries(
        db, brand.principal, brand.workspace, *span, campaign_id=campaign.id
    )
    assert [(e.summary, e.campaign) for e in only] == [("in campagna", "Autunno")]
    none, _ = cal.calendar_entries(
        db, brand.principal, brand.workspace, *span, channel_id=brand.channel.id + 999
    )
    assert none == []


def test_the_ics_feed_parses_and_its_secret_rotates(
    db: Session, brand: Brand, providers: ProviderRegistry, cipher: CredentialCipher
) -> None:
    when = dt.datetime.now(dt.UTC).replace(microsecond=0) + dt.timedelta(days=3)
    post = _scheduled(db, brand, providers, cipher, when, "Cappuccino day ☕")
    assert cal.feed_exists(db, brand.principal, brand.id) is False
    token = cal.rotate_feed(db, brand.principal, brand.id)
    assert token.startswith(cal.FEED_TOKEN_PREFIX) and len(token) > 40
    feed = db.get(cal.CalendarFeed, brand.id)
    assert feed is not None and token not in feed.token_hash  # stored hashed only

    workspace = cal.feed_workspace(db, brand.id, token)
    assert workspace is not None and workspace.id == brand.id
    parsed = icalendar.Calendar.from_ical(cal.feed_ics(db, workspace))
    [event] = parsed.walk("VEVENT")
    assert str(event["summary"]) == "Cappuccino day ☕"
    assert event.decoded("dtstart") == when
    assert str(event["uid"]) == f"post-{post.id}@{brand.id}.dialogo"
    assert "Cappuccino day" in str(event["description"])

    assert cal.feed_workspace(db, brand.id, token + "x") is None
    assert cal.feed_workspace(db, brand.id + 1, token) is None
    newer = cal.rotate_feed(db, brand.principal, brand.id)
    assert cal.feed_workspace(db, brand.id, token) is None
    assert cal.feed_workspace(db, brand.id, newer) is not None
    cal.disable_feed(db, brand.principal, brand.id)
    assert cal.feed_workspace(db, brand.id, newer) is None


def test_a_published_post_cannot_be_moved(
    db: Session, brand: Brand, providers: ProviderRegistry, cipher: CredentialCipher
) -> None:
    post = _scheduled(db, brand, providers, cipher, dt.datetime.now(dt.UTC) + dt.timedelta(days=1))
    post.status = "published"
    for v in post.variants:
        v.status = "published"
    db.flush()
    with pytest.raises(Conflict):
        cal.reschedule(
            db,
            brand.principal,
            brand.workspace,
            post.id,
            dt.date.today() + dt.timedelta(days=4),
            registry=providers,
            cipher=cipher,
        )
