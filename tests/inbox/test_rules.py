"""Rules: conditions → actions in the documented order, applied at ingest, bad rules refused."""

from __future__ import annotations

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from dialogo.accounts.permissions import Role
from dialogo.core.errors import InvalidInput
from dialogo.inbox import ingest, rules
from dialogo.inbox import service as inbox
from dialogo.inbox.models import Conversation
from tests.factories import add_member
from tests.inbox.conftest import Brand, InboxNetwork, keyword_analyser


def facts(text: str, **kw: object) -> rules.Facts:
    base: dict[str, object] = {
        "channel_id": 1,
        "kind": "mention",
        "language": "en",
        "text": text,
        "sentiment": 0.0,
        "followers": 10,
        "is_question": False,
        "is_complaint": False,
    }
    base.update(kw)
    return rules.Facts(**base)  # type: ignore[arg-type]


def test_order_stop_and_conflicts() -> None:
    listed = [
        rules.Rule(3, 2, {"words": ["refund"]}, {"tag": "late-rule", "assign_to": 9}),
        rules.Rule(1, 1, {"words": ["Refund"]}, {"tag": "refund", "assign_to": 7, "priority": 10}),
        rules.Rule(2, 1, {"sentiment_below": -0.5}, {"priority": 20}),
        rules.Rule(4, 3, {}, {"close": True}),
    ]
    out = rules.evaluate(listed, [facts("I want a REFUND now")])
    assert out.matched == [1, 3, 4]  # position, then id; rule 2 does not match
    assert out.tags == ["refund", "late-rule", "spam"] and out.assign_to == 9
    assert out.priority == 10 and out.close
    stopping = [rules.Rule(1, 0, {"words": ["refund"]}, {"tag": "a"}, stop=True), *listed]
    assert rules.evaluate(stopping, [facts("refund")]).matched == [1]
    assert not rules.matches({"words": ["fund"]}, facts("refund please"))  # whole words
    assert rules.matches({"followers_at_least": 5, "language": "en"}, facts("x"))


def test_bad_rules_are_refused() -> None:
    for conditions, actions in (
        ({"colour": "red"}, {"tag": "x"}),
        ({}, {"explode": True}),
        ({}, {}),
        ({"words": "refund"}, {"tag": "x"}),
        ({"followers_at_least": "many"}, {"tag": "x"}),
    ):
        with pytest.raises(rules.RuleError):
            rules.validate(conditions, actions)


def test_rules_apply_at_ingest(db: Session, brand: Brand, network: InboxNetwork) -> None:
    agent = add_member(db, brand.workspace, brand.owner, Role.agent)
    viewer = add_member(db, brand.workspace, brand.owner, Role.viewer)
    inbox.create_rule(
        db,
        brand.principal,
        brand.id,
        name="refunds",
        conditions={"words": ["refund"]},
        actions={"tag": "refund", "assign_to": agent.id, "priority": 15},
    )
    inbox.create_rule(
        db,
        brand.principal,
        brand.id,
        name="spam",
        position=5,
        conditions={"words": ["crypto"]},
        actions={"close": True},
    )
    inbox.create_rule(
        db,
        brand.principal,
        brand.id,
        name="to a viewer",
        position=9,
        conditions={"words": ["viewer"]},
        actions={"assign_to": viewer.id},
    )
    with pytest.raises(InvalidInput):
        inbox.create_rule(
            db, brand.principal, brand.id, name="bad", conditions={"x": 1}, actions={"tag": "t"}
        )
    msgs = [
        network.message("I want a refund", author="a", conversation_id="r"),
        network.message("free crypto here", author="b", conversation_id="s"),
        network.message("assign me to a viewer", author="c", conversation_id="v"),
    ]
    ingest.store_messages(db, brand.channel, msgs, analyser=keyword_analyser)
    convs = {c.thread_key: c for c in db.scalars(select(Conversation))}
    assert inbox.tags_of(db, [convs["r"].id])[convs["r"].id] == ["refund"]
    assert convs["r"].assignee_id == agent.id and "rule" in convs["r"].priority_reasons
    assert convs["r"].priority == 15
    assert convs["s"].status == "closed" and inbox.tags_of(db, [convs["s"].id])[convs["s"].id] == [
        "spam"
    ]
    assert convs["v"].assignee_id is None  # a viewer may not reply: the action is ignored
    assert [r.name for r in inbox.list_rules(db, brand.principal, brand.id)] == [
        "refunds",
        "spam",
        "to a viewer",
    ]
