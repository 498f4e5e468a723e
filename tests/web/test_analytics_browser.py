"""The Measurement dashboard in a real headless Chromium against a real server: the charts
show, a short link is created and followed, and the click and a conversion appear in the
campaign's ROI. A headless browser's own user agent is a bot: its click is not counted."""

from __future__ import annotations

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
DESKTOP_CHROME = (
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/131.0.0.0 Safari/537.36"
)


def test_dashboard_charts_short_link_click_and_conversion_in_roi(
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
        context = chromium.new_context(
            locale="en-US", viewport={"width": 1280, "height": 900}, user_agent=DESKTOP_CHROME
        )
        page = context.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        page.on("console", lambda msg: note_console(errors, msg))

        sign_in(page, base, EMAIL, PASSWORD)
        workspace = re.search(r"/w/(\d+)$", page.url)
        assert workspace
        ws = workspace.group(1)
        page.get_by_role("link", name="Measurement", exact=True).click()
        expect(page).to_have_url(re.compile(rf"/w/{ws}/analytics$"))
        expect(page.get_by_role("heading", level=1)).to_have_text("Measurement")
        # A campaign through the API, with the page's session and CSRF token.
        csrf = page.locator('input[name="csrf_token"]').first.get_attribute("value")
        created = context.request.post(
            f"{base}/api/v1/workspaces/{ws}/campaigns",
            data={"name": "Spring Sale"},
            headers={"X-CSRF-Token": csrf or ""},
        )
        assert created.status == 201, created.text()
        page.reload()

        charts = page.locator("svg.chart")
        expect(charts).to_have_count(2)
        expect(page.locator('svg[data-chart="line"] polyline.series')).to_have_count(2)
        expect(page.locator('svg[data-chart="bar"]')).to_have_attribute(
            "aria-label", "Revenue and spend per campaign"
        )

        page.get_by_label("Destination address").fill(f"{base}/health?from=newsletter")
        page.locator("#link-campaign").select_option(label="Spring Sale")
        page.get_by_role("button", name="Create short link").click()
        expect(page.get_by_role("alert").first).to_contain_text("Short link created")
        row = page.locator("#links tbody tr").first
        code = row.get_attribute("data-code")
        assert code

        # Followed by a person: redirected with the campaign's UTM tags, counted once.
        row.locator("a.short-link").click()
        expect(page).to_have_url(
            re.compile(r"/health\?from=newsletter&utm_medium=social&utm_campaign=spring-sale$")
        )
        # Followed by a headless browser with its own user agent: a bot, not counted.
        bot = chromium.new_context()
        bot_page = bot.new_page()
        bot_page.goto(f"{base}/l/{code}")
        bot.close()

        page.goto(f"{base}/w/{ws}/analytics")
        expect(page.locator(f'#links tr[data-code="{code}"] [data-cell="clicks"]')).to_have_text(
            "1"
        )
        page.get_by_label("Order number").fill("ORD-1001")
        page.get_by_label("Order value").fill("49.90")
        page.get_by_label("Short link code").fill(code)
        page.get_by_role("button", name="Record conversion").click()
        expect(page.get_by_role("alert").first).to_contain_text("Conversion recorded")

        roi = page.locator('#roi-campaigns tr[data-campaign="Spring Sale"]')
        expect(roi.locator('[data-cell="clicks"]')).to_have_text("1")
        expect(roi.locator('[data-cell="conversions"]')).to_have_text("1")
        expect(roi.locator('[data-cell="revenue"]')).to_contain_text("49.9")
        page.screenshot(path=str(tmp_path / "analytics.png"), full_page=True)
        assert errors == [], errors
        context.close()
