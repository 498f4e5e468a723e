"""Automated acknowledgements: off unless an admin turns them on; then a rule's saved reply
leaves through the provider as a real reply in the thread, once per conversation, labelled as
automated with the workspace's disclosure, never counted as the first human response nor in
the per-agent personal share."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from dialogo.accounts.permissions import Role
from dialogo.accounts.service import Principal
from dialogo.core.context import AppContext
from dialogo.core.db import transaction
from dialogo.core.errors import InvalidInput, PermissionDenied
from dialogo.inbox import acknowledge, ingest
from dialogo.inbox import service as inbox
from dialogo.inbox.models import Conversation, Direction, Message, Reply, ReplyStatus
from dialogo.inbox.schemas import InboxSettingsIn
from dialogo.providers.registry import ProviderRegistry
from dialogo.server import create_app
from tests.api.conftest import Api, token_auth
from tests.factories import add_member, make_user, make_workspace
from tests.inbox.conftest import Rig, keyword_analyser

ACK = "Thanks {name}, we got your message."


def arrange(rig: Rig, *, enabled: bool, disclosure: str | None = None, spam: bool = False) -> int:
    """A saved reply, a rule acknowledging every message (and one closing spam), and the
    workspace's switch; returns the saved reply's id."""
    with transaction(rig.factory) as session:
        p, ws = rig.brand.principal, rig.brand.id
        saved = inbox.create_saved_reply(session, p, ws, "ack", ACK)
        if spam:
            inbox.create_rule(
                session,
                p,
                ws,
                name="spam",
                conditions={"words": ["crypto"]},
                actions={"close": True},
            )
        inbox.create_rule(
            session,
            p,
            ws,
            name="ack",
            position=10,
            conditions={},
            actions={"acknowledge": saved.id},
        )
        inbox.update_settings(
            session, p, ws, InboxSettingsIn(auto_ack_enabled=enabled, ack_disclosure=disclosure)
        )
        return saved.id


def receive(rig: Rig, text: str, thread: str = "thread-1", author: str = "alice") -> Conversation:
    m = rig.network.message(text, author=author, conversation_id=thread)
    with transaction(rig.factory) as session:
        channel = session.merge(rig.brand.channel)
        ingest.store_messages(session, channel, [m], analyser=keyword_analyser)
    rig.db.expire_all()
    return rig.db.scalars(select(Conversation).where(Conversation.thread_key == thread)).one()


def replies(rig: Rig) -> list[Reply]:
    return list(rig.db.scalars(select(Reply).order_by(Reply.id)))


def test_nothing_is_sent_unless_an_admin_turns_acknowledgements_on(rig: Rig) -> None:
    arrange(rig, enabled=False)
    receive(rig, "hello, is anyone there?")
    rig.run()
    assert replies(rig) == [] and rig.network.posts == []


def test_the_acknowledgement_is_a_real_reply_labelled_automated_once(rig: Rig) -> None:
    arrange(rig, enabled=True, disclosure="Bot here: a person follows.")
    conv = receive(rig, "hello, is anyone there?")
    waiting = conv.waiting_since
    [queued] = replies(rig)
    assert queued.automated and queued.agent_id is None and queued.status == "queued"
    rig.run()
    # It left through the network as a reply in the thread, to the customer's message.
    [post] = rig.network.posts
    inbound = rig.db.scalars(
        select(Message).where(Message.direction == Direction.inbound.value)
    ).one()
    assert post.reply_to == inbound.remote_id
    assert post.text == "Thanks Alice, we got your message.\n\nBot here: a person follows."
    [sent] = replies(rig)
    assert sent.status == ReplyStatus.sent.value and sent.remote_id == post.remote_id
    out = rig.db.scalars(select(Message).where(Message.direction == Direction.outbound.value)).one()
    assert out.automated and out.sent_by is None and out.remote_id == post.remote_id
    # Not a human response: the first-response clock keeps running, still waiting.
    rig.db.refresh(conv)
    assert conv.first_response_at is None and conv.waiting_since == waiting
    assert conv.assignee_id is None
    target = inbox.first_response_target(rig.db, conv, now=rig.clock.now())
    assert target is not None and target.met is None
    # The customer writes again in the same thread: no second acknowledgement.
    receive(rig, "still there?")
    rig.run()
    assert len(rig.network.posts) == 1 and len(replies(rig)) == 1


def test_a_person_answers_after_it_and_only_that_counts(rig: Rig) -> None:
    arrange(rig, enabled=True)
    agent = add_member(rig.db, rig.brand.workspace, rig.brand.owner, Role.agent)
    rig.db.commit()
    conv = receive(rig, "my order is late?")
    rig.run()
    ack_at = rig.db.scalars(select(Reply)).one().sent_at
    rig.clock.advance(minutes=30)
    with transaction(rig.factory) as session:
        inbox.create_reply(
            session, Principal.for_user(agent), rig.brand.id, conv.id, "Checking it now, Alice."
        )
    rig.run()
    assert len(rig.network.posts) == 2
    rig.db.refresh(conv)
    assert conv.first_response_at is not None and conv.first_response_at != ack_at
    assert conv.first_response_at == rig.clock.now() and conv.waiting_since is None
    stats = inbox.response_stats(rig.db, rig.brand.principal, rig.brand.id)
    assert stats.first_response.count == 1
    # The personal share counts the person's reply only; nobody is credited with the ack.
    shares = inbox.personal_shares(rig.db, rig.brand.principal, rig.brand.id)
    assert [(s.user_id, s.replies) for s in shares] == [(agent.id, 1)]
    # Suggestions learn from what the person answered, not from the acknowledgement.
    [example] = inbox.past_examples(rig.db, rig.brand.id)
    assert example.answer == "Checking it now, Alice."


def test_a_conversation_a_person_already_answers_is_not_acknowledged(rig: Rig) -> None:
    conv = receive(rig, "first question?")
    with transaction(rig.factory) as session:
        inbox.create_reply(session, rig.brand.principal, rig.brand.id, conv.id, "Hello Alice!")
    rig.run()
    arrange(rig, enabled=True)  # turned on later
    receive(rig, "and another question?")
    rig.run()
    assert [r.automated for r in replies(rig)] == [False]
    assert [p.text for p in rig.network.posts] == ["Hello Alice!"]


def test_the_default_disclosure_and_spam(rig: Rig) -> None:
    arrange(rig, enabled=True, spam=True)
    receive(rig, "free crypto!!", thread="spam", author="bot")
    receive(rig, "hi there", thread="real")
    rig.run()
    [post] = rig.network.posts  # the closed spam conversation got nothing
    language = rig.brand.workspace.language
    assert post.text.endswith("\n\n" + acknowledge.default_disclosure(language))
    assert acknowledge.default_disclosure("en") == acknowledge.DEFAULT_DISCLOSURE


def test_only_admins_turn_it_on_and_rules_are_checked(rig: Rig) -> None:
    db, ws = rig.db, rig.brand.id
    agent = add_member(db, rig.brand.workspace, rig.brand.owner, Role.agent)
    with pytest.raises(PermissionDenied):
        inbox.update_settings(
            db, Principal.for_user(agent), ws, InboxSettingsIn(auto_ack_enabled=True)
        )
    with_agent = inbox.create_saved_reply(db, rig.brand.principal, ws, "signed", "Hi, {agent}")
    stranger = make_user(db)
    foreign = inbox.create_saved_reply(
        db, Principal.for_user(stranger), make_workspace(db, stranger).id, "x", "Hello"
    )

    def refused(value: object) -> str:
        with pytest.raises(InvalidInput) as caught:
            inbox.create_rule(
                db, rig.brand.principal, ws, name="r", conditions={}, actions={"acknowledge": value}
            )
        return caught.value.code

    assert refused(with_agent.id) == "rule_ack_agent"
    assert refused(foreign.id) == "rule_ack_invalid"
    assert refused(987654) == "rule_ack_invalid"
    assert refused("1") == "rule_invalid"
    assert inbox.list_rules(db, rig.brand.principal, ws) == []


# --- through the API ----------------------------------------------------------------------------


@pytest.fixture
def api(ctx: AppContext, providers: ProviderRegistry) -> Iterator[Api]:
    with TestClient(create_app(dataclasses.replace(ctx, providers=providers))) as client:
        yield Api(client)


def test_labelled_automated_in_the_api(api: Api, rig: Rig) -> None:
    auth, _, _ = token_auth(rig.db, rig.brand.owner, ["admin"])
    rig.db.commit()
    base = f"/api/v1/workspaces/{rig.brand.id}"
    saved = api.post(f"{base}/inbox/saved-replies", json={"name": "ack", "body": ACK}, auth=auth)
    assert saved.status_code == 201, saved.text
    rule = api.post(
        f"{base}/inbox/rules",
        json={"name": "ack", "actions": {"acknowledge": saved.json()["id"]}},
        auth=auth,
    )
    assert rule.status_code == 201, rule.text
    settings = api.put(
        f"{base}/inbox/settings",
        json={"auto_ack_enabled": True, "ack_disclosure": "Bot"},
        auth=auth,
    )
    assert (
        settings.json()["auto_ack_enabled"] is True and settings.json()["ack_disclosure"] == "Bot"
    )
    conv = receive(rig, "hello?")
    rig.run()
    detail = api.get(f"{base}/conversations/{conv.id}", auth=auth).json()
    assert [(m["direction"], m["automated"]) for m in detail["messages"]] == [
        ("inbound", False),
        ("outbound", True),
    ]
    [reply] = detail["replies"]
    assert reply["automated"] is True and reply["agent_id"] is None and reply["status"] == "sent"
    assert detail["first_response_at"] is None
