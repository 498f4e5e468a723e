"""Large ingest batches enriched by the worker pool: the same results as in process, a worker
killed mid-batch loses nothing, small batches never start the pool, the setting turns it off."""

from __future__ import annotations

import datetime as dt
import os
import signal
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from dialogo.core.text import storable
from dialogo.listening import parallel, service, store
from dialogo.listening.models import Mention, MentionMatch, MentionSource
from dialogo.listening.query import QuerySet
from dialogo.listening.schemas import QueryCreate
from tests.listening.conftest import Brand
from tests.listening.test_ingest_bulk import HOSTILE

# Spawning the workers (a fresh interpreter each, loading the models) takes seconds: the tests
# that start the pool are marked slow; they share one pool while none breaks it.
T0 = dt.datetime(2026, 3, 2, 9, tzinfo=dt.UTC)
# Tweets the queries below match or miss, then every hostile text of the bulk tests but 1 MB.
TEXTS = [
    "Il volo è in ritardo di due ore, che vergogna! #acme",
    "Thanks @acme, the crew was lovely and the flight on time :)",
    "acme non funziona più da ieri, qualcuno sa perché?",
    "Why is my bag still missing? Worst airline ever @acme_help",
    "ordine acme arrivato, tutto perfetto grazie",
    "¿Dónde está mi maleta? acme",
    *HOSTILE[:-1],
]
QUERIES = [
    "acme",
    "ritardo OR late",
    '"the flight" OR volo',
    "acm* AND lang:en",
    "acme lang:it",
    "#acme OR @acme_help",
    "from:someone OR channel:mastodon",
    "acme NOT (grazie OR thanks)",
]


def _items(n: int) -> list[service.Incoming]:
    return [
        service.Incoming(
            channel="mastodon" if i % 5 == 0 else "import",
            channel_id=None,
            remote_id=f"r{i}",
            text=f"{TEXTS[i % len(TEXTS)]} {i}" if i % 3 else TEXTS[i % len(TEXTS)],
            posted_at=T0 + dt.timedelta(seconds=i),
            author_handle="someone" if i % 7 == 0 else f"user{i}",
            language="it-IT" if i % 11 == 0 else None,
        )
        for i in range(n)
    ]


def _enrich_items(items: list[service.Incoming]) -> list[parallel.Item]:
    return [(i.text, i.language, i.channel, i.channel_id, i.author_handle) for i in items]


@pytest.fixture
def pooled(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[int]]:
    """Two workers, and small batches and chunks so that a test batch spans many chunks;
    yields the calls of ``enrich`` in this process (one per chunk not done by a worker)."""
    monkeypatch.setattr(parallel, "POOL_MIN_POSTS", 10)
    monkeypatch.setattr(parallel, "CHUNK_POSTS", 4)
    in_process: list[int] = []
    real = parallel.enrich

    def counted(items: Any, queries: QuerySet) -> list[parallel.Enriched]:
        in_process.append(len(items))
        return real(items, queries)

    monkeypatch.setattr(parallel, "enrich", counted)
    parallel.configure(2)
    assert parallel.warm() == 2
    yield in_process
    parallel.configure(None)


@pytest.mark.slow
def test_the_pool_gives_what_the_process_gives(pooled: list[int]) -> None:
    items = _enrich_items(_items(90))
    queries = QuerySet(dict(enumerate(QUERIES, start=1)))
    expected = parallel.enrich(items, queries)
    pooled.clear()
    chunks = list(parallel.enrich_chunks(items, queries))
    assert pooled == [], "every chunk came from a worker"
    assert [offset for offset, _ in chunks] == list(range(0, 90, 4))
    assert [e for _, part in chunks for e in part] == expected
    assert sum(1 for e in expected if e[6]) > 30  # the queries do match


def _stored(db: Session, workspace_id: int) -> list[tuple[Any, ...]]:
    rows = db.execute(
        select(
            Mention.id,
            Mention.remote_id,
            Mention.channel,
            Mention.text,
            Mention.language,
            Mention.sentiment,
            Mention.label,
            Mention.is_question,
            Mention.is_complaint,
            Mention.topics,
        )
        .where(Mention.workspace_id == workspace_id)
        .order_by(Mention.id)
    ).all()
    links: dict[int, list[int]] = {}
    for mention_id, qid in db.execute(select(MentionMatch.mention_id, MentionMatch.query_id)):
        links.setdefault(mention_id, []).append(qid)
    return [(*row[1:], sorted(links.get(row[0], []))) for row in rows]


def _expected(items: list[service.Incoming], qids: list[int], db: Session) -> list[list[Any]]:
    """What ingest in one process stores, in id order: the input order (PostgreSQL: by key)."""
    if db.get_bind().dialect.name == "postgresql":
        items = sorted(items, key=lambda i: (i.channel, i.remote_id))
    queries = QuerySet(dict(zip(qids, QUERIES, strict=True)))
    return [
        [i.remote_id, i.channel, storable(i.text), *e]
        for i, e in zip(items, parallel.enrich(_enrich_items(items), queries), strict=True)
    ]


def _add_queries(db: Session, brand: Brand) -> list[int]:
    return [
        service.add_query(db, brand.id, QueryCreate(name=f"q{n}", query=q, kind="topic")).id
        for n, q in enumerate(QUERIES)
    ]


@pytest.mark.slow
def test_ingest_through_the_pool_stores_what_the_process_stores(
    db: Session, brand: Brand, pooled: list[int]
) -> None:
    qids = _add_queries(db, brand)
    items = _items(90)
    result = service.ingest(
        db, brand.id, [*items, items[3]], source=MentionSource.file, keep_unmatched=True
    )
    assert pooled == [], "every chunk came from a worker"
    assert (result.received, result.stored, result.duplicates) == (91, 90, 1)
    stored = _stored(db, brand.id)
    assert [[*s[:8], tuple(s[8]), s[9]] for s in stored] == _expected(items, qids, db)
    assert result.matches == sum(len(s[-1]) for s in stored) > 30
    # Network searches keep only what matches: the unmatched are counted, not stored.
    more = _items(130)[90:]
    searched = service.ingest(db, brand.id, more, source=MentionSource.search, keep_unmatched=False)
    kept = [e for e in _expected(more, qids, db) if e[-1]]
    assert (searched.stored, searched.unmatched) == (len(kept), 40 - len(kept))


@pytest.mark.slow
def test_a_worker_killed_mid_batch_loses_nothing(
    db: Session, brand: Brand, pooled: list[int], monkeypatch: pytest.MonkeyPatch
) -> None:
    qids = _add_queries(db, brand)
    items = _items(600)  # 150 chunks of 4: most are still queued when the first is stored
    killed: list[int] = []
    real_store = store.store_mentions

    def kill_then_store(*args: Any) -> Any:
        if not killed:  # the first chunk is back: kill a worker while the others are queued
            killed.append(parallel.worker_pids()[0])
            os.kill(killed[0], signal.SIGKILL)
        return real_store(*args)

    monkeypatch.setattr(store, "store_mentions", kill_then_store)
    result = service.ingest(db, brand.id, items, source=MentionSource.file, keep_unmatched=True)
    assert killed and pooled, "the chunks after the failure were enriched in process"
    assert result.stored == 600
    stored = _stored(db, brand.id)
    expected = _expected(items, qids, db)
    assert [s[0] for s in stored] == [e[0] for e in expected]  # once each, in order
    assert [s[-1] for s in stored] == [e[-1] for e in expected]
    # The broken pool was dropped; the next large batch starts a new one.
    assert parallel.worker_pids() == []
    assert parallel.warm() == 2
    assert killed[0] not in parallel.worker_pids()


def test_a_small_batch_never_starts_the_pool(
    db: Session, brand: Brand, monkeypatch: pytest.MonkeyPatch
) -> None:
    def refused() -> None:
        raise AssertionError("pool started")

    monkeypatch.setattr(parallel, "_get_pool", refused)
    parallel.configure(2)
    try:
        service.add_query(db, brand.id, QueryCreate(name="Acme", query="acme"))
        monkeypatch.setattr(parallel, "POOL_MIN_POSTS", 1_000)  # the default
        result = service.ingest(
            db,
            brand.id,
            _items(999),
            source=MentionSource.file,
            keep_unmatched=True,
        )
        assert result.stored == 999
    finally:
        parallel.configure(None)


def test_one_worker_means_no_pool(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DIALOGO_LISTENING_WORKERS", "1")
    parallel.configure(None)
    assert parallel.workers() == 1
    assert parallel.warm() == 0
    monkeypatch.setattr(parallel, "POOL_MIN_POSTS", 1)
    queries = QuerySet({1: "acme"})
    items = _enrich_items(_items(20))
    assert list(parallel.enrich_chunks(items, queries)) == [(0, parallel.enrich(items, queries))]
    monkeypatch.delenv("DIALOGO_LISTENING_WORKERS")
    assert parallel.workers() == parallel.default_workers()
