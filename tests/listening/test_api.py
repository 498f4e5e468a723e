"""The listening API: queries with positioned syntax errors, import, intake, mentions,
label corrections, ingestion from the sandbox, reputation."""

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
from tests.listening.conftest import Brand


@pytest.fixture
def api(ctx: AppContext, providers: ProviderRegistry) -> Iterator[Api]:
    with TestClient(create_app(dataclasses.replace(ctx, providers=providers))) as client:
        yield Api(client)


@pytest.fixture
def auth(db: Session, brand: Brand) -> Auth:
    auth, _, _ = token_auth(db, brand.owner, ["admin"])
    db.commit()
    return auth


def test_queries_mentions_and_corrections(api: Api, auth: Auth, brand: Brand) -> None:
    base = f"/api/v1/workspaces/{brand.id}/listening"
    bad = api.post(f"{base}/queries", json={"name": "B", "query": "acme OR"}, auth=auth)
    body = assert_problem(bad, 422)
    assert body["code"] == "query_syntax_error" and body["position"] == 7
    created = api.post(f"{base}/queries", json={"name": "Acme", "query": "acme"}, auth=auth)
    assert created.status_code == 201, created.text
    qid = created.json()["id"]
    intake = api.post(
        f"{base}/intake",
        json=[
            {"id": "1", "text": "acme is awful", "posted_at": "2026-01-20T10:00:00Z"},
            {"id": "2", "text": "nothing here", "posted_at": "2026-01-20T10:00:00Z"},
        ],
        auth=auth,
    )
    assert intake.status_code == 200, intake.text
    assert intake.json()["stored"] == 2 and intake.json()["matches"] == 1
    listed = api.get(f"{base}/mentions", params={"query_id": qid}, auth=auth).json()
    assert [m["remote_id"] for m in listed] == ["1"]
    assert listed[0]["label"] == "negative"
    adhoc = api.get(f"{base}/mentions", params={"q": "nothing"}, auth=auth).json()
    assert [m["remote_id"] for m in adhoc] == ["2"]
    assert_problem(api.get(f"{base}/mentions", params={"q": "(x"}, auth=auth), 422)
    fixed = api.put(
        f"{base}/mentions/{listed[0]['id']}/label", json={"label": "neutral"}, auth=auth
    )
    assert fixed.status_code == 200, fixed.text
    assert fixed.json()["final_label"] == "neutral"
    assert_problem(
        api.put(f"{base}/mentions/{listed[0]['id']}/label", json={"label": "x"}, auth=auth), 422
    )


def test_import_reports_every_bad_row(api: Api, auth: Auth, brand: Brand) -> None:
    base = f"/api/v1/workspaces/{brand.id}/listening"
    content = (
        "id,text,posted_at\n1,ok,2026-01-20T10:00:00Z\n2,bad,never\n,no id,2026-01-20T10:00:00Z\n"
    )
    bad = api.post(
        f"{base}/import", params={"format": "csv"}, files={"file": ("m.csv", content)}, auth=auth
    )
    body = assert_problem(bad, 422)
    assert [e["row"] for e in body["errors"]] == [2, 3]
    assert api.get(f"{base}/mentions", auth=auth).json() == []
    good = api.post(
        f"{base}/import",
        params={"format": "csv"},
        files={"file": ("m.csv", content.splitlines()[0] + "\n" + content.splitlines()[1])},
        auth=auth,
    )
    assert good.status_code == 200 and good.json()["stored"] == 1


def test_ingest_from_channels_and_reputation(api: Api, auth: Auth, brand: Brand) -> None:
    base = f"/api/v1/workspaces/{brand.id}/listening"
    api.post(f"{base}/queries", json={"name": "Aurora", "query": "caffeaurora"}, auth=auth)
    api.post(
        f"{base}/queries",
        json={"name": "Vesuvio", "query": "vesuvio", "kind": "competitor"},
        auth=auth,
    )
    ran = api.post(f"{base}/ingest", auth=auth)
    assert ran.status_code == 200, ran.text
    assert ran.json()["stored"] > 0
    rep = api.get(f"{base}/reputation", params={"days": 365}, auth=auth)
    assert rep.status_code == 200, rep.text
    queries = rep.json()["queries"]
    assert sum(q["share_of_voice"] for q in queries) == pytest.approx(1.0, abs=1e-3)
    assert api.get(f"{base}/alerts", auth=auth).json() == []
