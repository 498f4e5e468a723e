"""Teammate mentions and the automated acknowledgement end to end, in a real headless Chromium
against a real server started from the CLI (with its in-process worker), on a real Synapse
homeserver (the customer writes in a Matrix room the brand's channel reads):

- an admin adds an acknowledgement rule and turns automated acknowledgements on (rules page);
- the customer writes, the worker ingests it, and the acknowledgement goes out by itself: the
  conversation shows it labelled as automated, and on Matrix it is a reply to the customer;
- the admin writes a note choosing a teammate in the autocomplete (with the keyboard, then
  another with the mouse), the mentions are highlighted there and on the customer page;
- the teammate signs in, sees the personal notification and follows it to the conversation.

The acknowledgement is set up before the message arrives because a Matrix room is one
conversation and an acknowledgement fires once, on a new conversation."""

from __future__ import annotations

import re
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from dialogo.accounts import service as accounts
from dialogo.accounts.models import User, Workspace
from dialogo.accounts.permissions import Role
from dialogo.accounts.schemas import MemberAdd, UserCreate
from dialogo.accounts.service import Principal
from dialogo.core.config import Environment, load_settings
from dialogo.core.db import make_engine, make_session_factory, transaction
from dialogo.inbox import service as inbox
from tests.providers.matrix.synapse import SynapseServer
from tests.web.matrix_room import matrix_room
from tests.web.test_browser import (
    EMAIL,
    PASSWORD,
    SECRET,
    chromium,  # noqa: F401 - the fixture
    note_console,
    shots,  # noqa: F401 - the fixture
    sign_in,
)
from tests.web.test_inbox_browser import DEADLINE, connect, dialogo
from tests.web.test_inbox_browser import synapse as synapse

pytestmark = [pytest.mark.browser, pytest.mark.integration, pytest.mark.slow]

TEAMMATE = "vera@example.org"


def add_teammate_and_saved_reply(database_url: str, tmp: Path, workspace_id: int) -> None:
    """Vera (an agent who can sign in) and the saved reply the rule sends, through the same
    services as the members and saved-replies forms (in a thread, like ``connect``)."""
    with ThreadPoolExecutor(max_workers=1) as pool:
        pool.submit(_add, database_url, tmp, workspace_id).result()


def _add(database_url: str, tmp: Path, workspace_id: int) -> None:
    settings = load_settings(
        env=Environment.test, data_dir=tmp, database_url=database_url, secret_key=SECRET
    )
    engine = make_engine(settings)
    try:
        with transaction(make_session_factory(engine)) as session:
            admin = session.scalar(select(User).where(User.email == EMAIL))
            assert admin is not None and session.get(Workspace, workspace_id) is not None
            principal = Principal.for_user(admin)
            accounts.create_user(
                session, UserCreate(email=TEAMMATE, password=PASSWORD, name="Vera")
            )
            accounts.add_member(
                session, principal, workspace_id, MemberAdd(email=TEAMMATE, role=Role.agent)
            )
            inbox.create_saved_reply(
                session, principal, workspace_id, "thanks", "Thanks {name}, we read you!"
            )
    finally:
        engine.dispose()


def new_page(browser: Any, errors: list[str]) -> Any:
    context = browser.new_context(locale="en-US", viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on("console", lambda msg: note_console(errors, msg))
    return page


def test_a_teammate_is_mentioned_and_a_new_message_is_acknowledged_automatically(
    chromium: Any,  # noqa: F811
    synapse: SynapseServer,
    fresh_database: str,
    tmp_path: Path,
    shots: Path,  # noqa: F811
) -> None:
    from playwright.sync_api import expect

    room = matrix_room(synapse)
    brand = room.brand
    errors: list[str] = []
    with dialogo(fresh_database, tmp_path) as (base, log):
        workspace_id = connect(fresh_database, tmp_path, room.connection())
        add_teammate_and_saved_reply(fresh_database, tmp_path, workspace_id)
        admin = new_page(chromium, errors)
        sign_in(admin, base, EMAIL, PASSWORD)

        # The admin adds a rule that acknowledges, then turns acknowledgements on.
        admin.goto(f"{base}/w/{workspace_id}/inbox-rules")
        admin.get_by_label("Name", exact=True).fill("acknowledge everything")
        admin.get_by_label("Enabled", exact=True).check()
        admin.get_by_label("Send an automated acknowledgement (a saved reply)").select_option(
            label="thanks"
        )
        admin.get_by_role("button", name="Add the rule").click()
        expect(admin.get_by_text("acknowledge everything").first).to_be_visible()
        admin.get_by_label(
            "Send automated acknowledgements (rules with an acknowledgement)"
        ).check()
        admin.get_by_label("Disclosure added to each one (empty: the default)").fill(
            "Sent automatically; a person follows."
        )
        admin.locator("#acknowledgements").get_by_role("button", name="Save").click()
        expect(
            admin.get_by_label("Send automated acknowledgements (rules with an acknowledgement)")
        ).to_be_checked()

        # The customer writes; fetch until the worker stored it.
        text = "is my order on its way?"
        mention_id = room.mention_brand(text)
        admin.goto(f"{base}/w/{workspace_id}/inbox")
        link = admin.get_by_role("link", name=f"{brand.user_id} {text}")
        deadline = time.monotonic() + DEADLINE
        while not link.count():
            assert time.monotonic() < deadline, log.read_text()[-4000:]
            admin.get_by_role("button", name="Fetch new messages").click()
            admin.wait_for_timeout(1500)  # between fetches, under a deadline
            admin.goto(f"{base}/w/{workspace_id}/inbox")
        link.click()
        conversation_url = admin.url

        # The acknowledgement went out by itself, labelled as automated.
        automated = admin.locator(".inbox-replies li.inbox-automated")
        deadline = time.monotonic() + DEADLINE
        while "sent" not in (automated.inner_text() if automated.count() else ""):
            assert time.monotonic() < deadline, log.read_text()[-4000:]
            admin.wait_for_timeout(500)  # polling the page for the job, under a deadline
            admin.reload()
        expect(automated).to_contain_text("Automated acknowledgement")
        expect(automated).to_contain_text("Thanks")
        expect(automated).to_contain_text("Sent automatically; a person follows.")

        # A note mentioning Vera, chosen in the autocomplete with the keyboard only.
        note = admin.get_by_label("Note for the team (never sent)")
        note.click()
        note.press_sequentially("Please call them back @ve")
        option = admin.locator('#mention-options [data-mention-handle="vera"]')
        expect(option).to_be_visible()
        admin.locator("#mention-options").screenshot(path=str(shots / "inbox-mention-options.png"))
        note.press("ArrowDown")
        expect(option).to_be_focused()
        admin.keyboard.press("Enter")
        expect(note).to_be_focused()
        expect(note).to_have_value("Please call them back @vera ")
        expect(option).to_have_count(0)
        note.press_sequentially("today, cc @ow")
        # The mouse path: a click on the option (the administrator's handle is "owner").
        admin.locator('#mention-options [data-mention-handle="owner"]').click()
        expect(note).to_be_focused()
        expect(note).to_have_value("Please call them back @vera today, cc @owner ")
        admin.get_by_role("button", name="Add note").click()
        expect(admin.get_by_role("alert")).to_contain_text("Note added.")
        expect(admin.locator(".inbox-notes mark.mention")).to_have_text(["@vera", "@owner"])
        admin.screenshot(path=str(shots / "inbox-mention-ack.png"), full_page=True)

        # The customer page highlights it the same way.
        admin.locator("#customer-link").click()
        expect(admin.locator(".inbox-notes mark.mention")).to_have_text(["@vera", "@owner"])
        expect(admin.locator(".inbox-notes")).to_contain_text("Please call them back")

        # Vera sees her personal notification and follows it to the note.
        vera = new_page(chromium, errors)
        sign_in(vera, base, TEAMMATE, PASSWORD)
        expect(vera.get_by_text("mentioned you in a note").first).to_be_visible()
        notification = vera.locator(f'a[href^="{conversation_url.removeprefix(base)}#note-"]')
        expect(notification.first).to_be_visible()
        notification.first.click()
        expect(vera).to_have_url(re.compile(re.escape(conversation_url) + r"#note-\d+$"))
        expect(vera.locator(".inbox-notes mark.mention").first).to_have_text("@vera")
        vera.screenshot(path=str(shots / "inbox-mention-notified.png"), full_page=True)
        assert errors == []

    # On Matrix: the acknowledgement is the brand's reply to the customer's message.
    answers = room.brand_messages()
    assert len(answers) == 1
    content = answers[0]["content"]
    assert (
        "Thanks" in content["body"] and "Sent automatically; a person follows." in content["body"]
    )
    assert content["m.relates_to"]["m.in_reply_to"]["event_id"] == mention_id
