"""The database layer: SQLite defaults (file in data_dir, WAL, foreign keys), UTC datetimes,
savepoints and units of work."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.exc import IntegrityError, StatementError
from sqlalchemy.orm import Session
from sqlalchemy.pool import NullPool

from dialogo.accounts.models import Workspace
from dialogo.core.config import load_settings
from dialogo.core.db import make_engine, make_session_factory, transaction


@pytest.fixture
def sqlite_engine(tmp_path: Path) -> Iterator[Engine]:
    """The default engine: no database URL, so a SQLite file under data_dir."""
    settings = load_settings(data_dir=tmp_path / "data", database_url=None)
    engine = make_engine(settings)
    with engine.begin() as c:
        c.execute(text("CREATE TABLE parent (id INTEGER PRIMARY KEY)"))
        c.execute(
            text("CREATE TABLE child (id INTEGER PRIMARY KEY, parent_id INTEGER REFERENCES parent)")
        )
    yield engine
    engine.dispose()


def test_sqlite_is_the_default_and_lives_in_data_dir(sqlite_engine: Engine, tmp_path: Path) -> None:
    assert sqlite_engine.dialect.name == "sqlite"
    assert sqlite_engine.url.database == str((tmp_path / "data" / "dialogo.sqlite3").resolve())
    assert (tmp_path / "data" / "dialogo.sqlite3").is_file()


def test_pragmas_on_every_connection(sqlite_engine: Engine) -> None:
    # Two connections at once: the pool opens a second one, configured the same way.
    with sqlite_engine.connect() as first, sqlite_engine.connect() as second:
        for c in (first, second):
            assert c.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
            assert c.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
            assert c.exec_driver_sql("PRAGMA busy_timeout").scalar() == 30000
            assert c.exec_driver_sql("PRAGMA synchronous").scalar() == 1  # NORMAL


def test_foreign_keys_are_enforced(sqlite_engine: Engine) -> None:
    with pytest.raises(IntegrityError), sqlite_engine.begin() as c:
        c.execute(text("INSERT INTO child (id, parent_id) VALUES (1, 42)"))


def test_begin_nested_does_not_commit_the_outer_transaction(sqlite_engine: Engine) -> None:
    """pysqlite starts transactions lazily; a SAVEPOINT first must not become a commit."""
    factory = make_session_factory(sqlite_engine)
    with factory() as session:
        session.execute(text("SELECT 1"))  # no write yet: pysqlite has no transaction open
        with session.begin_nested():
            session.execute(text("INSERT INTO parent (id) VALUES (1)"))
        session.rollback()
    with sqlite_engine.connect() as c:
        assert c.execute(text("SELECT count(*) FROM parent")).scalar() == 0

    with factory() as session:
        with session.begin_nested():
            session.execute(text("INSERT INTO parent (id) VALUES (2)"))
        session.execute(text("INSERT INTO parent (id) VALUES (3)"))
        session.commit()
    with sqlite_engine.connect() as c:
        assert c.execute(text("SELECT id FROM parent ORDER BY id")).scalars().all() == [2, 3]


def test_a_failed_savepoint_keeps_the_outer_work(sqlite_engine: Engine) -> None:
    factory = make_session_factory(sqlite_engine)
    with factory() as session:
        session.execute(text("INSERT INTO parent (id) VALUES (1)"))
        with pytest.raises(IntegrityError), session.begin_nested():
            session.execute(text("INSERT INTO child (id, parent_id) VALUES (1, 99)"))
        session.commit()
    with sqlite_engine.connect() as c:
        assert c.execute(text("SELECT count(*) FROM parent")).scalar() == 1
        assert c.execute(text("SELECT count(*) FROM child")).scalar() == 0


def test_transaction_commits_or_rolls_back(sqlite_engine: Engine) -> None:
    factory = make_session_factory(sqlite_engine)
    with transaction(factory) as session:
        session.execute(text("INSERT INTO parent (id) VALUES (10)"))
    with pytest.raises(RuntimeError), transaction(factory) as session:
        session.execute(text("INSERT INTO parent (id) VALUES (11)"))
        raise RuntimeError("boom")
    with sqlite_engine.connect() as c:
        assert c.execute(text("SELECT id FROM parent")).scalars().all() == [10]


def test_datetimes_are_stored_in_utc_and_come_back_aware(db: Session) -> None:
    rome = dt.timezone(dt.timedelta(hours=2))
    at = dt.datetime(2026, 6, 1, 14, 30, tzinfo=rome)
    workspace = Workspace(name="T", slug="tz-test", created_at=at)
    db.add(workspace)
    db.flush()
    db.expire_all()
    loaded = db.get(Workspace, workspace.id)
    assert loaded is not None
    assert loaded.created_at == at
    assert loaded.created_at.utcoffset() == dt.timedelta(0)
    assert loaded.created_at.hour == 12


def test_naive_datetimes_are_refused(db: Session) -> None:
    db.add(Workspace(name="T", slug="naive", created_at=dt.datetime(2026, 1, 1)))
    with pytest.raises(StatementError, match="naive datetime"):
        db.flush()
    db.rollback()


def test_an_idle_postgresql_connection_is_pinged_and_replaced_when_dead(
    database_url: str | None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No ping per checkout (a round trip per transaction), but a connection idle in the pool
    longer than ``IDLE_PING_SECONDS`` is pinged, and a dead one replaced before it is used."""
    if database_url is None:
        pytest.skip("needs DIALOGO_TEST_DATABASE_URL (PostgreSQL)")
    from dialogo.core import db as core_db

    engine = make_engine(load_settings(data_dir=tmp_path / "data", database_url=database_url))
    pings: list[int] = []
    ping = engine.dialect.do_ping

    def counted(dbapi_connection: Any) -> bool:
        pings.append(1)
        return ping(dbapi_connection)

    monkeypatch.setattr(engine.dialect, "do_ping", counted)
    try:
        with engine.connect() as c:
            first = c.scalar(text("SELECT pg_backend_pid()"))
        before = len(pings)
        with engine.connect() as c:  # back in the pool a moment ago: used as it is
            assert c.scalar(text("SELECT pg_backend_pid()")) == first
        assert len(pings) == before
        other = create_engine(database_url, poolclass=NullPool)
        with other.connect() as c:  # the server ends the pooled connection
            assert c.scalar(text("SELECT pg_terminate_backend(:p)"), {"p": first})
        other.dispose()
        monkeypatch.setattr(core_db, "IDLE_PING_SECONDS", 0.0)
        with engine.connect() as c:  # idle "too long": pinged, found dead, replaced
            assert c.scalar(text("SELECT 1")) == 1
            assert c.scalar(text("SELECT pg_backend_pid()")) != first
        assert len(pings) > before
    finally:
        engine.dispose()
