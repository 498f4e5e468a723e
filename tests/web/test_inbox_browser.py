"""The inbox end to end, in a real headless Chromium against a real server started from the
CLI (with its in-process worker), on the real local Bluesky network (``@atproto/dev-env``, see
tests/providers/bluesky/network.py): another account mentions the brand, the worker ingests
it, it appears in the inbox, is assigned, is answered from the web UI, and the answer is a
reply in the thread on Bluesky."""

from __future__ import annotations

import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from dialogo.accounts.models import User, Workspace
from dialogo.accounts.service import Principal
from dialogo.channels import service as channels
from dialogo.channels.crypto import CredentialCipher
from dialogo.channels.schemas import ChannelConnect, ChannelCredentialsIn
from dialogo.core.config import Environment, load_settings
from dialogo.core.db import make_engine, make_session_factory, transaction
from dialogo.providers.registry import ProviderRegistry
from tests.providers.bluesky import network as bsky
from tests.providers.matrix.synapse import SynapseServer, synapse_python
from tests.web.matrix_room import matrix_room
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
    shots,  # noqa: F401 - the fixture
    sign_in,
    wait_healthy,
)

pytestmark = [pytest.mark.browser, pytest.mark.integration, pytest.mark.slow]

DEADLINE = 60.0  # seconds for the AppView to index, the worker to ingest and to send


@pytest.fixture(scope="module")
def bluesky() -> Iterator[bsky.BlueskyNetwork]:
    reason = bsky.unavailable()
    if reason:
        pytest.skip(reason)
    with bsky.start() as net:
        yield net


def connect(database_url: str, tmp: Path, data: ChannelConnect) -> int:
    """Connect the brand's account to the first administrator's workspace (as the Channels
    page does, through the same service); returns the workspace id. In a thread of its own:
    the Matrix client runs an event loop, and Playwright's is running in this one."""
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(_connect, database_url, tmp, data).result()


def _connect(database_url: str, tmp: Path, data: ChannelConnect) -> int:
    settings = load_settings(
        env=Environment.test, data_dir=tmp, database_url=database_url, secret_key=SECRET
    )
    engine = make_engine(settings)
    try:
        with transaction(make_session_factory(engine)) as session:
            user = session.scalar(select(User).where(User.email == EMAIL))
            assert user is not None
            workspace = session.scalars(select(Workspace).order_by(Workspace.id)).first()
            assert workspace is not None
            channels.connect_channel(
                session,
                Principal.for_user(user),
                workspace.id,
                data,
                registry=ProviderRegistry.from_entry_points(allow=[data.network]),
                cipher=CredentialCipher.from_settings(settings),
            )
            return workspace.id
    finally:
        engine.dispose()


@contextmanager
def dialogo(fresh_database: str, tmp_path: Path) -> Iterator[tuple[str, Path]]:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = clean_env(
        DIALOGO_ENV="test",
        DIALOGO_SECRET_KEY=SECRET,
        DIALOGO_DATA_DIR=str(tmp_path / "data"),
        DIALOGO_DATABASE_URL=fresh_database,
        DIALOGO_FIRST_USER_EMAIL=EMAIL,
        DIALOGO_FIRST_USER_PASSWORD=PASSWORD,
        DIALOGO_WORKER_POLL_SECONDS="0.2",
    )
    log = tmp_path / "server.log"
    with server([*dialogo_command(), "serve", "--port", str(port)], env, log) as proc:
        wait_healthy(base, proc, log, timeout=60)
        yield base, log


def answer_from_the_inbox(
    browser: Any,
    base: str,
    log: Path,
    workspace_id: int,
    text: str,
    answer: str,
    screenshots: Path,
    name: str,
) -> None:
    """Sign in, fetch until the message is in the inbox, open it, assign it to oneself and
    answer it; wait until the reply is sent."""
    from playwright.sync_api import expect

    context = browser.new_context(locale="en-US", viewport={"width": 1280, "height": 900})
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on("console", lambda msg: note_console(errors, msg))
    sign_in(page, base, EMAIL, PASSWORD)
    page.get_by_role("link", name="Inbox", exact=True).click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Inbox")

    # Fetch until the network shows the message and the worker stored it.
    deadline = time.monotonic() + DEADLINE
    link = page.get_by_role("link", name=text)
    while not link.count():
        assert time.monotonic() < deadline, log.read_text()[-4000:]
        page.get_by_role("button", name="Fetch new messages").click()
        page.wait_for_timeout(1500)
        page.goto(f"{base}/w/{workspace_id}/inbox")
    page.screenshot(path=str(screenshots / f"inbox-{name}.png"), full_page=True)
    link.click()
    expect(page.get_by_text(text).first).to_be_visible()

    page.get_by_label("Assign to").select_option(label="Me")
    page.get_by_role("button", name="Assign", exact=True).click()
    expect(page.get_by_role("alert")).to_contain_text("Assigned to")

    page.get_by_label("Your reply (sent in the thread, as you)").fill(answer)
    page.get_by_role("button", name="Send reply").click()
    expect(page.get_by_role("alert")).to_contain_text("Your reply is on its way.")
    deadline = time.monotonic() + DEADLINE
    while "sent" not in page.locator(".inbox-replies").inner_text():
        assert time.monotonic() < deadline, log.read_text()[-4000:]
        page.wait_for_timeout(500)
        page.reload()
    expect(page.locator(".inbox-meta")).to_contain_text("assigned to")
    page.screenshot(path=str(screenshots / f"inbox-{name}-answered.png"), full_page=True)
    assert errors == []
    context.close()


def test_a_bluesky_mention_is_ingested_assigned_and_answered_in_the_thread(
    chromium: Any,  # noqa: F811
    bluesky: bsky.BlueskyNetwork,
    fresh_database: str,
    tmp_path: Path,
    shots: Path,  # noqa: F811
) -> None:
    from atproto_client import Client  # type: ignore[import-untyped]

    net = bluesky
    brand, bob = net.create_account("brand"), net.create_account("bob")
    with dialogo(fresh_database, tmp_path) as (base, log):
        workspace_id = connect(
            fresh_database,
            tmp_path,
            ChannelConnect(
                network="bluesky",
                credentials=ChannelCredentialsIn(
                    account_id=brand.handle, extra={"app_password": net.app_password(brand)}
                ),
                config={"service": net.pds},
            ),
        )
        # Bob mentions the brand with the plain SDK.
        bob_client = Client(base_url=net.pds)
        bob_client.login(bob.handle, bob.password)
        text = f"Ciao @{brand.handle}, siete aperti domenica?"
        mention = bob_client.send_post(text=text, facets=bob_client.detect_facets(text))
        answer = "Sì, dalle 9 alle 13! ☕"
        answer_from_the_inbox(chromium, base, log, workspace_id, text, answer, shots, "bluesky")

    # On Bluesky: a reply from the brand in Bob's thread, with the agent's text.
    deadline = time.monotonic() + DEADLINE
    replies: list[Any] = []
    while not replies:
        assert time.monotonic() < deadline, "the answer never appeared in the thread"
        thread = bob_client.get_post_thread(mention.uri, depth=2).thread
        replies = [r for r in (thread.replies or []) if r.post.author.did != bob.did]
        if not replies:
            time.sleep(0.3)  # between polls of the AppView, under a deadline
    (reply,) = replies
    assert reply.post.author.handle == brand.handle
    assert reply.post.record.text == answer
    assert reply.post.record.reply.root.uri == mention.uri
    assert reply.post.record.reply.parent.uri == mention.uri


@pytest.fixture(scope="module")
def synapse(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SynapseServer]:
    python = synapse_python()
    if python is None:
        pytest.skip("Synapse is not installed: run scripts/setup-matrix")
    homeserver = SynapseServer(python, tmp_path_factory.mktemp("synapse"))
    homeserver.start()
    try:
        yield homeserver
    finally:
        homeserver.stop()


def test_a_matrix_mention_is_ingested_assigned_and_answered_as_a_reply(
    chromium: Any,  # noqa: F811
    synapse: SynapseServer,
    fresh_database: str,
    tmp_path: Path,
    shots: Path,  # noqa: F811
) -> None:
    room = matrix_room(synapse)
    with dialogo(fresh_database, tmp_path) as (base, log):
        workspace_id = connect(fresh_database, tmp_path, room.connection())
        text = "do you deliver on Sundays?"
        mention_id = room.mention_brand(text)
        answer = "Yes, from 10 to 18!"
        answer_from_the_inbox(
            chromium,
            base,
            log,
            workspace_id,
            f"{room.brand.user_id} {text}",
            answer,
            shots,
            "matrix",
        )

    # On Matrix: the brand's answer is a reply to Bob's message, as Bob sees it.
    answers = room.brand_messages()
    assert len(answers) == 1
    content = answers[0]["content"]
    assert answer in content["body"]
    assert content["m.relates_to"]["m.in_reply_to"]["event_id"] == mention_id
