"""UGC on the real database: positive public posts about the brand as candidates (media
first), rights requests with their status and the rights granted; bad input; erasure."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy.orm import Session

from dialogo.accounts import service as accounts
from dialogo.audience import service as audience
from dialogo.channels.models import Channel
from dialogo.core.errors import Conflict, InvalidInput, NotFound
from dialogo.inbox.models import Contact, Message
from dialogo.influence import ugc
from dialogo.influence.models import UgcRightsRequest
from tests.factories import make_user, make_workspace

NOW = dt.datetime(2026, 3, 1, 12, tzinfo=dt.UTC)


@pytest.fixture
def rig(db: Session) -> tuple[accounts.Principal, int, dict[str, int]]:
    owner = make_user(db)
    ws = make_workspace(db, owner).id
    channel = Channel(
        workspace_id=ws,
        network="sandbox",
        name="Sandbox",
        account_remote_id="brand",
        account_handle="brand",
        credentials="x",
    )
    fan = Contact(workspace_id=ws, display_name="Fan")
    db.add_all([channel, fan])
    db.flush()
    ids = {"fan": fan.id}
    for key, kind, text, label, score, ref in (
        ("photo", "mention", "Che colazione! https://img.example/cup.jpg", "positive", 0.9, {}),
        ("praise", "comment", "Il vostro caffè è buonissimo", "positive", 0.7, {}),
        ("dm", "direct", "Vi adoro", "positive", 0.95, {}),
        ("angry", "mention", "Pessimo servizio", "negative", -0.8, {}),
        ("video", "reply", "Guardate!", "positive", 0.5, {"media_url": "https://v/1.mp4"}),
    ):
        message = Message(
            workspace_id=ws,
            channel_id=channel.id,
            remote_id=key,
            direction="inbound",
            kind=kind,
            contact_id=fan.id,
            author_handle="fan.one",
            text=text,
            url=f"https://example/{key}",
            created_at=NOW,
            sentiment=score,
            sentiment_label=label,
            ref=ref,
        )
        db.add(message)
        db.flush()
        ids[key] = message.id
    return accounts.Principal.for_user(owner), ws, ids


def test_candidates_are_positive_public_posts_media_first(
    db: Session, rig: tuple[accounts.Principal, int, dict[str, int]]
) -> None:
    principal, ws, ids = rig
    found = ugc.candidates(db, principal, ws)
    assert [c.item_key for c in found] == [
        f"message:{ids['photo']}",
        f"message:{ids['video']}",
        f"message:{ids['praise']}",
    ]
    assert [c.media for c in found] == [True, True, False]
    media = ugc.candidates(db, principal, ws, media_only=True)
    assert len(media) == 2
    with pytest.raises(InvalidInput):
        ugc.candidates(db, principal, ws, limit=0)


def test_rights_request_lifecycle(
    db: Session, rig: tuple[accounts.Principal, int, dict[str, int]]
) -> None:
    principal, ws, ids = rig
    key = f"message:{ids['photo']}"
    request = ugc.request_rights(db, principal, ws, key, "  Possiamo condividerlo?  ")
    assert (request.status, request.request_text, request.requested_by) == (
        "requested",
        "Possiamo condividerlo?",
        principal.user_id,
    )
    assert request.text.startswith("Che colazione") and request.contact_id == ids["fan"]
    # asked already: no longer a candidate, and not asked twice
    assert key not in {c.item_key for c in ugc.candidates(db, principal, ws)}
    shown = ugc.candidates(db, principal, ws, include_requested=True)
    assert next(c for c in shown if c.item_key == key).status == "requested"
    with pytest.raises(Conflict):
        ugc.request_rights(db, principal, ws, key, "again")
    with pytest.raises(InvalidInput, match="which rights"):
        ugc.record_answer(db, principal, ws, request.id, "granted", "  ")
    with pytest.raises(InvalidInput, match="granted or refused"):
        ugc.record_answer(db, principal, ws, request.id, "maybe")
    granted = ugc.record_answer(
        db, principal, ws, request.id, "granted", "Instagram and website, 12 months"
    )
    assert granted.status == "granted" and granted.decided_at is not None
    assert [r.id for r in ugc.list_requests(db, principal, ws, status="granted")] == [request.id]
    withdrawn = ugc.record_answer(db, principal, ws, request.id, "refused")
    assert (withdrawn.status, withdrawn.rights) == ("refused", "")


def test_bad_items_are_refused(
    db: Session, rig: tuple[accounts.Principal, int, dict[str, int]]
) -> None:
    principal, ws, ids = rig
    with pytest.raises(InvalidInput, match="message:<id>"):
        ugc.request_rights(db, principal, ws, "post:1", "hi")
    with pytest.raises(InvalidInput, match="public post"):
        ugc.request_rights(db, principal, ws, f"message:{ids['dm']}", "hi")
    with pytest.raises(NotFound):
        ugc.request_rights(db, principal, ws, "message:99999999", "hi")
    with pytest.raises(InvalidInput, match="write what"):
        ugc.request_rights(db, principal, ws, f"message:{ids['praise']}", "   ")
    with pytest.raises(InvalidInput, match="status"):
        ugc.list_requests(db, principal, ws, status="pending")


def test_erasing_the_author_erases_their_requests(
    db: Session, rig: tuple[accounts.Principal, int, dict[str, int]]
) -> None:
    principal, ws, ids = rig
    request_id = ugc.request_rights(db, principal, ws, f"message:{ids['praise']}", "May we?").id
    audience.erase_person(db, principal, ws, ids["fan"])
    assert db.get(UgcRightsRequest, request_id) is None


def test_has_media() -> None:
    assert ugc.has_media("see https://x.example/a.PNG now")
    assert ugc.has_media("", {"image": "cid123"})
    assert not ugc.has_media("https://x.example/page.html", {"image": ""})
