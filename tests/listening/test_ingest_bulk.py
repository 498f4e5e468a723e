"""Bulk ingestion: more mentions than one INSERT chunk, each linked to the right queries."""

import datetime as dt

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from dialogo.listening import service, store
from dialogo.listening.models import Mention, MentionMatch, MentionSource
from dialogo.listening.query import prepare
from dialogo.listening.schemas import QueryCreate
from dialogo.nlp import analyse
from tests.listening.conftest import Brand

T0 = dt.datetime(2026, 1, 20, 10, tzinfo=dt.UTC)


def test_bulk_ingest_over_several_chunks_links_every_match(db: Session, brand: Brand) -> None:
    acme = service.add_query(db, brand.id, QueryCreate(name="Acme", query="acme")).id
    late = service.add_query(
        db, brand.id, QueryCreate(name="Late", query="late OR ritardo", kind="topic")
    ).id
    n = store.INSERT_CHUNK * 2 + 37
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


# Any text: empty, emoticons that split words (":D", "<3"), NUL, a lone surrogate, emoji only,
# a URL, mixed scripts, binary junk, 1 MB.
HOSTILE = [
    "",
    "acme",
    ":D acme <3 acme's :p",
    "ACME\x00nul",
    "acme \ud800 lone",
    "😀" * 50,
    "http://acme.example/x_y acme",
    "مرحبا acme こんにちは Привет",
    "#acme @acme acme_corp",
    bytes(range(256)).decode("latin-1") + " acme",
    "acme " * 2_000,
    "a" * 1_000_000 + " acme",
]
SHAPES = ["acme", '"acme s"', "acm*", "#acme OR @acme", "lang:und", "acme NOT corp"]


def test_any_text_is_stored_and_matched_as_its_own_document(db: Session, brand: Brand) -> None:
    for n, q in enumerate(SHAPES):
        service.add_query(db, brand.id, QueryCreate(name=f"q{n}", query=q, kind="topic"))
    items = [
        service.Incoming(channel="import", remote_id=f"h{i}", text=t, posted_at=T0)
        for i, t in enumerate(HOSTILE)
    ]
    result = service.ingest(db, brand.id, items, source=MentionSource.file, keep_unmatched=True)
    assert result.stored == len(HOSTILE)
    qs = service.active_query_set(db, brand.id)
    expected = {
        f"h{i}": qs.match(prepare(t, lang=analyse(t).language, channels=["import"]))
        for i, t in enumerate(HOSTILE)
    }
    stored: dict[str, list[int]] = {k: [] for k in expected}
    for remote_id, qid in db.execute(
        select(Mention.remote_id, MentionMatch.query_id)
        .join(MentionMatch, MentionMatch.mention_id == Mention.id)
        .where(Mention.workspace_id == brand.id)
    ):
        stored[remote_id].append(qid)
    assert {k: sorted(v) for k, v in stored.items()} == expected
    assert result.matches == sum(len(v) for v in expected.values()) > len(HOSTILE)


def test_ids_read_back_where_the_backend_gives_none(
    db: Session, brand: Brand, monkeypatch: pytest.MonkeyPatch
) -> None:
    # SQLite's consecutive ids fail their check (as they would if SQLite picked other ids):
    # the ids are read back by the unique key and every match still lands on its mention.
    monkeypatch.setattr(store, "_id_of", lambda *args: None)
    acme = service.add_query(db, brand.id, QueryCreate(name="Acme", query="acme")).id
    other = service.Incoming(channel="other", remote_id="1", text="acme elsewhere", posted_at=T0)
    items = [
        service.Incoming(channel="import", remote_id=str(i), text=f"acme {i}", posted_at=T0)
        for i in range(5)
    ]
    result = service.ingest(
        db, brand.id, [other, *items], source=MentionSource.file, keep_unmatched=True
    )
    assert (result.stored, result.matches) == (6, 6)
    linked = db.execute(
        select(Mention.channel, Mention.text)
        .join(MentionMatch, MentionMatch.mention_id == Mention.id)
        .where(MentionMatch.query_id == acme)
    ).all()
    assert sorted(linked) == sorted(
        [("other", "acme elsewhere")] + [("import", f"acme {i}") for i in range(5)]
    )


def test_sqlite_assigns_the_ids_without_reading_them_back(
    db: Session, brand: Brand, monkeypatch: pytest.MonkeyPatch
) -> None:
    if db.get_bind().dialect.name != "sqlite":
        pytest.skip("SQLite's shortcut (PostgreSQL returns the ids from the INSERT)")

    def refused(*args: object) -> list[int]:
        raise AssertionError("read back")

    monkeypatch.setattr(store, "_read_back", refused)
    service.add_query(db, brand.id, QueryCreate(name="Acme", query="acme"))
    items = [
        service.Incoming(channel="import", remote_id=str(i), text=f"acme {i}", posted_at=T0)
        for i in range(store.INSERT_CHUNK + 3)
    ]
    result = service.ingest(db, brand.id, items, source=MentionSource.file, keep_unmatched=True)
    assert (result.stored, result.matches) == (len(items), len(items))
    linked = db.scalars(
        select(Mention.text).join(MentionMatch, MentionMatch.mention_id == Mention.id)
    ).all()
    assert sorted(linked) == sorted(i.text for i in items)
