"""Audience and word of mouth through the API and the pages (TestClient): live segment size
with the error's column, save, overlaps, Meta/Google export, CRM import with column mapping
and per-line errors (nothing imported), and on a small sandbox world the graph rebuild, the
ranking and advocate selection."""

from __future__ import annotations

import csv
import io
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session, sessionmaker

from dialogo.accounts import service as accounts
from dialogo.accounts.models import User, Workspace
from dialogo.audience.models import ContactProfile
from dialogo.channels import service as channels
from dialogo.channels.crypto import CredentialCipher
from dialogo.channels.schemas import ChannelConnect, ChannelCredentialsIn
from dialogo.core.clock import SystemClock
from dialogo.core.config import Settings
from dialogo.core.context import AppContext
from dialogo.providers.registry import ProviderRegistry
from dialogo.providers.sandbox.provider import DEMO_TOKEN, SandboxProvider
from tests.api.conftest import Api, token_auth
from tests.web.conftest import Browser

SMALL = {
    "seed": "3",
    "population": "600",
    "start": "2026-01-01",
    "history_days": "20",
    "sim_now": "2026-01-21T00:00:00+00:00",
}
CRM = (
    "Id,Mail,Età,Sesso,Regione,Interessi\n"
    "c1,anna@example.com,29,F,Lazio,running;yoga\n"
    "c2,marco@example.com,31,M,Campania,running\n"
    "c3,giulia@example.com,45,f,Lombardia,cooking\n"
)
MAP = [
    "Id=external_id",
    "Mail=email",
    "Età=age",
    "Sesso=sex",
    "Regione=region",
    "Interessi=interests",
]


@pytest.fixture
def ctx(settings: Settings, engine: Engine, session_factory: sessionmaker[Session]) -> AppContext:
    providers = ProviderRegistry({"sandbox": SandboxProvider})
    return AppContext(settings, engine, session_factory, SystemClock(), providers)


@pytest.fixture
def api(app: FastAPI) -> Any:
    with TestClient(app) as client:
        yield Api(client)


@pytest.fixture
def sandbox(db: Session, ctx: AppContext, owner: User, workspace: Workspace) -> int:
    channel = channels.connect_channel(
        db,
        accounts.Principal.for_user(owner),
        workspace.id,
        ChannelConnect(
            network="sandbox",
            credentials=ChannelCredentialsIn(access_token=DEMO_TOKEN),
            config=SMALL,
        ),
        registry=ctx.providers,
        cipher=CredentialCipher.from_settings(ctx.settings),
    )
    db.commit()
    return channel.id


def test_audience_api_import_size_segments_export(
    api: Api, db: Session, owner: User, workspace: Workspace
) -> None:
    auth, _, _ = token_auth(db, owner, ["read", "write", "admin"])
    db.commit()
    base = f"/api/v1/workspaces/{workspace.id}/audience"
    bad = CRM + "c4,not-an-email,200,Q,Lazio,running\n"
    refused = api.post(
        f"{base}/import",
        auth=auth,
        params={"map": MAP},
        content=bad.encode(),
        headers={"Content-Type": "text/csv"},
    )
    assert refused.status_code == 422, refused.text
    assert [e["line"] for e in refused.json()["errors"]] == [5]
    assert db.scalar(select(func.count()).select_from(ContactProfile)) == 0
    done = api.post(
        f"{base}/import",
        auth=auth,
        params={"map": MAP},
        content=CRM.encode(),
        headers={"Content-Type": "text/csv"},
    )
    assert done.json() == {"created": 3, "updated": 0}, done.text
    size = api.post(
        f"{base}/size", auth=auth, json={"expression": "interest:running AND age 25-34"}
    )
    assert size.json()["size"] == 2
    wrong = api.post(f"{base}/size", auth=auth, json={"expression": "age 25-34 AND AND sex = f"})
    assert wrong.status_code == 422 and wrong.json()["column"] == 15
    one = api.post(
        f"{base}/segments", auth=auth, json={"name": "Runners", "expression": "interest:running"}
    )
    two = api.post(
        f"{base}/segments", auth=auth, json={"name": "Women", "expression": "sex = female"}
    )
    assert one.status_code == two.status_code == 201
    overlap = api.get(
        f"{base}/overlaps", auth=auth, params={"ids": [one.json()["id"], two.json()["id"]]}
    )
    assert overlap.json()["shared"] == [[2, 1], [1, 2]]
    exported = api.post(
        f"{base}/export", auth=auth, json={"expression": "interest:running", "format": "google"}
    )
    assert exported.status_code == 200 and exported.headers["content-type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(exported.text)))
    assert len(rows) == 3 and "anna@example.com" not in exported.text
    page = api.get(f"{base}/profiles", auth=auth, params={"expression": "region = Lazio"})
    assert page.json()["total"] == 1 and page.json()["items"][0]["interests"] == ["running", "yoga"]


def test_audience_page_editor_save_export_and_import_mapping(
    signed_in: Browser, db: Session, workspace: Workspace
) -> None:
    ws = workspace.id
    page = signed_in.get(f"/w/{ws}/audience")
    assert page.status_code == 200 and "Targeting expression" in page.text
    first = signed_in.post(
        f"/w/{ws}/audience/import",
        files={"file": ("crm.csv", CRM + "c9,x@y,12,F,Lazio,\n", "text/csv")},
    )
    assert first.status_code == 200 and 'name="map_1"' in first.text
    mapping = {
        f"map_{i}": f
        for i, f in enumerate(["external_id", "email", "age", "sex", "region", "interests"])
    }
    content = CRM + "c9,x@y,12,F,Lazio,\n"
    refused = signed_in.post(f"/w/{ws}/audience/import", data={"content": content, **mapping})
    assert refused.status_code == 422 and "Line 5" in refused.text
    assert db.scalar(select(func.count()).select_from(ContactProfile)) == 0
    done = signed_in.post(f"/w/{ws}/audience/import", data={"content": CRM, **mapping})
    assert done.status_code == 303
    live = signed_in.htmx(f"/w/{ws}/audience/size", {"expression": "interest:running"})
    assert "2 people match" in live.text and "export?format=meta" in live.text
    error = signed_in.htmx(f"/w/{ws}/audience/size", {"expression": "region IN (Lazio"})
    assert "Column 17" in error.text
    saved = signed_in.post(
        f"/w/{ws}/audience/segments", data={"name": "Runners", "expression": "interest:running"}
    )
    assert saved.status_code == 303
    again = signed_in.post(
        f"/w/{ws}/audience/segments", data={"name": "Runners", "expression": "sex = male"}
    )
    assert again.status_code == 409
    listed = signed_in.get(f"/w/{ws}/audience?expression=interest%3Arunning")
    assert "Runners" in listed.text and "2 people" in listed.text and "Giulia" not in listed.text
    csv_file = signed_in.get(f"/w/{ws}/audience/export?format=meta&expression=interest%3Arunning")
    assert csv_file.status_code == 200 and csv_file.text.startswith("email")


def test_influence_api_and_page_on_a_sandbox_world(
    api: Api, signed_in: Browser, db: Session, owner: User, workspace: Workspace, sandbox: int
) -> None:
    auth, _, _ = token_auth(db, owner, ["read", "write"])
    db.commit()
    base = f"/api/v1/workspaces/{workspace.id}/influence"
    assert api.post(f"{base}/advocates", auth=auth, json={"k": 3}).status_code == 404
    built = api.post(f"{base}/graph/rebuild", auth=auth)
    assert built.status_code == 200, built.text
    graph = built.json()
    assert graph["nodes"] > 20 and graph["follows"] > 0
    ranking = api.get(f"{base}/rankings", auth=auth, params={"sort": "pagerank", "limit": 5}).json()
    assert ranking["total"] == graph["nodes"]
    pageranks = [r["pagerank"] for r in ranking["items"]]
    assert pageranks == sorted(pageranks, reverse=True)
    first = ranking["items"][0]["contact_id"]
    plan = api.post(f"{base}/advocates", auth=auth, json={"k": 3, "exclude": [first], "runs": 300})
    assert plan.status_code == 200, plan.text
    body = plan.json()
    chosen = [a["contact"]["contact_id"] for a in body["advocates"]]
    assert len(chosen) == 3 and first not in chosen
    assert body["low"] <= body["spread"] <= body["high"]
    lt = api.post(f"{base}/advocates", auth=auth, json={"k": 2, "model": "lt", "runs": 300})
    assert lt.status_code == 200 and lt.json()["model"] == "lt"
    bad = api.post(f"{base}/advocates", auth=auth, json={"k": 2, "exclude": [999999]})
    assert bad.status_code == 422
    page = signed_in.get(f"/w/{workspace.id}/influence")
    assert page.status_code == 200 and "Influencer ranking" in page.text
    chosen_page = signed_in.htmx(
        f"/w/{workspace.id}/influence/advocates",
        {"k": "2", "model": "ic", "exclude": "", "exclude_segment": ""},
    )
    assert chosen_page.status_code == 200 and "likely to reach" in chosen_page.text
    refused = signed_in.htmx(f"/w/{workspace.id}/influence/advocates", {"k": "two", "model": "ic"})
    assert refused.status_code == 422
