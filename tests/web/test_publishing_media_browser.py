"""The media library and the bulk import in a real headless Chromium against a real server
(``dialogo serve``), with the two fake networks of ``test_publishing_browser`` installed as a
provider package: upload an image with its alt text and see its thumbnail; import a CSV with a
bad row, read the error on its row, fix the file, check it again and import it."""

from __future__ import annotations

import csv
import datetime as dt
import io
import os
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from tests.web.test_browser import (
    EMAIL,
    PASSWORD,
    SECRET,
    chromium,  # noqa: F401  (the fixture)
    clean_env,
    dialogo_command,
    free_port,
    note_console,
    note_response,
    server,
    shots,  # noqa: F401  (the fixture)
    sign_in,
    wait_healthy,
)
from tests.web.test_publishing_browser import TOO_LONG, connect, install_plugin

pytestmark = [pytest.mark.browser, pytest.mark.integration]


def png() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (800, 600), (111, 78, 55)).save(out, "PNG")
    return out.getvalue()


def csv_file(second_text: str) -> dict[str, Any]:
    when = (dt.date.today() + dt.timedelta(days=3)).isoformat()
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["channel", "text", "scheduled_at"])
    writer.writerow(["caffe_aurora", "Buongiorno da Caffè Aurora!", f"{when} 09:30"])
    writer.writerow(["caffe_corto", second_text, ""])  # the text has a comma: quoted
    return {"name": "posts.csv", "mimeType": "text/csv", "buffer": out.getvalue().encode()}


def test_upload_with_alt_text_then_import_a_csv_fixing_its_bad_row(
    chromium: Any,  # noqa: F811
    fresh_database: str,
    tmp_path: Path,
    shots: Path,  # noqa: F811
) -> None:
    from playwright.sync_api import expect

    plugin = install_plugin(tmp_path / "plugin")
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    pythonpath = os.pathsep.join(p for p in (str(plugin), os.environ.get("PYTHONPATH", "")) if p)
    env = clean_env(
        DIALOGO_ENV="test",
        DIALOGO_SECRET_KEY=SECRET,
        DIALOGO_DATA_DIR=str(tmp_path / "data"),
        DIALOGO_DATABASE_URL=fresh_database,
        DIALOGO_FIRST_USER_EMAIL=EMAIL,
        DIALOGO_FIRST_USER_PASSWORD=PASSWORD,
        PYTHONPATH=pythonpath,
    )
    log = tmp_path / "server.log"
    with server([*dialogo_command(), "serve", "--port", str(port)], env, log) as proc:
        wait_healthy(base, proc, log, timeout=60)
        context = chromium.new_context(locale="en-US", viewport={"width": 1400, "height": 1000})
        page = context.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        page.on("console", lambda msg: note_console(errors, msg))
        page.on("response", lambda response: note_response(errors, response))
        sign_in(page, base, EMAIL, PASSWORD)
        connect(page, "fakenet", "long-token")
        connect(page, "shortnet", "short-token")

        # 1. The media library: an image with its alt text, its thumbnail, the networks' word.
        page.get_by_role("link", name="Publishing", exact=True).click()
        page.get_by_role("link", name="Media", exact=True).click()
        expect(page.get_by_role("heading", level=1)).to_have_text("Media library")
        page.get_by_label("File", exact=True).set_input_files(
            {"name": "crema.png", "mimeType": "image/png", "buffer": png()}
        )
        page.get_by_label("Alt text", exact=True).fill("An espresso cup with golden crema")
        page.get_by_role("button", name="Upload", exact=True).click()
        expect(page.get_by_role("alert")).to_contain_text("crema.png is in the library.")
        thumb = page.get_by_role("img", name="An espresso cup with golden crema")
        expect(thumb).to_be_visible()
        assert thumb.evaluate("img => img.complete && img.naturalWidth") == 320
        item = page.locator(".media-item").filter(has_text="crema.png")
        expect(item.locator(".media-checks")).to_contain_text("Fake network fakenet: accepted")
        expect(page.get_by_label("Alt text of crema.png")).to_have_value(
            "An espresso cup with golden crema"
        )
        page.screenshot(path=str(shots / "media-library-en.png"), full_page=True)

        # 2. Bulk import: a bad row is named with its number; nothing is imported.
        page.get_by_role("link", name="Import", exact=True).click()
        expect(page.get_by_role("heading", level=1)).to_have_text("Bulk import")
        page.get_by_label("CSV or JSON file").set_input_files(csv_file(TOO_LONG))
        page.get_by_role("button", name="Check (nothing is written)").click()
        expect(page.get_by_role("alert")).to_contain_text("Nothing was imported: 1 error")
        bad = page.locator("table.import-errors tbody tr")
        expect(bad).to_have_count(1)
        expect(bad.first).to_contain_text("row 2")
        expect(bad.first).to_contain_text("40 characters, 20 allowed")
        page.screenshot(path=str(shots / "import-errors-en.png"), full_page=True)

        # Fixed: the dry run passes, then the import writes both posts.
        page.get_by_label("CSV or JSON file").set_input_files(csv_file("Ciao!"))
        page.get_by_role("button", name="Check (nothing is written)").click()
        expect(page.get_by_role("alert")).to_contain_text("All 2 rows are valid")
        expect(page.locator("table.import-errors")).to_have_count(0)
        page.get_by_role("button", name="Import the posts").click()
        expect(page.get_by_role("alert")).to_contain_text(
            "2 posts imported (1 scheduled, the others are drafts)."
        )
        expect(page.get_by_role("heading", level=1)).to_have_text("Publishing")
        expect(page.locator("main")).to_contain_text("Buongiorno da Caffè Aurora!")
        # The refused dry run answers 422 on purpose (a form with errors); nothing else failed.
        assert errors == [f"422 {base}/w/1/publishing/import"], errors
        context.close()
    assert (shots / "import-errors-en.png").stat().st_size > 10_000
