"""The customer view (linked from a conversation: history, sentiment chart, notes, tags) and
the inbox rules page (list in order, add, edit, delete; bad input keeps what was typed)."""

from __future__ import annotations

import re
from collections.abc import Callable

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from dialogo.accounts.models import User, Workspace
from dialogo.accounts.permissions import Role
from dialogo.channels.models import Channel
from dialogo.inbox import ingest
from dialogo.inbox.models import InboxRule
from tests.factories import add_member
from tests.inbox.conftest import InboxNetwork, keyword_analyser
from tests.web import test_inbox_page as pages
from tests.web.conftest import Browser

# The inbox page tests' fixtures: an app on a scripted fake network, a channel on it.
app = pages.app
network = pages.network
channel = pages.channel
conversation = pages.conversation


def test_the_customer_view_is_linked_from_the_conversation(
    signed_in: Browser, db: Session, workspace: Workspace, channel: Channel, network: InboxNetwork
) -> None:
    first = conversation(db, channel, network, "lovely beans", "gina")
    m = network.message("the bag arrived broken", author="gina", conversation_id="t-gina-2")
    ingest.store_messages(db, channel, [m], analyser=keyword_analyser)
    db.commit()
    url = f"/w/{workspace.id}/inbox/{first.id}"
    signed_in.post(f"{url}/notes", {"body": "sent a sample last month"})
    signed_in.post(f"{url}/tags", {"tag": "vip"})
    page = signed_in.get(url)
    link = re.search(r'href="(/w/\d+/inbox-contacts/\d+)" id="customer-link"', page.text)
    assert link, "the conversation links to the customer"
    view = signed_in.get(link.group(1))
    assert view.status_code == 200
    text = view.text
    assert "lovely beans" in text and "the bag arrived broken" in text
    assert "sent a sample last month" in text and ">vip<" in text
    assert "<svg" in text and "<polyline" in text and text.count("<circle") == 2
    assert signed_in.get(f"/w/{workspace.id}/inbox-contacts/999999").status_code == 404


def test_rules_are_added_edited_and_deleted_on_the_page(
    signed_in: Browser,
    sign_in_as: Callable[[User], Browser],
    db: Session,
    owner: User,
    workspace: Workspace,
    channel: Channel,
) -> None:
    base = f"/w/{workspace.id}/inbox-rules"
    assert f'href="{base}"' in signed_in.get(f"/w/{workspace.id}/inbox").text
    r = signed_in.post(
        base,
        {
            "name": "Refunds",
            "position": "2",
            "enabled": "1",
            "words": "refund, rimborso",
            "channel_id": str(channel.id),
            "tag": "refund",
            "priority": "15",
        },
    )
    assert r.status_code == 303
    page = signed_in.get(base)
    assert "Refunds" in page.text and "refund, rimborso" in page.text and "+15" in page.text
    rule = db.scalar(select(InboxRule))
    assert rule is not None
    assert rule.conditions == {"channel_id": channel.id, "words": ["refund", "rimborso"]}
    edit = signed_in.get(base, params={"edit": rule.id})
    assert 'value="Refunds"' in edit.text and "Save the rule" in edit.text
    r = signed_in.post(
        f"{base}/{rule.id}", {"name": "Refunds", "position": "1", "tag": "refund", "close": "1"}
    )
    assert r.status_code == 303
    db.expire_all()
    assert rule.enabled is False and rule.actions == {"tag": "refund", "close": True}
    # bad input: a clear message, what was typed kept, nothing stored
    bad = signed_in.post(base, {"name": "Loud", "words": "shouting", "priority": "lots"})
    assert bad.status_code == 422 and "are numbers" in bad.text and 'value="shouting"' in bad.text
    bad = signed_in.post(base, {"name": "No action", "words": "x"})
    assert bad.status_code == 422 and "at least one action" in bad.text
    assert db.scalar(select(func.count()).select_from(InboxRule)) == 1
    # an agent reads the rules but has no form
    agent = add_member(db, workspace, owner, Role.agent)
    db.commit()
    b = sign_in_as(agent)
    seen = b.get(base)
    assert seen.status_code == 200 and "Refunds" in seen.text and "Add the rule" not in seen.text
    assert b.post(f"{base}/{rule.id}/delete").status_code == 403
    assert sign_in_as(owner).post(f"{base}/{rule.id}/delete").status_code == 303
    assert db.scalar(select(func.count()).select_from(InboxRule)) == 0


def test_italian_a_refused_rule_says_why_in_italian(
    signed_in: Browser, db: Session, workspace: Workspace, channel: Channel
) -> None:
    base = f"/w/{workspace.id}/inbox-rules"
    signed_in.post("/language", {"language": "it", "next": "/"})
    bad = signed_in.post(base, {"name": "Nessuna azione", "words": "x"})
    assert bad.status_code == 422
    assert "Impossibile salvare la regola: serve almeno un&#39;azione." in bad.text
    elsewhere = signed_in.post(base, {"name": "Altrove", "channel_id": "999999", "close": "1"})
    assert elsewhere.status_code == 422
    assert "il canale non appartiene a questo spazio di lavoro." in elsewhere.text
    assert "at least one action" not in bad.text and "workspace&#39;s" not in elsewhere.text
    assert db.scalar(select(func.count()).select_from(InboxRule)) == 0
