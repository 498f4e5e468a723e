"""The crisis view: an alert on the Listening page leads to the spike, the messages behind it
and what changed against the baseline."""

from __future__ import annotations

import datetime as dt
import re

from sqlalchemy.orm import Session

from dialogo.accounts.models import User, Workspace
from dialogo.accounts.permissions import Role
from dialogo.listening import service as listening
from dialogo.listening.models import MentionSource
from dialogo.listening.schemas import QueryCreate
from tests.factories import add_member, make_user, make_workspace
from tests.web.conftest import Browser


def _spike(db: Session, workspace: Workspace) -> list[int]:
    listening.add_query(db, workspace.id, QueryCreate(name="Aurora", query="aurora"))
    now = dt.datetime.now(dt.UTC)
    judged = now.replace(minute=0, second=0, microsecond=0) - dt.timedelta(hours=1)
    items = []
    n = 0
    for week in range(1, 5):
        for k in range(2):
            n += 1
            items.append(
                listening.Incoming(
                    channel="import",
                    remote_id=str(n),
                    text="aurora espresso as usual",
                    posted_at=judged - dt.timedelta(weeks=week, minutes=-k),
                )
            )
    for k in range(25):
        n += 1
        items.append(
            listening.Incoming(
                channel="import",
                remote_id=str(n),
                text=f"aurora cups leaking, awful, want a refund {k}",
                posted_at=judged + dt.timedelta(minutes=k * 2),
                author_handle="barista" if k % 2 else "",
            )
        )
    listening.ingest(db, workspace.id, items, source=MentionSource.file, keep_unmatched=True)
    raised = listening.check_alerts(db, workspace.id, now=now)
    db.commit()
    return [a.id for a in raised]


def test_alert_leads_to_the_crisis_view(
    signed_in: Browser, db: Session, workspace: Workspace
) -> None:
    ids = _spike(db, workspace)
    assert len(ids) == 2
    base = f"/w/{workspace.id}/listening"
    page = signed_in.get(base)
    assert page.status_code == 200
    links = re.findall(rf'href="{base}/alerts/(\d+)"', page.text)
    assert sorted(int(x) for x in links) == sorted(ids)
    assert "Volume spike" in page.text and "Negative share spike" in page.text
    crisis = signed_in.get(f"{base}/alerts/{ids[0]}")
    assert crisis.status_code == 200
    text = crisis.text
    assert "Crisis view" in text and "Aurora" in text
    assert text.count('class="hour') >= 48 and 'class="hour spike"' in text
    assert 'class="baseline"' in text
    terms = text.split('id="crisis-terms"')[1].split("</table>")[0]
    assert "refund" in terms and "leaking" in terms and "espresso" not in terms
    assert "@barista" in text
    assert text.count("aurora cups leaking") == 25
    negative = text.split('id="crisis-negative-share"')[1].split("</tr>")[0]
    assert re.findall(r"(\d+) %", negative) == ["100", "0"]


def test_crisis_view_is_per_workspace(
    sign_in_as,
    db: Session,
    workspace: Workspace,
    owner: User,  # type: ignore[no-untyped-def]
) -> None:
    ids = _spike(db, workspace)
    viewer = add_member(db, workspace, owner, Role.viewer)
    stranger = make_user(db)
    elsewhere = make_workspace(db, stranger)
    db.commit()
    assert sign_in_as(viewer).get(f"/w/{workspace.id}/listening/alerts/{ids[0]}").status_code == 200
    other = sign_in_as(stranger)
    assert other.get(f"/w/{workspace.id}/listening/alerts/{ids[0]}").status_code in (403, 404)
    assert other.get(f"/w/{elsewhere.id}/listening/alerts/{ids[0]}").status_code == 404
