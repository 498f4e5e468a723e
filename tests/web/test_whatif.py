"""What-if: the API (options, forecasts, refusals), the page (htmx and plain form), and in a
real browser on the demo server (``dialogo demo``), from the navigation to a forecast."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from dialogo.accounts import service as accounts
from dialogo.accounts.models import User, Workspace
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

SMALL = {"seed": "3", "population": "600", "start": "2026-01-01", "history_days": "10"}
WHEN = "2026-01-12T09:00:00+01:00"


@pytest.fixture
def ctx(settings: Settings, engine: Engine, session_factory: sessionmaker[Session]) -> AppContext:
    """The test context with the sandbox network installed."""
    providers = ProviderRegistry({"sandbox": SandboxProvider})
    return AppContext(settings, engine, session_factory, SystemClock(), providers)


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


@pytest.fixture
def api(app: FastAPI) -> Any:
    with TestClient(app) as client:
        yield Api(client)


def plan(**changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "posts": [
            {"at": WHEN, "topic": "coffee", "media": True},
            {"at": "2026-01-13T18:00:00+01:00", "topic": "sustainability"},
        ],
        "budget_eur": 0,
        "runs": 30,
    }
    body.update(changes)
    return body


def test_options_and_forecasts_through_the_api(
    api: Api, db: Session, owner: User, workspace: Workspace, sandbox: int
) -> None:
    auth, _, _ = token_auth(db, owner, ["read"])
    db.commit()
    url = f"/api/v1/workspaces/{workspace.id}/sandbox/whatif"
    options = api.get(url, auth=auth)
    assert options.status_code == 200, options.text
    body = options.json()
    assert body["channel_id"] == sandbox
    assert "coffee" in body["topics"] and len(body["segments"]) == 6
    advocates = body["suggested_advocates"]
    assert len(advocates) == 8

    organic = api.post(url, auth=auth, json=plan())
    assert organic.status_code == 200, organic.text
    result = organic.json()
    assert result["runs"] == 30 and len(result["per_post"]) == 2
    for interval in result["totals"].values():
        assert interval["low"] <= interval["median"] <= interval["high"]
    assert result["totals"]["reach"]["median"] > 0

    again = api.post(url, auth=auth, json=plan())
    assert again.json() == result  # the same plan, the same forecast

    paid = api.post(url, auth=auth, json=plan(budget_eur=400, advocates=advocates[:3])).json()
    assert paid["advocates"] == advocates[:3]
    assert paid["totals"]["impressions"]["median"] > result["totals"]["impressions"]["median"]


@pytest.mark.parametrize(
    ("changes", "status", "needle"),
    [
        ({"posts": [{"at": "2026-01-12T09:00:00", "topic": "coffee"}]}, 422, "time zone"),
        ({"posts": [{"at": WHEN, "topic": "gardening"}]}, 422, "unknown topic"),
        ({"posts": []}, 422, "at least 1"),
        ({"runs": 5000}, 422, "less than or equal"),
        ({"advocates": ["nobody.here999"]}, 422, "unknown_advocate"),
        ({"segments": ["martians"]}, 422, "unknown_segment"),
    ],
)
def test_bad_plans_are_refused_clearly(
    api: Api,
    db: Session,
    owner: User,
    workspace: Workspace,
    sandbox: int,
    changes: dict[str, Any],
    status: int,
    needle: str,
) -> None:
    auth, _, _ = token_auth(db, owner, ["read"])
    db.commit()
    response = api.post(
        f"/api/v1/workspaces/{workspace.id}/sandbox/whatif", auth=auth, json=plan(**changes)
    )
    assert response.status_code == status, response.text
    assert needle in response.text


def test_without_a_sandbox_channel_the_api_says_so(
    api: Api, db: Session, owner: User, workspace: Workspace
) -> None:
    auth, _, _ = token_auth(db, owner, ["read"])
    db.commit()
    response = api.post(f"/api/v1/workspaces/{workspace.id}/sandbox/whatif", auth=auth, json=plan())
    assert response.status_code == 422
    assert response.json()["code"] == "no_sandbox_channel"


def test_the_page_forecasts_with_htmx_and_without(
    signed_in: Browser, workspace: Workspace, sandbox: int
) -> None:
    url = f"/w/{workspace.id}/whatif"
    page = signed_in.get(url)
    assert page.status_code == 200
    assert f'href="/w/{workspace.id}/whatif"' in page.text  # in the navigation
    assert 'name="at_0"' in page.text and 'name="topic_2"' in page.text
    form = {
        "at_0": "2026-01-12T09:00",
        "topic_0": "coffee",
        "media_0": "on",
        "at_1": "",
        "topic_1": "food",
        "budget": "80",
        "runs": "20",
        "advocates": "",
    }
    partial = signed_in.htmx(url, form)
    assert partial.status_code == 200, partial.text
    assert partial.text.lstrip().startswith('<section id="whatif-result"')
    assert "People reached" in partial.text
    assert len(re.findall(r'<tr>\s*<th scope="row">\d+</th>', partial.text)) == 1  # one post

    whole = signed_in.post(url, form)
    assert whole.status_code == 200
    assert "<h1>What-if</h1>" in whole.text and 'data-metric="clicks"' in whole.text


def test_the_page_explains_refusals_and_keeps_the_plan(
    signed_in: Browser, workspace: Workspace, sandbox: int
) -> None:
    url = f"/w/{workspace.id}/whatif"
    signed_in.get(url)
    bad_date = signed_in.htmx(url, {"at_0": "yesterday", "topic_0": "coffee", "runs": "20"})
    assert bad_date.status_code == 422
    assert "date and time is not valid" in bad_date.text
    nobody = signed_in.htmx(
        url,
        {"at_0": "2026-01-12T09:00", "topic_0": "coffee", "runs": "20", "advocates": "@ghost1"},
    )
    assert nobody.status_code == 422
    assert "No one in the sandbox is called @ghost1." in nobody.text
    empty = signed_in.htmx(url, {"at_0": "", "topic_0": "coffee", "runs": "20"})
    assert empty.status_code == 422 and "Plan at least one post." in empty.text


def test_the_page_without_a_sandbox_channel(signed_in: Browser, workspace: Workspace) -> None:
    page = signed_in.get(f"/w/{workspace.id}/whatif")
    assert page.status_code == 200
    assert "connect a sandbox channel first" in page.text
    assert 'name="at_0"' not in page.text


@pytest.mark.browser
@pytest.mark.integration
def test_what_if_in_a_browser_on_the_demo(fresh_database: str, tmp_path: Path) -> None:
    from tests.web.test_browser import (
        CHROMIUM,
        CHROMIUM_ARGS,
        clean_env,
        dialogo_command,
        free_port,
        note_console,
        note_response,
        server,
        sign_in,
        wait_healthy,
    )

    if not CHROMIUM.exists():
        pytest.skip("needs Debian's chromium at /usr/bin/chromium")
    sync_api = pytest.importorskip("playwright.sync_api")
    from playwright.sync_api import expect

    from tests.conftest import TEST_SECRET

    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = clean_env(
        DIALOGO_ENV="test",
        DIALOGO_SECRET_KEY=TEST_SECRET,
        DIALOGO_DATA_DIR=str(tmp_path / "data"),
        DIALOGO_DATABASE_URL=fresh_database,
    )
    log = tmp_path / "demo.log"
    command = [*dialogo_command(), "demo", "--port", str(port), "--population", "1500"]
    with server(command, env, log) as proc:
        wait_healthy(base, proc, log, timeout=120)
        printed = re.search(r"Sign in as (\S+) / (\S+) ", log.read_text())
        assert printed, log.read_text()
        with sync_api.sync_playwright() as playwright:
            chromium = playwright.chromium.launch(
                executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
            )
            page = chromium.new_page(locale="en-GB", viewport={"width": 1280, "height": 900})
            errors: list[str] = []
            page.on("pageerror", lambda exc: errors.append(str(exc)))
            page.on("console", lambda msg: note_console(errors, msg))
            page.on("response", lambda response: note_response(errors, response))
            sign_in(page, base, printed.group(1), printed.group(2))
            # The demo user reads Dialogo in Italian, the brand's language: switch to English.
            expect(page.locator("html")).to_have_attribute("lang", "it")
            page.get_by_role("button", name="English").click()
            expect(page.locator("html")).to_have_attribute("lang", "en")
            page.get_by_role("link", name="What-if").click()
            expect(page.get_by_role("heading", level=1)).to_have_text("What-if")
            page.get_by_label("Topic of post 2").select_option("running")
            first = page.locator("#advocates-help code").first.inner_text()
            page.get_by_label("Advocates asked to share every post").fill(first)
            page.get_by_label("Paid budget (€)").fill("120")
            page.get_by_role("button", name="Forecast").click()
            result = page.locator("#whatif-result")
            expect(result.get_by_role("heading", name="Forecast")).to_be_visible()
            expect(result.locator('tr[data-metric="reach"] td').first).to_have_text(
                re.compile(r"^[\d,.]+$")
            )
            expect(result).to_contain_text(f"Advocates: {first}")
            page.get_by_label("Advocates asked to share every post").fill("ghost.nobody1")
            page.get_by_role("button", name="Forecast").click()
            expect(result.get_by_role("alert")).to_contain_text("No one in the sandbox")
            assert errors == [], errors
            chromium.close()
