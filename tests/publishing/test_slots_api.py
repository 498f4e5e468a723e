"""Queue slots and recurring posts through the API."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from dialogo.core.context import AppContext
from dialogo.providers.registry import ProviderRegistry
from dialogo.server import create_app
from tests.api.conftest import Api, Auth, assert_problem, token_auth
from tests.publishing.conftest import Brand


@pytest.fixture
def api(ctx: AppContext, providers: ProviderRegistry) -> Iterator[Api]:
    with TestClient(create_app(dataclasses.replace(ctx, providers=providers))) as client:
        yield Api(client)


@pytest.fixture
def auth(db: Session, brand: Brand) -> Auth:
    auth, _, _ = token_auth(db, brand.owner, ["write"])
    db.commit()
    return auth


def test_slots_queue_and_recurring_posts(api: Api, auth: Auth, brand: Brand) -> None:
    base = f"/api/v1/workspaces/{brand.id}"
    channel = brand.channel.id
    slots = [{"weekday": d, "local_time": "09:00"} for d in range(7)]
    put = api.put(f"{base}/channels/{channel}/queue-slots", json=slots, auth=auth)
    assert put.status_code == 200, put.text
    assert (
        len(api.get(f"{base}/queue-slots", params={"channel_id": channel}, auth=auth).json()) == 7
    )
    nxt = api.get(f"{base}/queue-slots/next", params={"channel_id": channel}, auth=auth).json()
    assert nxt["local_time"][11:16] == "09:00"  # every day at 09:00 in Europe/Rome
    bad = api.put(
        f"{base}/channels/{channel}/queue-slots",
        json=[{"weekday": 9, "local_time": "x"}],
        auth=auth,
    )
    assert assert_problem(bad, 422)["code"] == "validation_failed"

    post = api.post(
        f"{base}/posts", json={"variants": [{"channel_id": channel, "text": "In coda"}]}, auth=auth
    ).json()
    queued = api.post(f"{base}/posts/{post['id']}/queue", auth=auth)
    assert queued.status_code == 200, queued.text
    assert queued.json()["status"] == "scheduled"
    assert queued.json()["scheduled_at"][:16] == nxt["scheduled_at"][:16]
    after = api.get(f"{base}/queue-slots/next", params={"channel_id": channel}, auth=auth).json()
    assert after["scheduled_at"] > nxt["scheduled_at"]  # that slot is taken now

    rule = api.post(
        f"{base}/recurring-posts",
        json={
            "frequency": "weekly",
            "weekdays": [0],
            "local_time": "10:30",
            "starts_on": "2020-01-06",
            "variants": [{"channel_id": channel, "text": "Buon lunedì"}],
        },
        auth=auth,
    )
    assert rule.status_code == 201, rule.text
    url = f"{base}/recurring-posts/{rule.json()['id']}"
    posts = api.get(f"{url}/posts", auth=auth).json()
    assert len(posts) == 2 and {p["status"] for p in posts} == {"scheduled"}  # 14 days ahead
    stopped = api.post(f"{url}/stop", auth=auth)
    assert stopped.status_code == 200 and stopped.json()["active"] is False
    assert {p["status"] for p in api.get(f"{url}/posts", auth=auth).json()} == {"cancelled"}
    again = api.post(f"{url}/stop", auth=auth)
    assert assert_problem(again, 409)["code"] == "bad_state"
