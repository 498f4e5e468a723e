"""Listening in a real headless Chromium against a real server: write a query, see the
matching mentions with their sentiment, correct one label, save brand and competitor queries,
see the reputation chart and the share of voice, label what the model is least sure of, and
see the brands named."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path
from typing import Any

import pytest

from tests.web.test_browser import (
    EMAIL,
    PASSWORD,
    SECRET,
    chromium,  # noqa: F401 - the fixture
    clean_env,
    dialogo_command,
    free_port,
    note_console,
    server,
    sign_in,
    wait_healthy,
)

pytestmark = [pytest.mark.browser, pytest.mark.integration]


def test_query_mentions_correct_label_reputation_and_share_of_voice(
    chromium: Any,  # noqa: F811
    fresh_database: str,
    tmp_path: Path,
) -> None:
    from playwright.sync_api import expect

    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = clean_env(
        DIALOGO_ENV="test",
        DIALOGO_SECRET_KEY=SECRET,
        DIALOGO_DATA_DIR=str(tmp_path / "data"),
        DIALOGO_DATABASE_URL=fresh_database,
        DIALOGO_FIRST_USER_EMAIL=EMAIL,
        DIALOGO_FIRST_USER_PASSWORD=PASSWORD,
        DIALOGO_BASE_URL=base,
    )
    log = tmp_path / "server.log"
    with server(
        [*dialogo_command(), "serve", "--port", str(port), "--no-worker"], env, log
    ) as proc:
        wait_healthy(base, proc, log, timeout=60)
        context = chromium.new_context(locale="en-US", viewport={"width": 1280, "height": 900})
        page = context.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        page.on("console", lambda msg: note_console(errors, msg))

        sign_in(page, base, EMAIL, PASSWORD)
        found = re.search(r"/w/(\d+)$", page.url)
        assert found
        ws = found.group(1)
        page.get_by_role("link", name="Listening", exact=True).click()
        expect(page).to_have_url(re.compile(rf"/w/{ws}/listening$"))
        expect(page.get_by_role("heading", level=1)).to_have_text("Listening")
        # Mentions arrive through the webhook intake, with the page's session and CSRF token.
        csrf = page.locator('input[name="csrf_token"]').first.get_attribute("value")
        at = (dt.datetime.now(dt.UTC) - dt.timedelta(hours=3)).isoformat()
        mentions = [
            {"id": "1", "text": "Aurora espresso is wonderful, best coffee ever", "author": "ann"},
            {"id": "2", "text": "Aurora delivery late again, terrible service", "author": "bob"},
            {"id": "3", "text": "Il caffè Aurora è buono ma caro", "author": "carla"},
            {"id": "4", "text": "Vesuvio beans arrived, fine", "author": "dan"},
        ]
        sent = context.request.post(
            f"{base}/api/v1/workspaces/{ws}/listening/intake",
            data=[{**m, "posted_at": at} for m in mentions],
            headers={"X-CSRF-Token": csrf or ""},
        )
        assert sent.status == 200, sent.text()

        # A query with an error says where.
        page.get_by_label("Query").fill("aurora AND (late")
        page.get_by_role("button", name="Search").click()
        expect(page.get_by_role("alert")).to_contain_text("error at character 17")
        # A good query shows the matching mentions with their sentiment.
        page.get_by_label("Query").fill("aurora NOT caffè")
        page.get_by_role("button", name="Search").click()
        items = page.locator("li.mention")
        expect(items).to_have_count(2)
        late = page.locator("li.mention", has_text="delivery late")
        expect(late.locator(".sentiment")).to_have_attribute("data-label", "negative")
        expect(
            page.locator("li.mention", has_text="wonderful").locator(".sentiment")
        ).to_have_attribute("data-label", "positive")
        # Correct one label: it sticks, marked as a correction.
        late.get_by_label("Correct sentiment").select_option("neutral")
        late.get_by_role("button", name="Correct").click()
        expect(page.get_by_role("alert")).to_contain_text("Label corrected")
        late = page.locator("li.mention", has_text="delivery late")
        expect(late.locator(".sentiment")).to_have_attribute("data-label", "neutral")
        expect(late.locator(".sentiment")).to_contain_text("corrected")

        # Save it as the brand's query, then a competitor's.
        page.get_by_label("Query").fill("aurora")
        page.get_by_role("button", name="Search").click()
        page.get_by_label("Save as").fill("Aurora")
        page.get_by_label("Kind").select_option("brand")
        page.get_by_role("button", name="Save query").click()
        expect(page.get_by_role("alert")).to_contain_text("Aurora")
        page.get_by_label("Query").fill("vesuvio")
        page.get_by_role("button", name="Search").click()
        page.get_by_label("Save as").fill("Vesuvio")
        page.get_by_label("Kind").select_option("competitor")
        page.get_by_role("button", name="Save query").click()

        # The reputation chart and the share of voice.
        expect(page.locator("svg.listening-chart polyline.series")).to_have_count(2)
        expect(page.locator("svg.listening-share rect.share")).to_have_count(2)
        row = page.locator("tr", has_text="Vesuvio")
        expect(row.locator(".share-of-voice")).to_have_text("25 %")
        expect(page.locator("tr", has_text="Aurora").locator(".share-of-voice")).to_have_text(
            "75 %"
        )
        page.screenshot(path=str(tmp_path / "listening.png"), full_page=True)

        # Active learning: the plain page asks for the labels the model is least sure of; one
        # answer is a correction (a training row) and leaves the list.
        page.goto(f"{base}/w/{ws}/listening")
        asks = page.locator("#listening-tolabel li.tolabel")
        expect(asks).to_have_count(3)  # every uncorrected mention: "delivery late" was corrected
        first = asks.first
        asked = first.locator(".mention-text").inner_text()
        first.get_by_role("button", name="Positive").click()
        expect(page.get_by_role("alert")).to_contain_text("Label corrected")
        expect(page.locator("#listening-tolabel li.tolabel")).to_have_count(2)
        expect(page.locator("#listening-tolabel")).not_to_contain_text(asked)
        expect(
            page.locator("#listening-mentions li.mention", has_text=asked).locator(".sentiment")
        ).to_have_attribute("data-label", "positive")

        # Brands and products named: on the mentions and on the topics page.
        expect(page.locator("#listening-mentions .name-competitor")).to_have_text(["Vesuvio"])
        page.get_by_role("link", name="Topics and names in the mentions").click()
        expect(page.get_by_role("heading", level=1)).to_have_text("Topics and names")
        names = page.locator("#listening-names tbody tr")
        expect(names).to_have_count(2)
        expect(names.first).to_contain_text("Aurora")
        expect(names.first.locator("td").last).to_have_text("3")
        assert errors == []
        context.close()
