"""Inbox rules through the API: list in evaluation order, create, edit, delete; bad rules are
problems that change nothing; only those who may change the workspace edit rules."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from dialogo.accounts.permissions import Role
from dialogo.core.context import AppContext
from dialogo.inbox import ingest
from dialogo.inbox.models import Conversation, ConversationTag, InboxRule
from dialogo.providers.registry import ProviderRegistry
from dialogo.server import create_app
from tests.api.conftest import Api, assert_problem, token_auth
from tests.factories import add_member
from tests.inbox.conftest import Brand, InboxNetwork, keyword_analyser


@pytest.fixture
def api(ctx: AppContext, providers: ProviderRegistry) -> Iterator[Api]:
    with TestClient(create_app(dataclasses.replace(ctx, providers=providers))) as client:
        yield Api(client)


def test_rules_are_listed_created_edited_and_deleted(
    api: Api, db: Session, brand: Brand, network: InboxNetwork
) -> None:
    auth, _, _ = token_auth(db, brand.owner, ["admin"])
    agent = add_member(db, brand.workspace, brand.owner, Role.agent)
    db.commit()
    base = f"/api/v1/workspaces/{brand.id}/inbox/rules"
    later = api.post(
        base,
        json={"name": "late", "position": 10, "conditions": {}, "actions": {"tag": "seen"}},
        auth=auth,
    )
    assert later.status_code == 201, later.text
    first = api.post(
        base,
        json={
            "name": "refunds",
            "position": 1,
            "conditions": {"words": ["refund"], "channel_id": brand.channel.id},
            "actions": {"tag": "refund", "assign_to": agent.id, "priority": 20},
        },
        auth=auth,
    )
    assert first.status_code == 201, first.text
    listed = api.get(base, auth=auth).json()
    assert [r["name"] for r in listed] == ["refunds", "late"]  # by position
    rid = first.json()["id"]
    edited = api.put(
        f"{base}/{rid}",
        json={
            "name": "refunds!",
            "position": 1,
            "stop": True,
            "conditions": {"words": ["refund", "rimborso"]},
            "actions": {"tag": "refund"},
        },
        auth=auth,
    )
    assert edited.status_code == 200 and edited.json()["stop"] is True
    # the edited rule applies at ingest and, with stop, ends the evaluation
    ingest.store_messages(
        db,
        brand.channel,
        [network.message("voglio un rimborso", author="ugo", conversation_id="r")],
        analyser=keyword_analyser,
    )
    db.commit()
    conv = db.scalar(select(Conversation).where(Conversation.thread_key == "r"))
    assert conv is not None
    assert list(
        db.scalars(select(ConversationTag.tag).where(ConversationTag.conversation_id == conv.id))
    ) == ["refund"]
    assert api.delete(f"{base}/{rid}", auth=auth).status_code == 204
    assert [r["name"] for r in api.get(base, auth=auth).json()] == ["late"]
    assert_problem(api.delete(f"{base}/{rid}", auth=auth), 404)


def test_bad_rules_are_refused_and_change_nothing(
    api: Api, db: Session, brand: Brand, network: InboxNetwork
) -> None:
    auth, _, _ = token_auth(db, brand.owner, ["admin"])
    db.commit()
    base = f"/api/v1/workspaces/{brand.id}/inbox/rules"
    good = api.post(base, json={"name": "ok", "actions": {"tag": "ok"}}, auth=auth).json()
    for body in (
        {"name": "x", "conditions": {"colour": "red"}, "actions": {"tag": "t"}},
        {"name": "x", "actions": {}},
        {"name": "x", "conditions": {"words": "refund"}, "actions": {"tag": "t"}},
        {"name": "x", "conditions": {"question": "yes"}, "actions": {"tag": "t"}},
        {"name": "x", "conditions": {"channel_id": 999_999}, "actions": {"tag": "t"}},
        {"name": "x", "actions": {"assign_to": 999_999}},
        {"name": "x", "actions": {"tag": "bad<tag>"}},
        {"name": "x", "actions": {"close": "please"}},
        {"name": "", "actions": {"tag": "t"}},
    ):
        assert_problem(api.post(base, json=body, auth=auth), 422)
        assert_problem(api.put(f"{base}/{good['id']}", json=body, auth=auth), 422)
    db.expire_all()
    assert db.scalar(select(func.count()).select_from(InboxRule)) == 1
    row = db.get(InboxRule, good["id"])
    assert row is not None and row.name == "ok" and row.actions == {"tag": "ok"}


def test_agents_read_rules_but_do_not_change_them(
    api: Api, db: Session, brand: Brand, network: InboxNetwork
) -> None:
    agent = add_member(db, brand.workspace, brand.owner, Role.agent)
    auth, _, _ = token_auth(db, agent, ["admin"])
    db.commit()
    base = f"/api/v1/workspaces/{brand.id}/inbox/rules"
    assert api.get(base, auth=auth).status_code == 200
    assert_problem(api.post(base, json={"name": "x", "actions": {"tag": "t"}}, auth=auth), 403)
