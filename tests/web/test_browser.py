"""The web shell in a real headless Chromium, against a real server started from the CLI
(for the Channels page, with a fake network installed as a provider package on PYTHONPATH).

Screenshots of the workspace home and the Channels page go to the test's temporary directory,
or to ``DIALOGO_SCREENSHOT_DIR`` when it is set (to look at them).
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ROOT = Path(__file__).resolve().parents[2]
SECRET = "browser-test-secret-" + "s" * 30
EMAIL = "owner@dialogo.local"
PASSWORD = "a long test passphrase"
ITALIAN_NAV = ["Pubblicazione", "Posta in arrivo", "Ascolto", "Pubblico", "Passaparola"]
ITALIAN_NAV += ["Misurazione", "Canali", "Membri", "Registro attività", "Impostazioni"]
ENGLISH_NAV = ["Publishing", "Inbox", "Listening", "Audience", "Word of mouth", "Measurement"]
ENGLISH_NAV += ["Channels", "Members", "Activity log", "Settings"]

pytestmark = [pytest.mark.browser, pytest.mark.integration]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DIALOGO_")}
    # The servers started with DIALOGO_ENV=test reach the real local networks on loopback:
    # allow loopback explicitly (the outbound policy refuses it outside development).
    env["DIALOGO_OUTBOUND_ALLOW"] = '["127.0.0.0/8", "::1/128", "localhost"]'
    env.update(extra)
    return env


def dialogo_command() -> list[str]:
    script = Path(sys.executable).with_name("dialogo")
    if script.exists():
        return [str(script)]
    return [sys.executable, "-c", "from dialogo.cli.main import main; main()"]


@contextmanager
def server(command: list[str], env: dict[str, str], log: Path) -> Iterator[subprocess.Popen[bytes]]:
    """Start a process in its own session; stop it (and only it) at the end."""
    with log.open("wb") as out:
        proc = subprocess.Popen(
            command, env=env, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
        try:
            yield proc
        finally:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
                try:
                    proc.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    os.killpg(proc.pid, signal.SIGKILL)
                    proc.wait(timeout=5)


def wait_healthy(base: str, proc: subprocess.Popen[bytes], log: Path, timeout: float) -> None:
    """Poll /health until it answers 200; fail with the server's output if it dies or hangs."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"the server exited ({proc.returncode}):\n{log.read_text()[-4000:]}")
        try:
            if httpx.get(f"{base}/health", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)  # between polls of a readiness probe
    pytest.fail(f"/health did not answer within {timeout}s:\n{log.read_text()[-4000:]}")


@pytest.fixture(scope="module")
def chromium() -> Iterator[Any]:
    if not CHROMIUM.exists():
        pytest.skip("needs Debian's chromium at /usr/bin/chromium")
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
        )
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture
def shots(tmp_path: Path) -> Path:
    chosen = os.environ.get("DIALOGO_SCREENSHOT_DIR")
    directory = Path(chosen) if chosen else tmp_path / "screenshots"
    directory.mkdir(parents=True, exist_ok=True)
    return directory


def sign_in(page: Any, base: str, email: str, password: str) -> None:
    from playwright.sync_api import expect

    page.goto(f"{base}/")
    expect(page).to_have_url(re.compile(r"/login$"))
    expect(page.locator("html")).to_have_attribute("lang", "en")
    page.get_by_label("E-mail").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(re.compile(r"/w/\d+$"))


def check_nav(page: Any, labels: list[str]) -> None:
    from playwright.sync_api import expect

    nav = page.get_by_role("navigation", name=re.compile("^(Sections|Sezioni)$"))
    for label in labels:
        expect(nav.get_by_role("link", name=label, exact=True)).to_have_attribute(
            "href", re.compile(r"^/w/\d+(/|$)")
        )
    expect(nav.locator('a[aria-disabled="true"]')).to_have_count(0)


def switch_to_italian(page: Any) -> None:
    from playwright.sync_api import expect

    page.get_by_role("button", name="Italiano").click()
    expect(page.locator("html")).to_have_attribute("lang", "it")
    check_nav(page, ITALIAN_NAV)
    expect(page.get_by_role("link", name="Panoramica")).to_have_attribute("aria-current", "page")


def note_console(errors: list[str], message: Any) -> None:
    # Chromium reports every 4xx as "Failed to load resource"; note_response judges those.
    if message.type == "error" and not message.text.startswith("Failed to load resource"):
        errors.append(message.text)


def note_response(errors: list[str], response: Any) -> None:
    """Refused htmx forms answer 4xx on purpose; pages and assets must never fail."""
    by_script = response.request.resource_type in ("xhr", "fetch")
    if response.status >= 500 or (response.status >= 400 and not by_script):
        errors.append(f"{response.status} {response.url}")


def test_sign_in_switch_to_italian_and_sign_out(
    chromium: Any, fresh_database: str, tmp_path: Path, shots: Path
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
    )
    log = tmp_path / "server.log"
    with server([*dialogo_command(), "serve", "--port", str(port)], env, log) as proc:
        wait_healthy(base, proc, log, timeout=60)
        context = chromium.new_context(locale="en-US", viewport={"width": 1280, "height": 860})
        page = context.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        page.on("console", lambda msg: note_console(errors, msg))
        page.on("response", lambda response: note_response(errors, response))

        sign_in(page, base, EMAIL, PASSWORD)
        expect(page.get_by_role("heading", level=1)).to_have_text("My brand")
        check_nav(page, ENGLISH_NAV)
        expect(page.get_by_role("link", name="Overview")).to_have_attribute("aria-current", "page")
        page.screenshot(path=str(shots / "home-en.png"), full_page=True)

        # htmx: the form posts with the X-CSRF-Token header and the answer replaces the section.
        page.get_by_role("link", name="Members", exact=True).click()
        page.get_by_label("E-mail").fill("nobody@example.com")
        page.get_by_role("button", name="Add the member").click()
        expect(page.locator("#member-email-error")).to_contain_text("Nobody has an account")
        expect(page.get_by_label("E-mail")).to_have_attribute("aria-invalid", "true")
        expect(page).to_have_url(re.compile(r"/w/\d+/members$"))

        page.get_by_role("button", name="Italiano").click()
        expect(page.locator("html")).to_have_attribute("lang", "it")
        expect(page).to_have_url(re.compile(r"/w/\d+/members$"))
        expect(page.get_by_role("heading", level=1)).to_have_text("Membri")
        page.get_by_role("link", name="Panoramica", exact=True).click()
        check_nav(page, ITALIAN_NAV)
        page.screenshot(path=str(shots / "home-it.png"), full_page=True)

        page.get_by_role("button", name="Esci").click()
        expect(page).to_have_url(re.compile(r"/login$"))
        expect(page.get_by_role("alert")).to_have_text("You have signed out.")
        page.goto(f"{base}/profile")
        expect(page).to_have_url(re.compile(r"/login\?next=/profile$"))
        assert errors == [], errors
        context.close()
    assert (shots / "home-en.png").stat().st_size > 10_000
    assert (shots / "home-it.png").stat().st_size > 10_000


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_the_readme_run_command(chromium: Any, tmp_path: Path, shots: Path) -> None:
    """``scripts/run`` installs if needed, serves, and prints the credentials to sign in with."""
    from playwright.sync_api import expect

    if shutil.which("python3") is None:
        pytest.skip("scripts/run needs python3")
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = clean_env(DIALOGO_DATA_DIR=str(tmp_path / "data"))
    log = tmp_path / "run.log"
    with server([str(ROOT / "scripts" / "run"), "--port", str(port)], env, log) as proc:
        wait_healthy(base, proc, log, timeout=600)
        printed = re.search(r"Sign in as (\S+) / (\S+) ", log.read_text())
        assert printed, log.read_text()
        context = chromium.new_context(locale="en-GB", viewport={"width": 1280, "height": 860})
        page = context.new_page()
        sign_in(page, base, printed.group(1), printed.group(2))
        # The demo user reads Dialogo in Italian, the brand's language.
        expect(page.locator("html")).to_have_attribute("lang", "it")
        check_nav(page, ITALIAN_NAV)
        page.screenshot(path=str(shots / "run-home-it.png"), full_page=True)
        page.get_by_role("button", name="English").click()
        expect(page.locator("html")).to_have_attribute("lang", "en")
        check_nav(page, ENGLISH_NAV)
        page.screenshot(path=str(shots / "run-home-en.png"), full_page=True)
        context.close()


# --- channels, with a network plugged in as a third party would -------------------------------

FAKENET_PLUGIN = '''
"""A provider package for the browser test: FakeNetwork behind an entry point, with one account
whose token the test chooses and can change (a file says when the network revoked it)."""

import os
from pathlib import Path

from dialogo.providers.testing import FakeNetwork

network = FakeNetwork("fakenet")
account = network.add_account("caffe_aurora")
account.access_token = os.environ["FAKENET_TOKEN"]
ROTATED = Path(os.environ["FAKENET_ROTATED"])


class FakenetProvider(network.provider_class()):
    def verify(self):
        if ROTATED.exists():
            account.access_token = ROTATED.read_text().strip()
        return super().verify()
'''


def install_fakenet(directory: Path) -> Path:
    """A distribution on ``PYTHONPATH`` declaring a ``dialogo.providers`` entry point."""
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "fakenet_plugin.py").write_text(FAKENET_PLUGIN)
    dist = directory / "fakenet_plugin-1.0.dist-info"
    dist.mkdir(exist_ok=True)
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: fakenet-plugin\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text(
        "[dialogo.providers]\nfakenet = fakenet_plugin:FakenetProvider\n"
    )
    return directory


def test_channels_connect_check_dismiss_and_disconnect(
    chromium: Any, fresh_database: str, tmp_path: Path, shots: Path
) -> None:
    from playwright.sync_api import expect

    plugin = install_fakenet(tmp_path / "plugin")
    rotated = tmp_path / "rotated-token"
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
        FAKENET_TOKEN="first-token",
        FAKENET_ROTATED=str(rotated),
    )
    log = tmp_path / "server.log"
    with server([*dialogo_command(), "serve", "--port", str(port)], env, log) as proc:
        wait_healthy(base, proc, log, timeout=60)
        context = chromium.new_context(locale="en-US", viewport={"width": 1280, "height": 900})
        page = context.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        page.on("console", lambda msg: note_console(errors, msg))
        page.on("response", lambda response: note_response(errors, response))
        page.on("dialog", lambda dialog: dialog.accept())
        sign_in(page, base, EMAIL, PASSWORD)

        page.get_by_role("link", name="Channels", exact=True).click()
        expect(page.get_by_role("heading", level=1)).to_have_text("Channels")
        expect(page.get_by_text("No account is connected to this workspace yet.")).to_be_visible()
        page.get_by_role("button", name="Fake network fakenet").click()
        token = page.get_by_label("Access token")
        expect(token).to_have_attribute("type", "password")
        expect(token).to_be_focused()

        # Wrong credentials: the network's refusal, the secret not sent back, nothing saved.
        token.fill("wrong-token")
        page.get_by_role("button", name="Check and connect").click()
        expect(page.get_by_role("alert")).to_contain_text(
            "Fake network fakenet refused these credentials"
        )
        expect(page.get_by_label("Access token")).to_have_value("")
        page.screenshot(path=str(shots / "channels-refused-en.png"), full_page=True)
        expect(page.get_by_text("No account is connected to this workspace yet.")).to_be_visible()

        page.get_by_label("Access token").fill("first-token")
        page.get_by_label("Name in Dialogo (optional)").fill("Caffè Aurora")
        page.get_by_role("button", name="Check and connect").click()
        expect(page.get_by_role("alert")).to_contain_text("is connected.")
        row = page.locator("table.channels tbody tr")
        expect(row).to_have_count(1)
        expect(row).to_contain_text("caffe_aurora")
        expect(row).to_contain_text("Working")
        page.screenshot(path=str(shots / "channels-en.png"), full_page=True)

        # The network stops accepting the token: "Check now" flags it and counts it.
        rotated.write_text("second-token")
        page.get_by_role("button", name="Check now Caffè Aurora").click()
        expect(page.get_by_role("alert")).to_contain_text("needs to be authorised again")
        expect(row).to_contain_text("Needs re-authorisation")
        expect(row).to_contain_text("invalid or revoked access token")
        badge = page.locator("#nav-badge-channels")
        expect(badge).to_contain_text("1 channel needs attention")
        page.screenshot(path=str(shots / "channels-reauth-en.png"), full_page=True)

        page.get_by_role("link", name="Overview", exact=True).click()
        notes = page.locator("#notifications")
        expect(notes).to_contain_text("Caffè Aurora (Fake network fakenet) needs to be authorised")
        page.screenshot(path=str(shots / "home-attention-en.png"), full_page=True)
        page.get_by_role("button", name=re.compile("^Dismiss")).click()
        expect(notes).to_contain_text("Notification dismissed.")
        expect(badge).to_have_text("")

        # Authorise again with the new token: the same row, working again.
        page.get_by_role("link", name="Channels", exact=True).click()
        page.get_by_role("button", name="Authorise again Caffè Aurora").click()
        expect(page.get_by_role("heading", name="Authorise Caffè Aurora again")).to_be_visible()
        expect(page.get_by_label("Name in Dialogo (optional)")).to_have_value("Caffè Aurora")
        page.get_by_label("Access token").fill("second-token")
        page.get_by_role("button", name="Check and connect").click()
        expect(page.get_by_role("alert")).to_contain_text("is authorised again and working.")
        expect(row).to_have_count(1)
        expect(row).to_contain_text("Working")

        page.get_by_role("button", name="Italiano").click()
        expect(page.get_by_role("heading", level=1)).to_have_text("Canali")
        expect(row).to_contain_text("Funzionante")
        page.screenshot(path=str(shots / "channels-it.png"), full_page=True)
        page.get_by_role("button", name="Scollega Caffè Aurora").click()  # confirmed
        expect(page.get_by_role("alert")).to_contain_text("è stato scollegato")
        expect(row).to_have_count(0)
        assert errors == [], errors
        context.close()
    assert (shots / "channels-en.png").stat().st_size > 10_000
