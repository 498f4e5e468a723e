"""Queue slots: the next free slot in the workspace's time zone, add to queue, suggestions."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy.orm import Session

from dialogo.accounts.permissions import Role
from dialogo.accounts.service import Principal
from dialogo.channels.crypto import CredentialCipher
from dialogo.core.errors import Conflict, NotFound, PermissionDenied
from dialogo.providers.registry import ProviderRegistry
from dialogo.providers.testing import FakeNetwork
from dialogo.publishing import service, slots
from dialogo.publishing.slots import SlotIn
from tests.factories import add_member
from tests.publishing.conftest import Brand, compose, connect

ROME = ZoneInfo("Europe/Rome")
# Friday 26 March 2027, noon UTC; Rome moves to summer time on Sunday 28 March 2027.
NOW = dt.datetime(2027, 3, 26, 12, tzinfo=dt.UTC)


def utc(*args: int) -> dt.datetime:
    return dt.datetime(*args, tzinfo=dt.UTC)


def test_candidate_times_are_local_wall_times_across_the_change() -> None:
    found = slots.candidate_times({(0, dt.time(9)), (6, dt.time(2, 30))}, ROME, NOW, weeks=2)
    assert found == [
        utc(2027, 3, 28, 1, 30),  # Sunday 02:30 does not exist that day: 03:30 CEST
        utc(2027, 3, 29, 7),  # Monday 09:00 CEST
        utc(2027, 4, 4, 0, 30),  # Sunday 02:30 CEST
        utc(2027, 4, 5, 7),
    ]


def test_add_to_queue_takes_the_next_free_slot_and_skips_taken_ones(
    db: Session, brand: Brand, providers: ProviderRegistry, cipher: CredentialCipher
) -> None:
    slots.set_slots(
        db,
        brand.principal,
        brand.id,
        brand.channel.id,
        [SlotIn(weekday=4, local_time="9:00"), SlotIn(weekday=0, local_time="18:30")],
    )
    assert [(s.weekday, s.local_time) for s in slots.list_slots(db, brand.principal, brand.id)] == [
        (0, "18:30"),
        (4, "09:00"),
    ]
    queued = []
    for text in ("uno", "due", "tre"):
        post = compose(db, brand, text)
        queued.append(
            slots.add_to_queue(
                db, brand.principal, brand.id, post.id, registry=providers, cipher=cipher, now=NOW
            ).scheduled_at
        )
    # Friday 09:00 today has passed (08:00 UTC < noon): Monday 18:30 CEST, Friday 09:00 CEST …
    assert queued == [utc(2027, 3, 29, 16, 30), utc(2027, 4, 2, 7), utc(2027, 4, 5, 16, 30)]

    # A cancelled post frees its slot again.
    first = service.list_posts(
        db, brand.principal, brand.id, service.PostFilters(scheduled_to=utc(2027, 3, 30))
    )[0]
    service.cancel_post(db, brand.principal, brand.id, first.id)
    assert slots.next_free_slot(db, brand.id, [brand.channel.id], now=NOW) == utc(
        2027, 3, 29, 16, 30
    )


def test_a_post_on_two_channels_needs_a_slot_common_to_both(
    db: Session,
    brand: Brand,
    providers: ProviderRegistry,
    cipher: CredentialCipher,
    network: FakeNetwork,
) -> None:
    second = connect(
        db, brand.owner, brand.id, network, providers, cipher, network.add_account("second")
    )
    slots.set_slots(
        db,
        brand.principal,
        brand.id,
        brand.channel.id,
        [SlotIn(weekday=0, local_time="09:00"), SlotIn(weekday=2, local_time="09:00")],
    )
    slots.set_slots(
        db, brand.principal, brand.id, second.id, [SlotIn(weekday=2, local_time="09:00")]
    )
    post = compose(db, brand, "insieme", channels=[brand.channel, second])
    done = slots.add_to_queue(
        db, brand.principal, brand.id, post.id, registry=providers, cipher=cipher, now=NOW
    )
    assert done.scheduled_at == utc(2027, 3, 31, 7)  # Wednesday, not Monday
    assert {v.due_at for v in done.variants} == {utc(2027, 3, 31, 7)}

    # Suggested slots (e.g. best times from analytics) replace the stored ones.
    assert slots.next_free_slot(
        db, brand.id, [second.id], now=NOW, suggested=[(5, dt.time(11, 15))]
    ) == utc(2027, 3, 27, 10, 15)


def test_no_slot_and_bad_input_are_clear_errors(
    db: Session, brand: Brand, providers: ProviderRegistry, cipher: CredentialCipher
) -> None:
    post = compose(db, brand)
    with pytest.raises(Conflict) as none:
        slots.add_to_queue(
            db, brand.principal, brand.id, post.id, registry=providers, cipher=cipher, now=NOW
        )
    assert none.value.code == "no_free_slot"
    assert service.get_post(db, brand.principal, brand.id, post.id).status == "draft"
    with pytest.raises(ValueError, match="time of day"):
        SlotIn(weekday=1, local_time="nine")
    with pytest.raises(ValueError):
        SlotIn(weekday=7, local_time="09:00")
    with pytest.raises(NotFound):  # the channel in the path: not found, as any resource
        slots.set_slots(db, brand.principal, brand.id, 999_999, [])
    viewer = add_member(db, brand.workspace, brand.owner, Role.viewer)
    with pytest.raises(PermissionDenied):
        slots.set_slots(db, Principal.for_user(viewer), brand.id, brand.channel.id, [])
