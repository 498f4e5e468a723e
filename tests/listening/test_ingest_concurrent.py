"""Two ingests of the same posts at once: each post is stored once, both calls succeed, and
every stored mention is linked to its own queries (the ids the store used are the right ones).

A row another transaction stored meanwhile is skipped by the INSERT (``ON CONFLICT DO
NOTHING``); on SQLite the ids then come from a read-back instead of the consecutive range.
"""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Iterator, Sequence
from typing import Any

import pytest
from sqlalchemy import Engine, func, select, text
from sqlalchemy.orm import Session

from dialogo.core.db import make_engine
from dialogo.listening import service, store
from dialogo.listening.models import Mention, MentionMatch, MentionSource
from dialogo.listening.schemas import IngestResult, QueryCreate
from tests.conftest import make_settings
from tests.factories import make_user, make_workspace
from tests.worker.support import wait_for

T0 = dt.datetime(2026, 1, 20, 10, tzinfo=dt.UTC)


def text_of(n: int) -> str:
    """Post n: every third about Acme, every other one late (so matched by the two queries in
    four different ways)."""
    return f"{'acme' if n % 3 == 0 else 'shop'} order {n}{' arrived late' if n % 2 else ''}"


def expected_matches(body: str, acme: int, late: int) -> set[int]:
    return {q for q, word in ((acme, "acme"), (late, "late")) if word in body.split()}


def add_queries(session: Session, workspace_id: int) -> tuple[int, int]:
    acme = service.add_query(session, workspace_id, QueryCreate(name="Acme", query="acme")).id
    late = service.add_query(session, workspace_id, QueryCreate(name="Late", query="late")).id
    return acme, late


def row(workspace_id: int, n: int) -> tuple[Any, ...]:
    """Post n as the store takes it (columns in store.MENTION_COLUMNS order)."""
    values: dict[str, Any] = {
        "workspace_id": workspace_id,
        "channel": "import",
        "channel_id": None,
        "remote_id": f"post-{n}",
        "source": MentionSource.file.value,
        "author_handle": "someone",
        "author_name": "Someone",
        "reach": 0,
        "text": text_of(n),
        "url": None,
        "posted_at": T0,
        "ingested_at": T0,
        "language": "en",
        "sentiment": 0.0,
        "label": "neutral",
        "is_question": False,
        "is_complaint": False,
        "topics": (),
        "emotions": None,
    }
    return tuple(values[c] for c in store.MENTION_COLUMNS)


def assert_each_post_once_with_its_matches(
    session: Session, workspace_id: int, posts: Sequence[int], acme: int, late: int
) -> None:
    session.expire_all()
    stored = session.execute(
        select(Mention.id, Mention.remote_id, Mention.text).where(
            Mention.workspace_id == workspace_id
        )
    ).all()
    assert sorted(r.remote_id for r in stored) == sorted(f"post-{n}" for n in posts)
    links: dict[int, set[int]] = {}
    for mention_id, query_id in session.execute(
        select(MentionMatch.mention_id, MentionMatch.query_id).where(
            MentionMatch.mention_id.in_([r.id for r in stored])
        )
    ):
        links.setdefault(mention_id, set()).add(query_id)
    for r in stored:
        assert r.text == text_of(int(r.remote_id.removeprefix("post-")))
        assert links.get(r.id, set()) == expected_matches(r.text, acme, late), r.remote_id


def test_rows_stored_meanwhile_are_skipped_and_the_others_get_their_own_ids(db: Session) -> None:
    """What a concurrent ingest leaves behind, made in one session: the store is given rows of
    which some were stored since the caller looked (SQLite falls back to reading ids back)."""
    workspace = make_workspace(db, make_user(db))
    acme, late = add_queries(db, workspace.id)

    def batch(posts: Sequence[int]) -> tuple[list[tuple[Any, ...]], list[list[int]]]:
        rows = [row(workspace.id, n) for n in posts]
        return rows, [sorted(expected_matches(text_of(n), acme, late)) for n in posts]

    first = [0, 1, 2, 3, 4, 5]
    assert store.store_mentions(db, workspace.id, *batch(first)) == store.Stored(6, 5)
    # 7..9 are new, 1, 3 and 5 were stored "meanwhile"; the first and the last are new, so the
    # consecutive-id check alone would not notice the skipped rows in between.
    second = [7, 1, 8, 3, 5, 9]
    assert store.store_mentions(db, workspace.id, *batch(second)) == store.Stored(3, 3)
    # Only rows stored meanwhile: nothing inserted, nothing linked.
    assert store.store_mentions(db, workspace.id, *batch([2, 8])) == store.Stored(0, 0)
    db.flush()
    assert_each_post_once_with_its_matches(db, workspace.id, [*first, 7, 8, 9], acme, late)


@pytest.fixture
def committed_engine(fresh_database: str, tmp_path: Any) -> Iterator[Engine]:
    engine = make_engine(make_settings(tmp_path, fresh_database))
    try:
        yield engine
    finally:
        engine.dispose()


def waiting_on_a_lock(engine: Engine, pid: int) -> bool:
    with engine.connect() as c:
        event = c.scalar(
            text("SELECT wait_event_type FROM pg_stat_activity WHERE pid = :pid"), {"pid": pid}
        )
    return bool(event == "Lock")


@pytest.mark.postgres
def test_concurrent_ingests_of_overlapping_batches_store_each_post_once(
    committed_engine: Engine,
) -> None:
    """Ingest A stores posts 0..59 and keeps its transaction open; ingest B (posts 89..30,
    in reverse order) saw none of them stored, so its INSERT waits on A's uncommitted keys.
    A commits: B skips the 30 posts A stored and commits the other 30."""
    engine = committed_engine
    with Session(engine) as setup:
        workspace = make_workspace(setup, make_user(setup))
        workspace_id = workspace.id
        acme, late = add_queries(setup, workspace_id)
        setup.commit()

    def items(posts: Sequence[int]) -> list[service.Incoming]:
        return [
            service.Incoming(channel="import", remote_id=f"post-{n}", text=text_of(n), posted_at=T0)
            for n in posts
        ]

    def ingest(session: Session, posts: Sequence[int]) -> IngestResult:
        return service.ingest(
            session, workspace_id, items(posts), source=MentionSource.file, keep_unmatched=True
        )

    results: dict[str, Any] = {}
    with Session(engine) as a, Session(engine) as b:
        results["a"] = ingest(a, range(60))  # stored, not committed yet
        b_pid = b.connection().exec_driver_sql("SELECT pg_backend_pid()").scalar_one()

        def run_b() -> None:
            try:
                results["b"] = ingest(b, range(89, 29, -1))
                b.commit()
            except BaseException as exc:  # shown by the main thread
                results["b"] = exc

        thread = threading.Thread(target=run_b)
        thread.start()
        try:
            wait_for(
                lambda: "b" in results or waiting_on_a_lock(engine, b_pid),
                timeout=60,
                message="ingest B never reached A's uncommitted rows",
            )
            assert "b" not in results, results["b"]  # B waits for A
            a.commit()
        finally:
            thread.join(timeout=60)
        assert not thread.is_alive()
    a_result, b_result = results["a"], results["b"]
    assert not isinstance(b_result, BaseException), b_result
    assert (a_result.stored, a_result.duplicates) == (60, 0)
    assert (b_result.received, b_result.stored, b_result.duplicates) == (60, 30, 30)
    with Session(engine) as check:
        assert_each_post_once_with_its_matches(check, workspace_id, range(90), acme, late)
        links = check.scalar(
            select(func.count())
            .select_from(MentionMatch)
            .join(Mention, Mention.id == MentionMatch.mention_id)
            .where(Mention.workspace_id == workspace_id)
        )
        assert a_result.matches + b_result.matches == links
