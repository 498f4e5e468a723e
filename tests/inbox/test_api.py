"""The inbox API: list, read, assign, status, tags, notes, replies, quarantine, settings, and
problems for bad input."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from dialogo.accounts.permissions import Role
from dialogo.core.context import AppContext
from dialogo.inbox import ingest
from dialogo.providers.registry import ProviderRegistry
from dialogo.server import create_app
from tests.api.conftest import Api, Auth, assert_problem, token_auth
from tests.factories import add_member
from tests.inbox.conftest import Brand, InboxNetwork, keyword_analyser


@pytest.fixture
def api(ctx: AppContext, providers: ProviderRegistry) -> Iterator[Api]:
    with TestClient(create_app(dataclasses.replace(ctx, providers=providers))) as client:
        yield Api(client)


@pytest.fixture
def auth(db: Session, brand: Brand) -> Auth:
    auth, _, _ = token_auth(db, brand.owner, ["admin"])
    db.commit()
    return auth


def test_work_a_conversation_through_the_api(
    api: Api, auth: Auth, db: Session, brand: Brand, network: InboxNetwork
) -> None:
    m = network.message("my parcel is broken?", author="olga", conversation_id="t")
    ingest.store_messages(db, brand.channel, [m], analyser=keyword_analyser)
    ingest.quarantine(db, brand.channel, {"x": 1}, "the message has no author", now=m.created_at)
    agent = add_member(db, brand.workspace, brand.owner, Role.agent)
    db.commit()
    base = f"/api/v1/workspaces/{brand.id}"
    listed = api.get(f"{base}/conversations", auth=auth).json()
    assert len(listed) == 1 and listed[0]["priority_reasons"] == [
        "complaint",
        "negative",
        "question",
    ]
    cid = listed[0]["id"]
    url = f"{base}/conversations/{cid}"
    assigned = api.post(f"{url}/assign", json={"assignee_id": agent.id}, auth=auth)
    assert assigned.status_code == 200 and assigned.json()["assignee_id"] == agent.id
    assert api.post(f"{url}/tags", json={"tag": "Refund"}, auth=auth).json() == ["refund"]
    assert api.post(f"{url}/notes", json={"body": "call back"}, auth=auth).status_code == 201
    reply = api.post(f"{url}/replies", json={"text": "Sorry! A new one is on its way."}, auth=auth)
    assert reply.status_code == 202 and reply.json()["status"] == "queued"
    detail = api.get(url, auth=auth).json()
    assert [x["text"] for x in detail["messages"]] == ["my parcel is broken?"]
    assert detail["notes"][0]["body"] == "call back" and detail["tags"] == ["refund"]
    assert detail["replies"][0]["text"] == "Sorry! A new one is on its way."
    closed = api.post(f"{url}/status", json={"status": "closed"}, auth=auth).json()
    assert closed["status"] == "closed" and closed["resolved_at"]
    assert api.delete(f"{url}/tags/refund", auth=auth).json() == []
    q = api.get(f"{base}/inbox/quarantine", auth=auth).json()
    assert q[0]["reason"] == "the message has no author"


def test_bad_input_is_a_problem_and_changes_nothing(
    api: Api, auth: Auth, db: Session, brand: Brand, network: InboxNetwork
) -> None:
    m = network.message("hello", author="pia", conversation_id="t")
    ingest.store_messages(db, brand.channel, [m], analyser=keyword_analyser)
    db.commit()
    base = f"/api/v1/workspaces/{brand.id}"
    cid = api.get(f"{base}/conversations", auth=auth).json()[0]["id"]
    url = f"{base}/conversations/{cid}"
    assert_problem(api.post(f"{url}/replies", json={"text": ""}, auth=auth), 422)
    assert_problem(api.post(f"{url}/replies", json={"text": "   "}, auth=auth), 422)
    assert_problem(api.post(f"{url}/status", json={"status": "maybe"}, auth=auth), 422)
    past = api.post(
        f"{url}/status",
        json={"status": "snoozed", "snoozed_until": "2000-01-01T00:00:00Z"},
        auth=auth,
    )
    assert assert_problem(past, 422)["code"] == "snooze_invalid"
    assert (
        assert_problem(api.post(f"{url}/assign", json={"assignee_id": 987654}, auth=auth), 422)[
            "code"
        ]
        == "assignee_invalid"
    )
    assert_problem(api.get(f"{base}/conversations/999999", auth=auth), 404)
    settings = api.put(
        f"{base}/inbox/settings",
        json={"business_hours": {"mon": [{"start": "18:00", "end": "09:00"}]}},
        auth=auth,
    )
    assert_problem(settings, 422)
    good = api.put(
        f"{base}/inbox/settings",
        json={
            "first_response_minutes": 30,
            "business_hours": {"mon": [{"start": "09:00", "end": "18:00"}]},
        },
        auth=auth,
    )
    assert good.status_code == 200 and good.json()["business_hours"] == {
        "mon": [["09:00", "18:00"]]
    }
    detail = api.get(url, auth=auth).json()
    assert detail["status"] == "open" and detail["replies"] == [] and detail["assignee_id"] is None
