"""The Listening page: search with the query language (errors say where), mentions with their
sentiment, label corrections, saved queries, reputation chart and share of voice."""

from __future__ import annotations

import datetime as dt
import re

from sqlalchemy import select
from sqlalchemy.orm import Session

from dialogo.accounts.models import User, Workspace
from dialogo.accounts.permissions import Role
from dialogo.listening import service as listening
from dialogo.listening.models import ListeningQuery, Mention, MentionSource
from tests.factories import add_member
from tests.web.conftest import Browser


def _seed(db: Session, workspace: Workspace) -> None:
    now = dt.datetime.now(dt.UTC) - dt.timedelta(hours=2)
    texts = [
        "Aurora coffee is wonderful, best espresso in town",
        "Aurora delivery was late again, terrible service",
        "Vesuvio beans are ok I guess",
        "Completely unrelated post",
    ]
    listening.ingest(
        db,
        workspace.id,
        [
            listening.Incoming(channel="import", remote_id=str(i), text=t, posted_at=now)
            for i, t in enumerate(texts)
        ],
        source=MentionSource.file,
        keep_unmatched=True,
    )
    db.commit()


def test_search_correct_save_and_reputation(
    signed_in: Browser, db: Session, workspace: Workspace
) -> None:
    _seed(db, workspace)
    base = f"/w/{workspace.id}/listening"
    page = signed_in.get(base)
    assert page.status_code == 200
    assert "<h1>Listening</h1>" in page.text
    assert f'<a href="{base}" aria-current="page">Listening' in page.text
    found = signed_in.get(base, params={"q": "aurora NOT late"})
    assert found.status_code == 200
    assert "best espresso" in found.text and "delivery was late" not in found.text
    assert 'data-label="positive"' in found.text
    bad = signed_in.get(base, params={"q": "aurora AND (late"})
    assert bad.status_code == 422
    assert "error at character 17" in bad.text
    # Correct a label.
    mention = db.scalar(select(Mention).where(Mention.remote_id == "2"))
    assert mention is not None
    r = signed_in.post(f"{base}/mentions/{mention.id}/label", {"label": "positive", "q": "vesuvio"})
    assert r.status_code == 303
    assert r.headers["location"] == f"{base}?q=vesuvio"
    db.expire_all()
    assert db.get(Mention, mention.id).corrected_label == "positive"  # type: ignore[union-attr]
    # Save a brand and a competitor query: the stored mentions are matched at once.
    r = signed_in.post(f"{base}/queries", {"query": "aurora", "name": "Aurora", "kind": "brand"})
    assert r.status_code == 303
    r = signed_in.post(
        f"{base}/queries", {"query": "vesuvio", "name": "Vesuvio", "kind": "competitor"}
    )
    assert r.status_code == 303
    bad_save = signed_in.post(f"{base}/queries", {"query": '"open', "name": "X"})
    assert bad_save.status_code == 303
    assert "q=%22open" in bad_save.headers["location"]
    assert db.scalar(select(ListeningQuery).where(ListeningQuery.name == "X")) is None
    page = signed_in.get(base)
    assert 'class="listening-chart"' in page.text
    assert re.search(r'<rect class="share" data-query="\d+"', page.text)
    shares = re.findall(r'class="share-of-voice">(\d+) %', page.text)
    assert sorted(shares) == ["33", "67"]


def test_viewer_reads_but_cannot_correct(
    sign_in_as,
    db: Session,
    workspace: Workspace,
    owner: User,  # type: ignore[no-untyped-def]
) -> None:
    _seed(db, workspace)
    viewer = add_member(db, workspace, owner, Role.viewer)
    db.commit()
    browser = sign_in_as(viewer)
    page = browser.get(f"/w/{workspace.id}/listening", params={"q": "aurora"})
    assert page.status_code == 200
    assert "best espresso" in page.text
    assert "label-form" not in page.text
    mention = db.scalar(select(Mention).where(Mention.remote_id == "0"))
    assert mention is not None
    r = browser.post(
        f"/w/{workspace.id}/listening/mentions/{mention.id}/label", {"label": "negative"}
    )
    assert r.status_code == 403
