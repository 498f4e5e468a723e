"""The report schedules API: create, read, change, deliveries, send now, delete; bad input
refused field by field with nothing saved; another workspace's schedule is not found."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from dialogo.analytics.schedule_models import ReportSchedule
from dialogo.core.context import AppContext
from dialogo.server import create_app
from tests.analytics.conftest import Brand
from tests.api.conftest import Api, Auth, assert_problem, token_auth


@pytest.fixture
def client(ctx: AppContext, brand: Brand) -> Iterator[TestClient]:
    app = create_app(dataclasses.replace(ctx, providers=brand.providers))
    with TestClient(app, follow_redirects=False) as c:
        yield c


@pytest.fixture
def auth(db: Session, brand: Brand) -> Auth:
    found, _, _ = token_auth(db, brand.owner, ["admin"])
    db.commit()
    return found


BODY = {
    "name": "Lunedì",
    "frequency": "weekly",
    "weekday": 0,
    "local_time": "8:00",
    "language": "it",
    "formats": ["pdf"],
    "recipients": ["boss@example.com"],
}


def test_schedule_lifecycle(client: TestClient, auth: Auth, brand: Brand, db: Session) -> None:
    api = Api(client)
    base = f"/api/v1/workspaces/{brand.id}/analytics/report-schedules"
    bad = api.post(base, json={**BODY, "recipients": ["boss@example", "x"]}, auth=auth)
    problem = assert_problem(bad, 422)
    assert "not e-mail addresses" in str(problem)
    assert db.scalar(select(func.count(ReportSchedule.id))) == 0

    created = api.post(base, json=BODY, auth=auth)
    assert created.status_code == 201, created.text
    row = created.json()
    assert row["local_time"] == "08:00" and row["next_run_at"] is not None
    assert row["weekday"] == 0 and row["month_day"] is None

    changed = api.put(
        f"{base}/{row['id']}",
        json={**BODY, "frequency": "monthly", "month_day": 31, "weekday": None},
        auth=auth,
    )
    assert changed.status_code == 200, changed.text
    assert changed.json()["month_day"] == 31 and changed.json()["weekday"] is None
    assert [r["id"] for r in api.get(base, auth=auth).json()] == [row["id"]]

    sent = api.post(f"{base}/{row['id']}/send", auth=auth)
    assert sent.status_code == 202, sent.text
    assert sent.json()["status"] == "queued"
    deliveries = api.get(f"{base}/{row['id']}/deliveries", auth=auth).json()
    assert [d["id"] for d in deliveries] == [sent.json()["id"]]

    assert_problem(api.get(f"{base}/999999", auth=auth), 404)
    assert api.delete(f"{base}/{row['id']}", auth=auth).status_code == 204
    assert_problem(api.get(f"{base}/{row['id']}", auth=auth), 404)


def test_a_campaign_of_another_workspace_is_refused(
    client: TestClient, auth: Auth, brand: Brand
) -> None:
    api = Api(client)
    base = f"/api/v1/workspaces/{brand.id}/analytics/report-schedules"
    problem = assert_problem(api.post(base, json={**BODY, "campaign_id": 987654}, auth=auth), 422)
    assert problem["code"] == "bad_campaign"
