"""Server-side texts in the viewer's language: the home page's notifications (every kind worded
from its parameters, one stored before kinds had parameters shown as it was stored) and the
labels of segments built from one profile field."""

from __future__ import annotations

import dataclasses

from markupsafe import escape
from sqlalchemy.orm import Session

from dialogo.accounts.models import User, Workspace
from dialogo.audience.receptiveness import SegmentUplift
from dialogo.core.context import AppContext
from dialogo.notifications import kinds
from dialogo.notifications import service as notifications
from dialogo.web import messages, templating
from tests.notifications.test_kinds import SAMPLES, kind_of
from tests.web.conftest import Browser


def test_an_italian_viewer_reads_every_kind_in_italian(
    db: Session, owner: User, workspace: Workspace, browser: Browser, ctx: AppContext
) -> None:
    owner.language = "it"
    made = [
        notifications.notify(db, workspace.id, kind=kind_of(key), params=params, body="why")
        for key, params in SAMPLES.items()
    ]
    old = notifications.notify(db, workspace.id, kind="post_failed", title="Stored in English")
    db.commit()
    assert browser.sign_in(owner.email).status_code == 303
    page = browser.get(f"/w/{workspace.id}").text
    registry = ctx.providers

    def network_name(code: str) -> str:  # as the page names networks
        return registry.get(code).capabilities.display_name if code in registry else code

    for n in made:
        if n.recipient_id is None:
            shown = kinds.render(n, "it", network_name=network_name)
            assert str(escape(shown.title)) in page, shown.title
            assert shown.title != kinds.render(n, "en").title  # once the catalogue has it
    assert "Stored in English" in page and old.params is None


def test_segment_labels_are_worded_in_the_viewers_language() -> None:
    italian = templating.tr("it")
    age = SegmentUplift(
        "age 25-34", "age 25-34", False, 1, 0.1, 1.0, None, 1, 1, "age_band", "25-34"
    )
    assert messages.segment_label(templating.tr("en"), age) == "age 25-34"
    assert messages.segment_label(italian, age) == italian.gettext("age %(value)s") % {
        "value": "25-34"
    }
    assert messages.segment_label(italian, age) != "age 25-34"  # once the catalogue has it
    saved = dataclasses.replace(age, label="Runners", saved=True, facet=None, value=None)
    assert messages.segment_label(italian, saved) == "Runners"
