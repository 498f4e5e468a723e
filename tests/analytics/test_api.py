"""The measurement API and the public routes: links created and followed, a signed webhook,
a pixel, CSV imports reporting rows, ROI, dashboard, best time; roles."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from dialogo.accounts.permissions import Role
from dialogo.analytics import conversions
from dialogo.core.context import AppContext
from dialogo.server import create_app
from tests.analytics.conftest import Brand, campaign
from tests.api.conftest import Api, Auth, assert_problem, token_auth
from tests.factories import add_member

BROWSER = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/131.0 Safari/537.36"
)


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


def test_link_click_webhook_pixel_csv_roi(
    client: TestClient, auth: Auth, brand: Brand, db: Session, settings
) -> None:  # type: ignore[no-untyped-def]
    api = Api(client)
    base = f"/api/v1/workspaces/{brand.id}"
    spring = campaign(db, brand, "Spring")
    db.commit()
    created = api.post(
        f"{base}/links",
        json={
            "url": "https://shop.example/a?x=1",
            "campaign_id": spring,
            "channel_id": brand.channel.id,
        },
        auth=auth,
    )
    assert created.status_code == 201, created.text
    link = created.json()
    assert link["short_url"].endswith(f"/l/{link['code']}")
    assert "utm_campaign=spring" in link["destination"]

    followed = client.get(f"/l/{link['code']}", headers={"user-agent": BROWSER})
    assert followed.status_code == 302 and followed.headers["location"] == link["destination"]
    assert client.get("/l/doesnotexist", headers={"user-agent": BROWSER}).status_code == 404

    # The webhook: signed with the workspace's secret.
    secret = api.get(f"{base}/conversions/webhook-secret", auth=auth).json()["secret"]
    body = json.dumps({"order_id": "W-1", "value": "80.00", "link": link["code"]}).encode()
    now = int(dt.datetime.now(dt.UTC).timestamp())
    hook = f"/api/v1/hooks/conversions/{brand.id}"
    assert assert_problem(client.post("/api/v1/hooks/conversions/999999", content=body), 404)
    unsigned = client.post(hook, content=body)
    assert assert_problem(unsigned, 401)["code"] == "signature_missing"
    forged = client.post(
        hook,
        content=body,
        headers={conversions.SIGNATURE_HEADER: conversions.sign("nope", body, now)},
    )
    assert assert_problem(forged, 401)["code"] == "signature_invalid"
    signed = {conversions.SIGNATURE_HEADER: conversions.sign(secret, body, now)}
    accepted = client.post(hook, content=body, headers=signed)
    assert accepted.status_code == 200, accepted.text
    assert accepted.json()["campaign_id"] == spring
    assert client.post(hook, content=body, headers=signed).json()["id"] == accepted.json()["id"]
    bad = b'{"order_id": "W-2", "value": "-5"}'
    refused = client.post(
        hook,
        content=bad,
        headers={conversions.SIGNATURE_HEADER: conversions.sign(secret, bad, now)},
    )
    assert assert_problem(refused, 422)["errors"][0]["field"] == "value"

    # The pixel, from the visitor who clicked.
    pixel = client.get(
        f"/l/{link['code']}/px.gif",
        params={"order": "P-1", "value": "20"},
        headers={"user-agent": BROWSER},
    )
    assert pixel.status_code == 200 and pixel.headers["content-type"] == "image/gif"

    broken = b"order_id,value\nC-1,10\nC-2,abc\n,3\n"
    problem = assert_problem(
        api.post(
            f"{base}/conversions/import",
            content=broken,
            headers={"content-type": "text/csv"},
            auth=auth,
        ),
        422,
    )
    assert problem["code"] == "csv_rows_invalid" and sorted(
        e["row"] for e in problem["errors"]
    ) == [3, 4]
    assert len(api.get(f"{base}/conversions", auth=auth).json()) == 2
    spend = api.post(
        f"{base}/spend",
        json={"day": "2026-05-01", "amount": "50", "campaign_id": spring},
        auth=auth,
    )
    assert spend.status_code == 201, spend.text

    rows = {r["name"]: r for r in api.get(f"{base}/analytics/roi", auth=auth).json()}
    assert rows["Spring"]["revenue"] == 100.0 and rows["Spring"]["clicks"] == 1
    assert rows["Spring"]["roas"] == 2.0 and rows["Spring"]["cpa"] == 25.0
    board = api.get(f"{base}/analytics/dashboard", auth=auth).json()
    assert board["totals"]["revenue"] == 100.0 and board["campaigns"]
    assert api.get(f"{base}/analytics/best-time", auth=auth).json()["slots"] == []
    attribution = api.get(f"{base}/analytics/attribution", auth=auth).json()
    assert attribution["conversions"] == 1 and set(attribution["models"]) >= {"markov", "linear"}
    links = api.get(f"{base}/links", auth=auth).json()
    assert links[0]["clicks"] == 1 and links[0]["unique_visitors"] == 1


def test_viewers_read_but_do_not_write(client: TestClient, brand: Brand, db: Session) -> None:
    api = Api(client)
    viewer = add_member(db, brand.workspace, brand.owner, Role.viewer)
    auth, _, _ = token_auth(db, viewer, ["admin"])
    db.commit()
    base = f"/api/v1/workspaces/{brand.id}"
    assert api.get(f"{base}/analytics/dashboard", auth=auth).status_code == 200
    denied = api.post(f"{base}/links", json={"url": "https://shop.example"}, auth=auth)
    assert assert_problem(denied, 403)["code"] == "permission_denied"
    assert assert_problem(api.get(f"{base}/conversions/webhook-secret", auth=auth), 403)
