"""The Audience page in a real headless Chromium against ``dialogo serve``: import a CRM file
with the column-mapping step, build a segment in the expression editor (a mistake shows its
column, the live size updates), save it and download its Meta export."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from tests.web.test_browser import (
    EMAIL,
    PASSWORD,
    SECRET,
    chromium,  # noqa: F401 (fixture)
    clean_env,
    dialogo_command,
    free_port,
    note_console,
    note_response,
    server,
    sign_in,
    wait_healthy,
)

pytestmark = [pytest.mark.browser, pytest.mark.integration]

CRM = (
    "Id,Mail,Età,Sesso,Regione,Interessi\n"
    "c1,anna@example.com,29,F,Lazio,running;yoga\n"
    "c2,marco@example.com,31,M,Campania,running\n"
    "c3,giulia@example.com,45,f,Lombardia,cooking\n"
)


def test_build_a_segment_see_its_size_and_export_it(
    chromium: Any,  # noqa: F811
    fresh_database: str,
    tmp_path: Path,
) -> None:
    from playwright.sync_api import expect

    crm = tmp_path / "crm.csv"
    crm.write_text(CRM, encoding="utf-8")
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = clean_env(
        DIALOGO_ENV="test",
        DIALOGO_SECRET_KEY=SECRET,
        DIALOGO_DATA_DIR=str(tmp_path / "data"),
        DIALOGO_DATABASE_URL=fresh_database,
        DIALOGO_FIRST_USER_EMAIL=EMAIL,
        DIALOGO_FIRST_USER_PASSWORD=PASSWORD,
    )
    log = tmp_path / "server.log"
    with server([*dialogo_command(), "serve", "--port", str(port)], env, log) as proc:
        wait_healthy(base, proc, log, timeout=60)
        context = chromium.new_context(
            locale="en-US", viewport={"width": 1280, "height": 900}, accept_downloads=True
        )
        page = context.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        page.on("console", lambda msg: note_console(errors, msg))
        page.on("response", lambda response: note_response(errors, response))
        sign_in(page, base, EMAIL, PASSWORD)
        page.get_by_role("link", name="Audience").click()
        expect(page.get_by_role("heading", level=1)).to_have_text("Audience")

        page.get_by_label("CSV file (UTF-8, first line with the column names)").set_input_files(
            str(crm)
        )
        page.get_by_role("button", name="Next: map the columns").click()
        expect(page.get_by_label("Mail")).to_have_value("email")
        page.get_by_label("Id").select_option("external_id")
        page.get_by_role("button", name="Import").click()
        expect(page.get_by_role("status").or_(page.locator(".flash"))).to_contain_text("3 new")

        editor = page.get_by_label("Targeting expression")
        editor.fill("interest:running AND AND")
        expect(page.locator("#audience-size [role=alert]")).to_contain_text("Column 22")
        editor.fill("interest:running AND age 25-34")
        size = page.locator("#audience-size .audience-size-value")
        expect(size).to_have_text("2 people match")
        page.get_by_label("Save this segment as").fill("Young runners")
        page.get_by_role("button", name="Save").click()
        expect(page.get_by_role("link", name="Young runners")).to_be_visible()
        expect(page.locator("#audience-size .audience-size-value")).to_have_text("2 people match")
        with page.expect_download() as info:
            page.get_by_role("link", name="Export for Meta (CSV)").click()
        download = info.value
        text = Path(download.path()).read_text(encoding="utf-8")
        lines = text.strip().splitlines()
        assert lines[0].startswith("email") and len(lines) == 3
        assert "anna@example.com" not in text and re.search(r"[0-9a-f]{64}", text)
        assert errors == [], errors
        context.close()
