"""The Inbox pages through the app: the list with filters, a conversation, assignment, status,
tags, notes, replies (queued once), the "someone else is replying" warning, the quarantine
(admins only), and bad input answered with a message that keeps the draft."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable

import pytest
from fastapi import FastAPI
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from dialogo.accounts.models import User, Workspace
from dialogo.accounts.permissions import Role
from dialogo.accounts.service import Principal
from dialogo.channels.crypto import CredentialCipher
from dialogo.channels.models import Channel
from dialogo.core.context import AppContext
from dialogo.inbox import ingest
from dialogo.inbox.models import Conversation, ConversationTag, Reply
from dialogo.jobs.models import Job
from dialogo.providers.registry import ProviderRegistry
from dialogo.server import create_app
from tests.factories import add_member
from tests.inbox.conftest import InboxNetwork, keyword_analyser
from tests.publishing.conftest import connect
from tests.web.conftest import Browser


@pytest.fixture
def network() -> InboxNetwork:
    return InboxNetwork()


@pytest.fixture
def app(ctx: AppContext, network: InboxNetwork) -> FastAPI:
    registry = ProviderRegistry({network.name: network.provider_class()})
    return create_app(dataclasses.replace(ctx, providers=registry))


@pytest.fixture
def channel(
    db: Session, owner: User, workspace: Workspace, network: InboxNetwork, ctx: AppContext
) -> Channel:
    registry = ProviderRegistry({network.name: network.provider_class()})
    account = network.add_account("caffe_aurora")
    ch = connect(
        db,
        owner,
        workspace.id,
        network,
        registry,
        CredentialCipher.from_settings(ctx.settings),
        account,
    )  # type: ignore[arg-type]
    db.commit()
    return ch


def conversation(
    db: Session, channel: Channel, network: InboxNetwork, text: str, author: str
) -> Conversation:
    m = network.message(text, author=author, conversation_id=f"t-{author}")
    ingest.store_messages(db, channel, [m], analyser=keyword_analyser)
    db.commit()
    found = db.scalar(select(Conversation).where(Conversation.thread_key == f"t-{author}"))
    assert found is not None
    return found


def test_the_list_filters_and_shows_priority_reasons(
    signed_in: Browser, db: Session, workspace: Workspace, channel: Channel, network: InboxNetwork
) -> None:
    conversation(db, channel, network, "nice coffee", "anna")
    broken = conversation(db, channel, network, "my cup arrived broken?", "bruno")
    page = signed_in.get(f"/w/{workspace.id}/inbox")
    assert page.status_code == 200
    assert f'href="/w/{workspace.id}/inbox"' in page.text  # the nav item is live now
    # the complaint comes first, with its reasons
    assert page.text.index("my cup arrived broken?") < page.text.index("nice coffee")
    assert "a complaint" in page.text and "a question" in page.text
    found = signed_in.client.get(
        f"/w/{workspace.id}/inbox", params={"q": "coffee"}, headers={"HX-Request": "true"}
    )
    assert "nice coffee" in found.text and "broken" not in found.text
    assert "<html" not in found.text  # htmx gets the list alone
    signed_in.post(f"/w/{workspace.id}/inbox/{broken.id}/tags", {"tag": "Refund"})
    tagged = signed_in.get(f"/w/{workspace.id}/inbox", params={"tag": "refund"})
    assert "broken" in tagged.text and "nice coffee" not in tagged.text


def test_a_conversation_is_assigned_tagged_noted_and_answered_once(
    signed_in: Browser,
    db: Session,
    owner: User,
    workspace: Workspace,
    channel: Channel,
    network: InboxNetwork,
) -> None:
    conv = conversation(db, channel, network, "is the shop open on Sunday?", "carla")
    agent = add_member(db, workspace, owner, Role.agent)
    db.commit()
    url = f"/w/{workspace.id}/inbox/{conv.id}"
    page = signed_in.get(url)
    assert "is the shop open on Sunday?" in page.text
    r = signed_in.post(f"{url}/assign", {"assignee": str(agent.id)})
    assert r.status_code == 303
    db.refresh(conv)
    assert conv.assignee_id == agent.id
    signed_in.post(f"{url}/notes", {"body": "regular customer"})
    signed_in.post(f"{url}/status", {"status": "pending"})
    key = re.search(r'name="reply_key" value="([^"]+)"', signed_in.get(url).text)
    assert key
    for _ in range(2):  # a double click
        r = signed_in.post(
            f"{url}/reply", {"text": "Yes, from 9 to 13!", "reply_key": key.group(1)}
        )
        assert r.status_code == 303
    db.expire_all()
    assert db.scalar(select(func.count()).select_from(Reply)) == 1
    assert (
        db.scalar(select(func.count()).select_from(Job).where(Job.task == "inbox.send_reply")) == 1
    )
    page = signed_in.get(url)
    assert "regular customer" in page.text and "Yes, from 9 to 13!" in page.text
    assert "sending…" in page.text


def test_bad_input_is_refused_with_a_message_and_keeps_the_draft(
    signed_in: Browser, db: Session, workspace: Workspace, channel: Channel, network: InboxNetwork
) -> None:
    conv = conversation(db, channel, network, "hello", "dario")
    url = f"/w/{workspace.id}/inbox/{conv.id}"
    r = signed_in.post(f"{url}/reply", {"text": "   "})
    assert r.status_code == 422 and "A reply needs some text." in r.text
    long = "x" * 10_001
    r = signed_in.post(f"{url}/reply", {"text": long})
    assert r.status_code == 422 and long in r.text  # the draft comes back
    r = signed_in.post(f"{url}/tags", {"tag": "<b>"})
    assert r.status_code == 422
    r = signed_in.post(f"{url}/status", {"status": "nonsense"})
    assert r.status_code == 400
    r = signed_in.post(f"{url}/assign", {"assignee": "999999"})
    assert r.status_code == 422
    db.expire_all()
    assert db.scalar(select(func.count()).select_from(Reply)) == 0
    assert db.scalar(select(func.count()).select_from(ConversationTag)) == 0


def test_someone_else_replying_is_shown_to_the_other(
    signed_in: Browser,
    sign_in_as: Callable[[User], Browser],
    db: Session,
    owner: User,
    workspace: Workspace,
    channel: Channel,
    network: InboxNetwork,
) -> None:
    conv = conversation(db, channel, network, "hello", "elena")
    agent = add_member(db, workspace, owner, Role.agent)
    db.commit()
    url = f"/w/{workspace.id}/inbox/{conv.id}/presence"
    first = signed_in.htmx(url)
    assert first.status_code == 200 and "is replying" not in first.text
    other = sign_in_as(agent)
    warned = other.htmx(url)
    assert f"{owner.email} is replying to this conversation too." in warned.text


def test_viewers_read_but_cannot_reply_and_only_admins_see_the_quarantine(
    sign_in_as: Callable[[User], Browser],
    db: Session,
    owner: User,
    workspace: Workspace,
    channel: Channel,
    network: InboxNetwork,
) -> None:
    conv = conversation(db, channel, network, "hello", "fabio")
    ingest.quarantine(
        db, channel, {"bad": True}, "the message has no remote id", now=conv.created_at
    )
    viewer = add_member(db, workspace, owner, Role.viewer)
    db.commit()
    b = sign_in_as(viewer)
    page = b.get(f"/w/{workspace.id}/inbox/{conv.id}")
    assert page.status_code == 200 and "Send reply" not in page.text
    assert b.post(f"/w/{workspace.id}/inbox/{conv.id}/reply", {"text": "hi"}).status_code == 403
    assert b.get(f"/w/{workspace.id}/inbox-quarantine").status_code == 403
    admin = sign_in_as(owner)
    q = admin.get(f"/w/{workspace.id}/inbox-quarantine")
    assert q.status_code == 200 and "the message has no remote id" in q.text
    assert Principal.for_user(owner)


def test_saved_replies_suggestions_and_the_canned_warning(
    signed_in: Browser, db: Session, workspace: Workspace, channel: Channel, network: InboxNetwork
) -> None:
    from dialogo.inbox.models import Direction, Message

    # A past conversation the team answered: its answer is suggested for a similar question.
    past = conversation(db, channel, network, "are you open on sunday?", "gino")
    db.add(
        Message(
            workspace_id=workspace.id,
            channel_id=channel.id,
            conversation_id=past.id,
            remote_id="answer-1",
            direction=Direction.outbound.value,
            kind="reply",
            text="Yes, from 9 to 13 on Sundays!",
        )
    )
    db.commit()
    conv = conversation(db, channel, network, "open sunday morning?", "hana")
    url = f"/w/{workspace.id}/inbox/{conv.id}"
    page = signed_in.get(url)
    assert "Yes, from 9 to 13 on Sundays!" in page.text and "Use and edit" in page.text
    prefilled = signed_in.get(url, params={"suggestion": 0})
    assert re.search(
        r"<textarea id=\"reply-text\"[^>]*>Yes, from 9 to 13 on Sundays!</textarea>", prefilled.text
    )

    r = signed_in.post(
        f"/w/{workspace.id}/inbox-saved-replies",
        {"name": "Hello", "body": "Ciao {name}, grazie!", "back": url},
    )
    assert r.status_code == 303 and r.headers["location"] == url
    bad = signed_in.post(
        f"/w/{workspace.id}/inbox-saved-replies", {"name": "B", "body": "Hi {nmae}", "back": url}
    )
    assert bad.status_code == 303
    assert "Use only the variables" in signed_in.get(url).text
    saved_id = re.search(r"\?saved=(\d+)", signed_in.get(url).text)
    assert saved_id
    filled = signed_in.get(url, params={"saved": saved_id.group(1)})
    assert ">Ciao Hana, grazie!</textarea>" in filled.text

    same = "Thanks for your message, we will get back to you soon."
    for author in ("i1", "i2", "i3"):
        other = conversation(db, channel, network, "hi", author)
        assert (
            signed_in.post(f"/w/{workspace.id}/inbox/{other.id}/reply", {"text": same}).status_code
            == 303
        )
    warned = signed_in.post(f"{url}/reply", {"text": same})
    assert (
        warned.status_code == 409
        and "may read as canned" in warned.text
        and "Send it anyway" in warned.text
    )
    assert same in warned.text  # the draft is kept
    sent = signed_in.post(f"{url}/reply", {"text": same, "send_anyway": "1"})
    assert sent.status_code == 303
    listing = signed_in.get(f"/w/{workspace.id}/inbox")
    assert "Personal replies per agent" in listing.text
