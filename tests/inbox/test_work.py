"""The inbox's work: assignment, statuses, tags, notes, presence, priority, permissions."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy.orm import Session

from dialogo.accounts.permissions import Role
from dialogo.accounts.service import Principal
from dialogo.core.errors import InvalidInput, NotFound, PermissionDenied
from dialogo.inbox import ingest
from dialogo.inbox import service as inbox
from dialogo.inbox.models import Conversation, ConversationStatus
from dialogo.inbox.schemas import ConversationFilters
from tests.factories import add_member, make_user, make_workspace
from tests.inbox.conftest import START, Brand, InboxNetwork, keyword_analyser


def conversation(
    db: Session, brand: Brand, network: InboxNetwork, text: str = "hello?", **kw: object
) -> Conversation:
    m = network.message(text, **kw)  # type: ignore[arg-type]
    ingest.store_messages(db, brand.channel, [m], analyser=keyword_analyser)
    found = db.query(Conversation).filter_by(thread_key=m.conversation_id or m.remote_id).one()
    return found


def test_manual_assignment_only_to_members_who_may_reply(
    db: Session, brand: Brand, network: InboxNetwork
) -> None:
    agent = add_member(db, brand.workspace, brand.owner, Role.agent)
    viewer = add_member(db, brand.workspace, brand.owner, Role.viewer)
    conv = conversation(db, brand, network)
    inbox.assign(db, brand.principal, brand.id, conv.id, agent.id)
    assert conv.assignee_id == agent.id
    with pytest.raises(InvalidInput):
        inbox.assign(db, brand.principal, brand.id, conv.id, viewer.id)
    with pytest.raises(PermissionDenied):
        inbox.assign(db, Principal.for_user(viewer), brand.id, conv.id, None)
    stranger = make_user(db)
    with pytest.raises(NotFound):
        inbox.get_conversation(db, Principal.for_user(stranger), brand.id, conv.id)
    other = make_workspace(db, stranger)
    with pytest.raises(NotFound):  # a conversation of another workspace
        inbox.get_conversation(db, Principal.for_user(stranger), other.id, conv.id)


def test_round_robin_takes_turns(db: Session, brand: Brand, network: InboxNetwork) -> None:
    a = add_member(db, brand.workspace, brand.owner, Role.agent)
    b = add_member(db, brand.workspace, brand.owner, Role.editor)
    add_member(db, brand.workspace, brand.owner, Role.viewer)  # may not reply: skipped
    convs = [conversation(db, brand, network, f"q{i}", author=f"p{i}") for i in range(4)]
    got = [inbox.assign_round_robin(db, brand.principal, brand.id, c.id).assignee_id for c in convs]
    assert got == [brand.owner.id, a.id, b.id, brand.owner.id]


def test_statuses_snooze_and_resolution(db: Session, brand: Brand, network: InboxNetwork) -> None:
    conv = conversation(db, brand, network)
    now = START + dt.timedelta(days=1)
    with pytest.raises(InvalidInput):
        inbox.set_status(
            db, brand.principal, brand.id, conv.id, ConversationStatus.snoozed, now=now
        )
    with pytest.raises(InvalidInput):
        inbox.set_status(
            db,
            brand.principal,
            brand.id,
            conv.id,
            ConversationStatus.snoozed,
            snoozed_until=now - dt.timedelta(hours=1),
            now=now,
        )
    inbox.set_status(
        db,
        brand.principal,
        brand.id,
        conv.id,
        ConversationStatus.snoozed,
        snoozed_until=now + dt.timedelta(hours=2),
        now=now,
    )
    active = ConversationFilters(status="active")
    assert inbox.list_conversations(db, brand.principal, brand.id, active, now=now) == []
    later = now + dt.timedelta(hours=3)
    assert [
        c.id for c in inbox.list_conversations(db, brand.principal, brand.id, active, now=later)
    ] == [conv.id]
    inbox.set_status(db, brand.principal, brand.id, conv.id, ConversationStatus.closed, now=later)
    assert conv.resolved_at == later and conv.snoozed_until is None
    inbox.set_status(db, brand.principal, brand.id, conv.id, ConversationStatus.pending, now=later)
    assert conv.resolved_at is None


def test_tags_notes_and_filters(db: Session, brand: Brand, network: InboxNetwork) -> None:
    one = conversation(db, brand, network, "where is my order?", author="a")
    two = conversation(db, brand, network, "nice", author="b")
    assert inbox.add_tag(db, brand.principal, brand.id, one.id, "  Shipping ") == ["shipping"]
    inbox.add_tag(db, brand.principal, brand.id, one.id, "shipping")
    assert inbox.add_tag(db, brand.principal, brand.id, one.id, "vip") == ["shipping", "vip"]
    with pytest.raises(InvalidInput):
        inbox.add_tag(db, brand.principal, brand.id, one.id, "<script>")
    assert inbox.remove_tag(db, brand.principal, brand.id, one.id, "vip") == ["shipping"]
    tagged = inbox.list_conversations(
        db, brand.principal, brand.id, ConversationFilters(tag="shipping")
    )
    assert [c.id for c in tagged] == [one.id]
    found = inbox.list_conversations(db, brand.principal, brand.id, ConversationFilters(q="NICE"))
    assert [c.id for c in found] == [two.id]
    note = inbox.add_note(db, brand.principal, brand.id, one.id, "  customer since 2019 ")
    assert note.body == "customer since 2019"
    with pytest.raises(InvalidInput):
        inbox.add_note(db, brand.principal, brand.id, one.id, "   ")
    assert [n.body for n in inbox.notes_of(db, one)] == ["customer since 2019"]
    inbox.assign(db, brand.principal, brand.id, two.id, brand.owner.id)
    mine = inbox.list_conversations(
        db, brand.principal, brand.id, ConversationFilters(assignee="me")
    )
    unassigned = inbox.list_conversations(
        db, brand.principal, brand.id, ConversationFilters(assignee="unassigned")
    )
    assert [c.id for c in mine] == [two.id] and [c.id for c in unassigned] == [one.id]


def test_someone_else_is_replying(db: Session, brand: Brand, network: InboxNetwork) -> None:
    agent = add_member(db, brand.workspace, brand.owner, Role.agent)
    conv = conversation(db, brand, network)
    now = START
    assert inbox.touch_presence(db, brand.principal, brand.id, conv.id, now=now) == []
    others = inbox.touch_presence(
        db, Principal.for_user(agent), brand.id, conv.id, now=now + dt.timedelta(seconds=10)
    )
    assert [u.id for u in others] == [brand.owner.id]
    # The owner stopped typing 40 s ago: no warning any more.
    assert (
        inbox.touch_presence(
            db, Principal.for_user(agent), brand.id, conv.id, now=now + dt.timedelta(seconds=40)
        )
        == []
    )


def test_priority_orders_the_list_and_grows_with_waiting(
    db: Session, brand: Brand, network: InboxNetwork
) -> None:
    calm = conversation(db, brand, network, "nice", author="a", at=START)
    angry = conversation(db, brand, network, "it arrived broken", author="b", at=START)
    listed = inbox.list_conversations(db, brand.principal, brand.id, ConversationFilters())
    assert [c.id for c in listed] == [angry.id, calm.id]
    assert inbox.effective_priority(calm, START + dt.timedelta(minutes=30)).reasons == ()
    waited = inbox.effective_priority(calm, START + dt.timedelta(hours=5))
    assert waited.reasons == ("waiting",) and waited.score == 30


def test_response_times_in_business_hours_of_the_workspace(
    db: Session, brand: Brand, network: InboxNetwork
) -> None:
    from dialogo.inbox.schemas import InboxSettingsIn

    inbox.update_settings(
        db,
        brand.principal,
        brand.id,
        InboxSettingsIn.model_validate(
            {
                "first_response_minutes": 60,
                "business_hours": {d: [{"start": "09:00", "end": "18:00"}] for d in ("sat", "sun")},
            }
        ),
    )
    assert brand.workspace.timezone == "Europe/Rome"
    # Saturday 28 March 2026 17:30 in Rome; answered Sunday 09:30 Rome (after the DST change).
    asked = dt.datetime(2026, 3, 28, 16, 30, tzinfo=dt.UTC)
    conv = conversation(db, brand, network, "open tomorrow?", author="zoe", at=asked)
    target = inbox.first_response_target(db, conv, now=asked)
    assert target is not None and target.due == dt.datetime(2026, 3, 29, 7, 30, tzinfo=dt.UTC)
    conv.first_response_at = dt.datetime(2026, 3, 29, 7, 30, tzinfo=dt.UTC)
    conv.resolved_at = dt.datetime(2026, 3, 29, 8, 30, tzinfo=dt.UTC)
    db.flush()
    stats = inbox.response_stats(db, brand.principal, brand.id)
    assert stats.first_response.median_seconds == 3600 and stats.first_response.within_target == 1
    assert stats.resolution.median_seconds == 7200
