"""Recurring posts: rules in the workspace's time zone across daylight-saving changes, and
idempotent materialisation into scheduled posts."""

from __future__ import annotations

import datetime as dt
import itertools
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from dialogo.channels.crypto import CredentialCipher
from dialogo.core.errors import InvalidInput, PermissionDenied
from dialogo.notifications.models import Notification
from dialogo.providers.registry import ProviderRegistry
from dialogo.providers.testing import FakeNetwork
from dialogo.publishing import recurrence, service
from dialogo.publishing.models import (
    Post,
    RecurrenceFrequency,
    RecurringOccurrence,
    VariantStatus,
)
from dialogo.publishing.recurrence import LocalTimeKind, RecurringIn, Rule
from dialogo.publishing.schemas import PublishingSettingsIn, VariantIn
from tests.factories import add_member
from tests.publishing.conftest import Brand, connect

ROME = ZoneInfo("Europe/Rome")
UTC = dt.UTC


def utc(*args: int) -> dt.datetime:
    return dt.datetime(*args, tzinfo=UTC)


def test_weekly_0900_rome_stays_0900_local_across_both_2026_dst_changes() -> None:
    # Sundays at 09:00, from March to November 2026: the clocks change on Sunday 29 March
    # (02:00 → 03:00) and Sunday 25 October (03:00 → 02:00), both days included.
    rule = Rule(RecurrenceFrequency.weekly, dt.time(9, 0), dt.date(2026, 3, 1), weekdays=(6,))
    found = recurrence.occurrences(rule, ROME, utc(2026, 3, 1), utc(2026, 11, 30))
    assert len(found) == 40  # every Sunday from 1 March to 29 November
    assert {t.astimezone(ROME).time() for t in found} == {dt.time(9, 0)}
    assert {t.astimezone(ROME).weekday() for t in found} == {6}
    by_date = {t.astimezone(ROME).date(): t for t in found}
    assert by_date[dt.date(2026, 3, 22)] == utc(2026, 3, 22, 8)  # CET, +01:00
    assert by_date[dt.date(2026, 3, 29)] == utc(2026, 3, 29, 7)  # the change's day: CEST
    assert by_date[dt.date(2026, 10, 18)] == utc(2026, 10, 18, 7)
    assert by_date[dt.date(2026, 10, 25)] == utc(2026, 10, 25, 8)  # back to CET
    gaps = {b - a for a, b in itertools.pairwise(found)}
    # A week is 167 h at the spring change, 169 h at the autumn one, 168 h otherwise.
    assert gaps == {dt.timedelta(hours=168), dt.timedelta(hours=167), dt.timedelta(hours=169)}


def test_nonexistent_local_time_moves_forward_by_the_gap() -> None:
    day = dt.date(2026, 3, 29)
    assert recurrence.classify_local(day, dt.time(2, 30), ROME) is LocalTimeKind.nonexistent
    when = recurrence.resolve_local(day, dt.time(2, 30), ROME)
    assert when == utc(2026, 3, 29, 1, 30)
    assert when.astimezone(ROME).replace(tzinfo=None) == dt.datetime(2026, 3, 29, 3, 30)


def test_ambiguous_local_time_takes_the_first_instant() -> None:
    day = dt.date(2026, 10, 25)
    assert recurrence.classify_local(day, dt.time(2, 30), ROME) is LocalTimeKind.ambiguous
    when = recurrence.resolve_local(day, dt.time(2, 30), ROME)
    assert when == utc(2026, 10, 25, 0, 30)  # 02:30 CEST, not 02:30 CET (01:30 UTC)
    assert when.astimezone(ROME).utcoffset() == dt.timedelta(hours=2)
    assert recurrence.classify_local(day, dt.time(9, 0), ROME) is LocalTimeKind.normal


def test_daily_rule_at_0230_neither_skips_nor_doubles_a_day_at_either_change() -> None:
    rule = Rule(RecurrenceFrequency.daily, dt.time(2, 30), dt.date(2026, 1, 1))
    for start in (utc(2026, 3, 27), utc(2026, 10, 23)):
        found = recurrence.occurrences(rule, ROME, start, start + dt.timedelta(days=5))
        local_days = [t.astimezone(ROME).date() for t in found]
        assert len(found) == 5 and len(set(local_days)) == 5


def test_monthly_skips_months_without_the_day_and_interval_counts_from_the_start() -> None:
    rule = Rule(RecurrenceFrequency.monthly, dt.time(10, 0), dt.date(2026, 1, 31))
    found = recurrence.occurrences(rule, ROME, utc(2026, 1, 1), utc(2026, 8, 1))
    assert [t.astimezone(ROME).date() for t in found] == [
        dt.date(2026, 1, 31),
        dt.date(2026, 3, 31),
        dt.date(2026, 5, 31),
        dt.date(2026, 7, 31),
    ]
    fortnightly = Rule(
        RecurrenceFrequency.weekly, dt.time(9, 0), dt.date(2026, 1, 5), interval=2, weekdays=(0, 3)
    )
    days = [
        t.astimezone(ROME).date()
        for t in recurrence.occurrences(fortnightly, ROME, utc(2026, 1, 1), utc(2026, 2, 1))
    ]
    assert days == [
        dt.date(2026, 1, 5),
        dt.date(2026, 1, 8),
        dt.date(2026, 1, 19),
        dt.date(2026, 1, 22),
    ]


def test_ends_on_and_bad_rules() -> None:
    rule = Rule(
        RecurrenceFrequency.daily, dt.time(9, 0), dt.date(2026, 1, 1), ends_on=dt.date(2026, 1, 3)
    )
    assert len(recurrence.occurrences(rule, ROME, utc(2025, 12, 1), utc(2026, 2, 1))) == 3
    with pytest.raises(ValueError, match="interval"):
        Rule(RecurrenceFrequency.daily, dt.time(9, 0), dt.date(2026, 1, 1), interval=0)
    with pytest.raises(InvalidInput) as bad:
        recurrence.parse_local_time("9h30")
    assert bad.value.code == "bad_local_time"
    with pytest.raises(InvalidInput):
        recurrence.parse_local_time("25:00")
    with pytest.raises(InvalidInput) as tz:
        recurrence.zone("Mars/Olympus_Mons")
    assert tz.value.code == "unknown_timezone"
    with pytest.raises(ValueError, match="month_day"):
        RecurringIn(
            frequency=RecurrenceFrequency.weekly,
            month_day=3,
            local_time="09:00",
            starts_on=dt.date(2026, 1, 1),
            variants=[VariantIn(channel_id=1, text="x")],
        )


# --- materialising ------------------------------------------------------------------------------

# In the future, so the dispatcher would really publish these; 2027's changes: 28 March, 31 Oct.
NOW = utc(2027, 3, 20, 12)


def weekly_rule(brand: Brand, text: str = "Buona domenica!", **extra: object) -> RecurringIn:
    return RecurringIn(
        name="Sunday greeting",
        frequency=RecurrenceFrequency.weekly,
        weekdays=[6],
        local_time="09:00",
        starts_on=dt.date(2027, 3, 1),
        variants=[VariantIn(channel_id=brand.channel.id, text=text)],
        **extra,  # type: ignore[arg-type]
    )


def test_materialises_scheduled_posts_at_local_time_idempotently(
    db: Session, brand: Brand, providers: ProviderRegistry, cipher: CredentialCipher
) -> None:
    row = recurrence.create_recurring(
        db,
        brand.principal,
        brand.id,
        weekly_rule(brand),
        registry=providers,
        cipher=cipher,
        now=NOW,
        horizon=dt.timedelta(days=21),
    )
    posts = recurrence.occurrence_posts(db, row)
    assert [p.scheduled_at for p in posts] == [
        utc(2027, 3, 21, 8),  # CET
        utc(2027, 3, 28, 7),  # CEST from that very morning
        utc(2027, 4, 4, 7),
    ]
    for post in posts:
        assert post.status == "scheduled"
        assert [(v.status, v.due_at, v.text) for v in post.variants] == [
            (VariantStatus.scheduled.value, post.scheduled_at, "Buona domenica!")
        ]
    # Again, and again a day later with a longer horizon: nothing twice, only the new one.
    assert (
        recurrence.materialise(
            db, row, registry=providers, cipher=cipher, now=NOW, horizon=dt.timedelta(days=21)
        )
        == []
    )
    later = recurrence.materialise(
        db,
        row,
        registry=providers,
        cipher=cipher,
        now=NOW + dt.timedelta(days=1),
        horizon=dt.timedelta(days=21),
    )
    assert [o.occurs_at for o in later] == [utc(2027, 4, 11, 7)]
    count = db.scalar(
        select(func.count())
        .select_from(RecurringOccurrence)
        .where(RecurringOccurrence.recurring_id == row.id)
    )
    assert count == 4


def test_an_occurrence_its_network_would_refuse_stays_a_draft_and_notifies(
    db: Session,
    brand: Brand,
    providers: ProviderRegistry,
    cipher: CredentialCipher,
    other_network: FakeNetwork,
) -> None:
    short = connect(
        db,
        brand.owner,
        brand.id,
        other_network,
        providers,
        cipher,
        other_network.add_account("short"),
    )
    data = weekly_rule(brand)
    data.variants = [VariantIn(channel_id=short.id, text="far too long for twenty characters")]
    row = recurrence.create_recurring(
        db,
        brand.principal,
        brand.id,
        data,
        registry=providers,
        cipher=cipher,
        now=NOW,
        horizon=dt.timedelta(days=7),
    )
    [post] = recurrence.occurrence_posts(db, row)
    assert post.status == "draft" and post.scheduled_at is None
    occurrence = db.scalar(
        select(RecurringOccurrence).where(RecurringOccurrence.recurring_id == row.id)
    )
    assert occurrence is not None and "shortnet" in (occurrence.error or "")
    note = db.scalar(
        select(Notification).where(
            Notification.workspace_id == brand.id,
            Notification.kind == "recurring_post_not_scheduled",
        )
    )
    assert note is not None


def test_stop_cancels_future_occurrences_and_materialises_no_more(
    db: Session, brand: Brand, providers: ProviderRegistry, cipher: CredentialCipher
) -> None:
    row = recurrence.create_recurring(
        db,
        brand.principal,
        brand.id,
        weekly_rule(brand),
        registry=providers,
        cipher=cipher,
        now=NOW,
        horizon=dt.timedelta(days=14),
    )
    recurrence.stop_recurring(db, brand.principal, brand.id, row.id)
    assert {p.status for p in recurrence.occurrence_posts(db, row)} == {"cancelled"}
    assert (
        recurrence.materialise(
            db, row, registry=providers, cipher=cipher, now=NOW, horizon=dt.timedelta(days=60)
        )
        == []
    )
    assert recurrence.materialise_all(db, registry=providers, cipher=cipher, now=NOW) == 0


def test_where_approval_is_required_only_an_approver_may_create_a_rule(
    db: Session, brand: Brand, providers: ProviderRegistry, cipher: CredentialCipher
) -> None:
    from dialogo.accounts.permissions import Role
    from dialogo.accounts.service import Principal

    service.update_settings(
        db,
        brand.principal,
        brand.id,
        PublishingSettingsIn(approval_required=True, approval_stages=["editor", "client"]),
    )
    editor = add_member(db, brand.workspace, brand.owner, Role.editor)
    with pytest.raises(PermissionDenied):
        recurrence.create_recurring(
            db,
            Principal.for_user(editor),
            brand.id,
            weekly_rule(brand),
            registry=providers,
            cipher=cipher,
            now=NOW,
        )
    row = recurrence.create_recurring(
        db,
        brand.principal,
        brand.id,
        weekly_rule(brand),
        registry=providers,
        cipher=cipher,
        now=NOW,
        horizon=dt.timedelta(days=7),
    )
    [post] = recurrence.occurrence_posts(db, row)
    assert post.status == "scheduled" and post.approval_step == 2
    assert db.get(Post, post.id) is post
