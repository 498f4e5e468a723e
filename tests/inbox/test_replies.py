"""Replies leave through the provider as replies in the thread, once, with the agent recorded."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from dialogo.accounts.permissions import Role
from dialogo.accounts.service import Principal
from dialogo.core.db import transaction
from dialogo.core.errors import Conflict, InvalidInput, PermissionDenied
from dialogo.inbox import ingest
from dialogo.inbox import service as inbox
from dialogo.inbox.models import Conversation, Direction, Message, Reply, ReplyStatus
from dialogo.jobs.models import Job
from dialogo.notifications.models import Notification
from dialogo.providers.errors import InvalidPayload, OutcomeUnknown, TransientError
from tests.factories import add_member
from tests.inbox.conftest import Rig, keyword_analyser


def setup_conversation(rig: Rig, text: str = "is the shop open?") -> Conversation:
    m = rig.network.message(text, author="alice", conversation_id="thread-1")
    with transaction(rig.factory) as session:
        channel = session.merge(rig.brand.channel)
        ingest.store_messages(session, channel, [m], analyser=keyword_analyser)
    found = rig.db.scalar(select(Conversation).where(Conversation.thread_key == "thread-1"))
    assert found is not None
    return found


def write(
    rig: Rig,
    conv: Conversation,
    text: str = "Yes, 8 to 20!",
    principal: Principal | None = None,
    key: str | None = None,
) -> Reply:
    with transaction(rig.factory) as session:
        reply = inbox.create_reply(
            session,
            principal or rig.brand.principal,
            rig.brand.id,
            conv.id,
            text,
            idempotency_key=key,
        )
    return reply


def sent_posts(rig: Rig) -> list[str]:
    return [p.text for p in rig.network.posts]


def test_a_reply_is_sent_once_as_a_reply_in_the_thread_with_the_agent(rig: Rig) -> None:
    agent = add_member(rig.db, rig.brand.workspace, rig.brand.owner, Role.agent)
    rig.db.commit()
    conv = setup_conversation(rig)
    reply = write(rig, conv, principal=Principal.for_user(agent))
    rig.run()
    rig.run()
    posts = rig.network.posts
    assert len(posts) == 1
    target = rig.db.scalar(select(Message).where(Message.direction == Direction.inbound.value))
    assert target is not None
    assert posts[0].reply_to == target.remote_id
    assert posts[0].idempotency_key == reply.idempotency_key
    done = rig.db.get(Reply, reply.id, populate_existing=True)
    assert done is not None and done.status == ReplyStatus.sent.value and done.agent_id == agent.id
    out = rig.db.scalar(select(Message).where(Message.direction == Direction.outbound.value))
    assert out is not None and out.sent_by == agent.id and out.remote_id == posts[0].remote_id
    assert out.conversation_id == conv.id
    rig.db.refresh(conv)
    assert conv.first_response_at == rig.clock.now() and conv.waiting_since is None
    assert conv.assignee_id == agent.id  # whoever answers takes an unassigned conversation


def test_a_double_submit_queues_one_reply(rig: Rig) -> None:
    conv = setup_conversation(rig)
    write(rig, conv, key="form-key-123")
    write(rig, conv, key="form-key-123")
    rig.run()
    assert rig.db.scalar(select(func.count()).select_from(Reply)) == 1
    assert sent_posts(rig) == ["Yes, 8 to 20!"]


def test_a_lost_answer_is_checked_on_the_network_and_not_sent_twice(rig: Rig) -> None:
    conv = setup_conversation(rig)
    reply = write(rig, conv)
    rig.network.lose_next_answers(1)  # the network posts it, the answer never arrives
    rig.run()
    rig.clock.advance(seconds=10)
    rig.run()
    assert sent_posts(rig) == ["Yes, 8 to 20!"]
    done = rig.db.get(Reply, reply.id, populate_existing=True)
    assert done is not None and done.status == ReplyStatus.sent.value
    assert any(op == "recent_posts" for op, _ in rig.network.calls)


def test_a_transient_error_is_retried_then_sent_once(rig: Rig) -> None:
    conv = setup_conversation(rig)
    write(rig, conv)
    rig.network.fail_next(TransientError("503"))
    rig.run()
    assert sent_posts(rig) == []
    rig.clock.advance(minutes=10)
    rig.run()
    assert sent_posts(rig) == ["Yes, 8 to 20!"]


def test_a_refused_reply_fails_with_the_reason_and_a_notification(rig: Rig) -> None:
    conv = setup_conversation(rig)
    reply = write(rig, conv)
    rig.network.fail_next(InvalidPayload("too long", issues=["text: too_long"]))
    rig.run()
    done = rig.db.get(Reply, reply.id, populate_existing=True)
    assert done is not None and done.status == ReplyStatus.failed.value
    assert done.last_error == "too long (text: too_long)"
    assert rig.db.scalar(select(Notification).where(Notification.kind == "inbox_reply_failed"))


def test_bad_replies_are_refused_and_nothing_is_queued(rig: Rig) -> None:
    conv = setup_conversation(rig)
    viewer = add_member(rig.db, rig.brand.workspace, rig.brand.owner, Role.viewer)
    rig.db.commit()
    with pytest.raises(InvalidInput):
        write(rig, conv, text="   ")
    with pytest.raises(InvalidInput):
        write(rig, conv, text="x" * 10_001)
    with pytest.raises(PermissionDenied):
        write(rig, conv, principal=Principal.for_user(viewer))
    with pytest.raises(InvalidInput):
        write(rig, conv, key="bad key!")
    assert rig.db.scalar(select(func.count()).select_from(Reply)) == 0
    assert rig.db.scalar(select(func.count()).select_from(Job)) == 0
    write(rig, conv, key="same-key-1")
    other = rig.network.message("another", author="bob", conversation_id="thread-2")
    with transaction(rig.factory) as session:
        ingest.store_messages(
            session, session.merge(rig.brand.channel), [other], analyser=keyword_analyser
        )
    conv2 = rig.db.scalar(select(Conversation).where(Conversation.thread_key == "thread-2"))
    assert conv2 is not None
    with pytest.raises(Conflict):
        write(rig, conv2, key="same-key-1")


def test_outcome_unknown_on_a_network_that_cannot_list_posts_asks_a_person(
    rig: Rig, monkeypatch: pytest.MonkeyPatch
) -> None:
    conv = setup_conversation(rig)
    reply = write(rig, conv)
    provider = rig.providers.get(rig.network.name)

    def cannot(self: object, *, limit: int = 20) -> list[object]:
        raise NotImplementedError("no listing")

    monkeypatch.setattr(provider, "recent_posts", cannot)
    rig.network.fail_next(OutcomeUnknown("read timeout"))
    rig.run()
    rig.clock.advance(seconds=10)
    rig.run()
    done = rig.db.get(Reply, reply.id, populate_existing=True)
    assert done is not None and done.status == ReplyStatus.unconfirmed.value
    assert sent_posts(rig) == []
