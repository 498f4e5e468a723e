"""The emotions stored on a mention are shown next to its sentiment; none when no model
judged it."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from dialogo.accounts.models import Workspace
from dialogo.listening import service as listening
from dialogo.listening.models import Mention, MentionSource
from tests.web.conftest import Browser


def test_mentions_show_their_emotions(
    signed_in: Browser, db: Session, workspace: Workspace
) -> None:
    now = dt.datetime.now(dt.UTC) - dt.timedelta(hours=2)
    listening.ingest(
        db,
        workspace.id,
        [
            listening.Incoming(
                channel="import", remote_id="1", text="che rabbia, addio", posted_at=now
            ),
            listening.Incoming(
                channel="import", remote_id="2", text="fine as usual", posted_at=now
            ),
        ],
        source=MentionSource.file,
        keep_unmatched=True,
    )
    db.execute(
        update(Mention)
        .where(Mention.workspace_id == workspace.id, Mention.remote_id == "1")
        .values(emotions=["sadness", "anger"])
    )
    db.commit()
    page = signed_in.get(f"/w/{workspace.id}/listening")
    assert page.status_code == 200
    assert 'data-emotions="sadness anger"' in page.text
    assert "Emotions: sadness, anger" in page.text
    assert page.text.count("data-emotions=") == 1  # the other was judged by no model
    unjudged = db.scalar(select(Mention.emotions).where(Mention.remote_id == "2"))
    assert unjudged is None
