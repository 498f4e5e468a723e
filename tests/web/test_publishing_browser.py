"""Publishing in a real headless Chromium against a real server (``dialogo serve``), with two
networks installed as a third-party provider package: ``fakenet`` (280 characters) and
``shortnet`` (20). Compose with a live validation error, fix it and schedule; approve; drag a
post on the calendar to reschedule it."""

from __future__ import annotations

import datetime as dt
import os
import re
from pathlib import Path
from typing import Any

import pytest

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

pytestmark = [pytest.mark.browser, pytest.mark.integration]

PLUGIN = '''
"""Two fake networks behind entry points, one account each."""

from dialogo.providers.testing import FakeNetwork

long_net = FakeNetwork("fakenet")
long_net.add_account("caffe_aurora").access_token = "long-token"
short_net = FakeNetwork("shortnet", text_limit=20)
short_net.add_account("caffe_corto").access_token = "short-token"
FakenetProvider = long_net.provider_class()
ShortnetProvider = short_net.provider_class()
'''
TOO_LONG = "Un caffè speciale per voi, oggi e domani"  # 40 characters


def install_plugin(directory: Path) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "twonets_plugin.py").write_text(PLUGIN)
    dist = directory / "twonets_plugin-1.0.dist-info"
    dist.mkdir(exist_ok=True)
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: twonets-plugin\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text(
        "[dialogo.providers]\n"
        "fakenet = twonets_plugin:FakenetProvider\n"
        "shortnet = twonets_plugin:ShortnetProvider\n"
    )
    return directory


def connect(page: Any, network: str, token: str) -> None:
    from playwright.sync_api import expect

    page.get_by_role("link", name="Channels", exact=True).click()
    page.get_by_role("button", name=f"Fake network {network}").click()
    page.get_by_label("Access token").fill(token)
    page.get_by_role("button", name="Check and connect").click()
    expect(page.get_by_role("alert")).to_contain_text("is connected.")


def test_compose_approve_and_drag_on_the_calendar(
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

        # 1. Compose: the short network's rule is shown live, then met; the post is scheduled.
        page.get_by_role("link", name="Publishing", exact=True).click()
        expect(page.get_by_role("heading", level=1)).to_have_text("Publishing")
        page.get_by_role("link", name="New post", exact=True).click()
        page.get_by_label(re.compile(r"Publish on .*Fake network fakenet")).check()
        page.get_by_label(re.compile(r"Publish on .*Fake network shortnet")).check()
        texts = page.get_by_label(re.compile("^Text for "))
        texts.nth(0).fill("Buongiorno da Caffè Aurora!")
        texts.nth(1).fill(TOO_LONG)
        checks = page.locator("#checks")
        expect(checks).to_contain_text("40 characters, 20 allowed")
        page.screenshot(path=str(shots / "composer-invalid-en.png"), full_page=True)
        texts.nth(1).fill("Ciao!")
        expect(checks).not_to_contain_text("allowed")
        expect(checks.locator(".check-ok")).to_have_count(2)
        day = dt.date.today() + dt.timedelta(days=2)
        page.get_by_label("Date", exact=True).fill(day.isoformat())
        page.get_by_label("Time", exact=True).fill("09:00")
        page.get_by_role("button", name="Schedule", exact=True).click()
        expect(page.get_by_role("alert")).to_contain_text("Scheduled for")
        expect(page.locator("#post-status")).to_have_text("Scheduled")
        scheduled_id = int(page.url.rsplit("/", 1)[1])

        # 2. Approvals: one stage, required; a new post goes through it.
        page.get_by_role("link", name="Posts", exact=True).click()
        page.get_by_label("Posts need approval before they are scheduled").check()
        page.get_by_label("Stages, one per line, in order").fill("client")
        page.get_by_role("button", name="Save approval stages").click()
        expect(page.get_by_role("alert")).to_contain_text("Approval settings saved.")
        page.get_by_role("link", name="New post", exact=True).click()
        page.get_by_label(re.compile(r"Publish on .*Fake network fakenet")).check()
        page.get_by_label(re.compile("^Text for ")).nth(0).fill("Nuovo menù d'autunno")
        page.get_by_role("button", name="Save and send for approval").click()
        expect(page.get_by_role("alert")).to_contain_text("Saved and sent for approval.")
        pending_id = int(page.url.rsplit("/", 1)[1])
        page.get_by_role("link", name="Posts", exact=True).click()
        waiting = page.locator(f"#waiting-{pending_id}")
        expect(waiting).to_contain_text("stage: client")
        waiting.get_by_label(f"Comment on post #{pending_id}").fill("Perfetto, approvato")
        waiting.get_by_role("button", name=f"Approve #{pending_id}").click()
        expect(page.get_by_role("alert")).to_contain_text("Approved: the post can be scheduled.")
        expect(page.locator(f"#waiting-{pending_id}")).to_have_count(0)
        expect(page.locator(f"#post-{pending_id}")).to_contain_text("Approved")
        page.goto(
            f"{base}{page.url.split(base)[1].split('/publishing')[0]}/publishing/posts/{pending_id}"
        )
        expect(page.locator(".approval-history")).to_contain_text("Perfetto, approvato")

        # 3. Calendar: drag the scheduled post to another day of its week, at 11:00.
        ws_path = page.url.split(base)[1].split("/publishing")[0]
        page.goto(f"{base}{ws_path}/publishing/calendar?view=week&date={day.isoformat()}")
        entry = page.locator(f'.cal-entry[data-post-id="{scheduled_id}"]')
        expect(entry).to_have_count(1)
        week = [day - dt.timedelta(days=day.weekday()) + dt.timedelta(days=i) for i in range(7)]
        target = next(d for d in week if d != day and d > dt.date.today())
        slot = page.locator(f'td[data-day="{target.isoformat()}"][data-hour="11"]')
        entry.drag_to(slot)
        expect(page.get_by_role("alert")).to_contain_text(f"Post #{scheduled_id} moved to")
        moved = slot.locator(f'.cal-entry[data-post-id="{scheduled_id}"]')
        expect(moved).to_have_count(1)
        expect(moved).to_contain_text("11:00")
        page.screenshot(path=str(shots / "calendar-week-en.png"), full_page=True)

        # The keyboard path: the entry's own Move form, back to 09:00 on the first day.
        moved.locator("summary").click()
        page.get_by_label(f"New date for post #{scheduled_id}").fill(day.isoformat())
        page.get_by_label(f"New time for post #{scheduled_id}").fill("09:00")
        page.get_by_role("button", name=f"Move post #{scheduled_id}").click()
        back = page.locator(f'td[data-day="{day.isoformat()}"][data-hour="9"]')
        expect(back.locator(f'.cal-entry[data-post-id="{scheduled_id}"]')).to_have_count(1)
        assert errors == [], errors
        context.close()
    assert (shots / "composer-invalid-en.png").stat().st_size > 10_000
