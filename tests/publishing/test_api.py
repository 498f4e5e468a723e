"""The publishing API: compose, validate, approve, schedule, list with filters, problems."""

from __future__ import annotations

import dataclasses
import datetime as dt
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
    auth, _, _ = token_auth(db, brand.owner, ["admin"])
    db.commit()
    return auth


def test_compose_validate_approve_schedule_and_list(api: Api, auth: Auth, brand: Brand) -> None:
    base = f"/api/v1/workspaces/{brand.id}"
    campaign = api.post(f"{base}/campaigns", json={"name": "Spring"}, auth=auth)
    assert campaign.status_code == 201, campaign.text
    created = api.post(
        f"{base}/posts",
        json={
            "campaign_id": campaign.json()["id"],
            "variants": [{"channel_id": brand.channel.id, "text": "x" * 300}],
        },
        auth=auth,
    )
    assert created.status_code == 201, created.text
    post = created.json()
    assert post["status"] == "draft" and post["variants"][0]["idempotency_key"]
    url = f"{base}/posts/{post['id']}"

    checked = api.post(f"{url}/validate", auth=auth).json()
    assert checked[0]["ok"] is False and checked[0]["issues"][0]["code"] == "too_long"
    # The English message as before, and what a client needs to say it in another language.
    assert checked[0]["issues"][0] == {
        "code": "too_long",
        "message": "300 characters, 280 allowed",
        "field": "text",
        "template": "%(length)s characters, %(text_limit)s allowed",
        "params": {"length": 300, "text_limit": 280},
        "template_plural": "",  # set when the issue counts something (a plural pair)
        "count_param": "",
    }
    tomorrow = (dt.datetime.now(dt.UTC) + dt.timedelta(days=1)).isoformat()
    refused = api.post(f"{url}/schedule", json={"scheduled_at": tomorrow}, auth=auth)
    problem = assert_problem(refused, 422)
    assert problem["code"] == "validation_failed"
    assert "fakenet: 300 characters, 280 allowed" in problem["detail"]  # English, as before

    fixed = api.patch(
        url, json={"variants": [{"channel_id": brand.channel.id, "text": "Ciao"}]}, auth=auth
    )
    assert fixed.status_code == 200, fixed.text
    assert api.post(f"{url}/submit", json={"comment": "ok?"}, auth=auth).json()["status"] == (
        "pending_approval"
    )
    approved = api.post(f"{url}/approve", auth=auth).json()
    assert approved["status"] == "approved"
    assert [a["decision"] for a in approved["approvals"]] == ["submitted", "approved"]

    naive = api.post(f"{url}/schedule", json={"scheduled_at": "2031-01-01T09:00:00"}, auth=auth)
    assert assert_problem(naive, 422)["code"] == "naive_datetime"
    scheduled = api.post(f"{url}/schedule", json={"scheduled_at": tomorrow}, auth=auth)
    assert scheduled.status_code == 200, scheduled.text
    assert scheduled.json()["status"] == "scheduled"

    listed = api.get(f"{base}/posts", params={"status": "scheduled"}, auth=auth).json()
    assert [p["id"] for p in listed] == [post["id"]]
    by_campaign = api.get(
        f"{base}/posts", params={"campaign_id": campaign.json()["id"]}, auth=auth
    ).json()
    assert [p["id"] for p in by_campaign] == [post["id"]]
    assert api.get(f"{base}/posts", params={"status": "draft"}, auth=auth).json() == []

    again = api.post(f"{url}/submit", auth=auth)
    assert assert_problem(again, 409)["code"] == "bad_state"
    copy = api.post(f"{url}/duplicate", auth=auth)
    assert copy.status_code == 201 and copy.json()["duplicated_from_id"] == post["id"]
    cancelled = api.post(f"{url}/cancel", auth=auth).json()
    assert cancelled["status"] == "cancelled"


def test_missing_post_and_bad_input_are_problems(api: Api, auth: Auth, brand: Brand) -> None:
    base = f"/api/v1/workspaces/{brand.id}"
    assert_problem(api.get(f"{base}/posts/999999", auth=auth), 404)
    unknown = api.post(
        f"{base}/posts", json={"variants": [{"channel_id": 999999, "text": "x"}]}, auth=auth
    )
    assert assert_problem(unknown, 422)["code"] == "unknown_channel"
    assert_problem(api.post(f"{base}/posts", json={"variants": []}, auth=auth), 422)
    settings = api.put(
        f"{base}/publishing/settings",
        json={"approval_required": True, "approval_stages": ["editor", "editor"]},
        auth=auth,
    )
    assert_problem(settings, 422)
