"""Mentions in notes on the conversation page (highlighted, autocomplete, a personal
notification on the home page of the mentioned member only) and automated acknowledgements
(turned on by an admin on the rules page, labelled as automated in the conversation)."""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import select
from sqlalchemy.orm import Session

from dialogo.accounts import service as accounts
from dialogo.accounts.models import User, Workspace
from dialogo.accounts.permissions import Role
from dialogo.accounts.schemas import MemberAdd
from dialogo.accounts.service import Principal
from dialogo.channels.models import Channel
from dialogo.inbox import replies
from dialogo.inbox import service as inbox
from dialogo.inbox.models import InboxRule, InboxSettings, Reply
from dialogo.inbox.schemas import InboxSettingsIn
from dialogo.providers.base import PublishResult
from dialogo.web.pages import inbox as inbox_page
from tests.factories import add_member, make_user
from tests.inbox.conftest import InboxNetwork
from tests.web import test_inbox_page as pages
from tests.web.conftest import Browser

app = pages.app
network = pages.network
channel = pages.channel
conversation = pages.conversation


def member(db: Session, workspace: Workspace, owner: User, email: str, role: Role) -> User:
    user = make_user(db, email=email)
    accounts.add_member(
        db, Principal.for_user(owner), workspace.id, MemberAdd(email=user.email, role=role)
    )
    return user


def test_a_mention_is_highlighted_and_notifies_only_that_member(
    signed_in: Browser,
    sign_in_as: Callable[[User], Browser],
    db: Session,
    owner: User,
    workspace: Workspace,
    channel: Channel,
    network: InboxNetwork,
) -> None:
    conv = conversation(db, channel, network, "where is my parcel?", "gina")
    vera = member(db, workspace, owner, "vera@example.org", Role.viewer)
    otto = member(db, workspace, owner, "otto@example.org", Role.agent)
    db.commit()
    url = f"/w/{workspace.id}/inbox/{conv.id}"
    page = signed_in.get(url)
    help_ = page.text.split('id="note-mention-help">')[1].split("</small>")[0]
    assert "@otto" in help_ and "@vera" in help_  # the handles to mention
    typed = signed_in.get(f"/w/{workspace.id}/inbox-mentionable", params={"body": "please ask @ve"})
    assert typed.status_code == 200 and "@vera" in typed.text and "@otto" not in typed.text
    # Each match is a button the note box's script inserts (static/inbox-mentions.js).
    assert '<button type="button"' in typed.text and 'data-mention-handle="vera"' in typed.text
    assert "inbox-mentions.js" in page.text
    idle = signed_in.get(f"/w/{workspace.id}/inbox-mentionable", params={"body": "no mention"})
    assert "<li>" not in idle.text
    r = signed_in.post(f"{url}/notes", {"body": "@vera <b>look</b>, not @nobody"})
    assert r.status_code == 303
    page = signed_in.get(url)
    assert '<mark class="mention"' in page.text and ">@vera</mark>" in page.text
    assert "@nobody" in page.text and ">@nobody</mark>" not in page.text
    assert "&lt;b&gt;look&lt;/b&gt;" in page.text  # the note's text stays escaped
    # The customer page highlights the same way (the same partial).
    contact, _ = inbox.contact_of(db, conv)
    assert contact is not None
    history = signed_in.get(f"/w/{workspace.id}/inbox-contacts/{contact.id}")
    assert history.status_code == 200
    assert '<mark class="mention" title="' in history.text and ">@vera</mark>" in history.text
    assert ">@nobody</mark>" not in history.text and "&lt;b&gt;look&lt;/b&gt;" in history.text
    home_vera = sign_in_as(vera).get(f"/w/{workspace.id}")
    assert "mentioned you in a note" in home_vera.text and "For you" in home_vera.text
    assert f"/w/{workspace.id}/inbox/{conv.id}#note-" in home_vera.text
    home_otto = sign_in_as(otto).get(f"/w/{workspace.id}")
    assert "mentioned you in a note" not in home_otto.text
    # The viewer dismisses her own notification (viewers cannot dismiss the team's).
    nid = int(home_vera.text.split("/notifications/")[1].split("/dismiss")[0])
    r = sign_in_as(vera).post(f"/w/{workspace.id}/notifications/{nid}/dismiss")
    assert r.status_code == 303
    assert "mentioned you" not in sign_in_as(vera).get(f"/w/{workspace.id}").text


def test_an_admin_turns_acknowledgements_on_and_they_are_labelled(
    signed_in: Browser,
    sign_in_as: Callable[[User], Browser],
    db: Session,
    owner: User,
    workspace: Workspace,
    channel: Channel,
    network: InboxNetwork,
) -> None:
    principal = Principal.for_user(owner)
    saved = inbox.create_saved_reply(db, principal, workspace.id, "thanks", "Thanks {name}!")
    agent = add_member(db, workspace, owner, Role.agent)
    db.commit()
    rules_url = f"/w/{workspace.id}/inbox-rules"
    page = signed_in.get(rules_url)
    assert "Nothing is sent automatically." in page.text
    r = signed_in.post(rules_url, {"name": "ack all", "enabled": "1", "acknowledge": str(saved.id)})
    assert r.status_code == 303
    rule = db.scalars(select(InboxRule)).one()
    assert rule.actions == {"acknowledge": saved.id}
    # An agent may not turn them on; an admin does, with a disclosure.
    refused = sign_in_as(agent).post(f"/w/{workspace.id}/inbox-acknowledgements", {"enabled": "1"})
    assert refused.status_code == 403
    signed_in = sign_in_as(owner)
    r = signed_in.post(
        f"/w/{workspace.id}/inbox-acknowledgements",
        {"enabled": "1", "disclosure": "Sent by a bot; a person follows."},
    )
    assert r.status_code == 303
    db.expire_all()
    settings = db.get(InboxSettings, workspace.id)
    assert settings is not None and settings.auto_ack_enabled
    assert settings.ack_disclosure == "Sent by a bot; a person follows."
    assert "Sent by a bot; a person follows." in signed_in.get(rules_url).text
    conv = conversation(db, channel, network, "hello, anyone?", "hugo")
    reply = db.scalars(select(Reply)).one()
    assert reply.automated
    # Sent (as the job does), then shown as automated in the conversation.
    replies._sent(db, reply, channel, PublishResult(remote_id="out-1", url=None), conv.created_at)
    db.commit()
    page = signed_in.get(f"/w/{workspace.id}/inbox/{conv.id}")
    assert "Automated acknowledgement" in page.text and 'badge-automated">Automated<' in page.text
    assert "Thanks Hugo!\n\nSent by a bot; a person follows." in page.text
    # Off again: the next conversation gets nothing.
    r = signed_in.post(f"/w/{workspace.id}/inbox-acknowledgements", {"disclosure": ""})
    assert r.status_code == 303
    db.expire_all()
    conversation(db, channel, network, "hi again", "ines")
    assert len(db.scalars(select(Reply)).all()) == 1


def test_the_default_disclosure_is_marked_for_translation() -> None:
    from dialogo.inbox import acknowledge

    assert inbox_page.ACK_DISCLOSURE_DEFAULT == acknowledge.DEFAULT_DISCLOSURE


def test_an_acknowledgement_rule_needs_a_saved_reply_without_agent(
    signed_in: Browser, db: Session, owner: User, workspace: Workspace
) -> None:
    saved = inbox.create_saved_reply(
        db, Principal.for_user(owner), workspace.id, "signed", "Hi, {agent} here"
    )
    inbox.update_settings(
        db, Principal.for_user(owner), workspace.id, InboxSettingsIn(auto_ack_enabled=True)
    )
    db.commit()
    r = signed_in.post(
        f"/w/{workspace.id}/inbox-rules", {"name": "ack", "acknowledge": str(saved.id)}
    )
    assert r.status_code == 422 and "choose a saved reply without {agent}" in r.text
    assert 'value="ack"' in r.text  # what was typed is kept
    assert db.scalars(select(InboxRule)).all() == []
