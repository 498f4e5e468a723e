"""Bulk ingestion: more mentions than one INSERT chunk, each linked to the right queries."""

import datetime as dt

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from dialogo.listening import service
from dialogo.listening.models import Mention, MentionMatch, MentionSource
from dialogo.listening.schemas import QueryCreate
from tests.listening.conftest import Brand

T0 = dt.datetime(2026, 1, 20, 10, tzinfo=dt.UTC)


def test_bulk_ingest_over_several_chunks_links_every_match(db: Session, brand: Brand) -> None:
    acme = service.add_query(db, brand.id, QueryCreate(name="Acme", query="acme")).id
    late = service.add_query(
        db, brand.id, QueryCreate(name="Late", query="late OR ritardo", kind="topic")
    ).id
    n = service.INSERT_CHUNK * 2 + 37
    texts = [
        f"acme order {i} arrived late"
        if i % 3 == 0
        else f"ordine {i} in ritardo"
        if i % 3 == 1
        else f"nothing to see {i}"
        for i in range(n)
    ]
    items = [
        service.Incoming(channel="import", remote_id=str(i), text=t, posted_at=T0)
        for i, t in enumerate(texts)
    ]
    items.append(items[5])  # a duplicate inside the batch
    result = service.ingest(db, brand.id, items, source=MentionSource.file, keep_unmatched=True)
    assert (result.received, result.stored, result.duplicates) == (n + 1, n, 1)
    by_text = dict(
        db.execute(
            select(Mention.text, func.count(MentionMatch.query_id))
            .outerjoin(MentionMatch, MentionMatch.mention_id == Mention.id)
            .where(Mention.workspace_id == brand.id)
            .group_by(Mention.text)
        ).all()
    )
    assert len(by_text) == n
    for i, text in enumerate(texts):
        assert by_text[text] == (2 if i % 3 == 0 else 1 if i % 3 == 1 else 0), text
    acme_ids = db.scalars(select(MentionMatch.mention_id).where(MentionMatch.query_id == acme))
    acme_texts = set(db.scalars(select(Mention.text).where(Mention.id.in_(list(acme_ids)))))
    assert acme_texts == {t for t in texts if t.startswith("acme")}
    assert result.matches == sum(by_text.values())
    assert db.scalar(select(func.count()).where(MentionMatch.query_id == late)) == sum(
        1 for i in range(n) if i % 3 != 2
    )
    # A second run stores nothing new.
    again = service.ingest(db, brand.id, items[:50], source=MentionSource.file, keep_unmatched=True)
    assert (again.stored, again.duplicates) == (0, 50)
