"""Database: SQLAlchemy 2 engine and sessions built from the settings, never at import time.

SQLite (the default) runs in WAL mode with foreign keys on and a busy timeout, so one
server and a few worker processes can share the file; PostgreSQL is a URL change.
"""

from __future__ import annotations

import datetime as dt
import json
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Connection,
    DateTime,
    Engine,
    Integer,
    MetaData,
    create_engine,
    event,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker
from sqlalchemy.types import TypeDecorator

from dialogo.core.config import Settings

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(TypeDecorator[dt.datetime]):
    """A timezone-aware UTC datetime on every backend; naive values are refused."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: Dialect) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column; pass an aware datetime")
        value = value.astimezone(dt.UTC)
        if dialect.name == "sqlite":
            return value.replace(tzinfo=None)
        return value

    def process_result_value(
        self, value: dt.datetime | None, dialect: Dialect
    ) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=dt.UTC)
        return value.astimezone(dt.UTC)


# Integer primary keys: BIGINT on PostgreSQL, INTEGER (the rowid alias) on SQLite.
BigId = BigInteger().with_variant(Integer(), "sqlite")


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {dt.datetime: UTCDateTime, dict[str, Any]: JSON}


def _json_dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), default=str)


def make_engine(settings: Settings, **kwargs: Any) -> Engine:
    url = settings.resolved_database_url
    if url.startswith("sqlite"):
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        engine = create_engine(
            url,
            json_serializer=_json_dumps,
            connect_args={"timeout": 30, "check_same_thread": False},
            **kwargs,
        )
        _configure_sqlite(engine)
        return engine
    engine = create_engine(url, json_serializer=_json_dumps, future=True, **kwargs)
    _ping_idle_connections(engine)
    return engine


#: A pooled connection idle for longer than this is pinged before use (a restarted server or
#: a dropped link is found then, and the pool opens a new connection instead).
IDLE_PING_SECONDS = 2.0


def _ping_idle_connections(engine: Engine) -> None:
    """``pool_pre_ping`` for connections that sat idle in the pool only. ``pool_pre_ping``
    pings at every checkout, a round trip per transaction: a publishing lane runs two
    transactions per batch, back to back, on a connection that was in use milliseconds ago
    (4 % of a worker's time in a profile). A connection checked in again within
    :data:`IDLE_PING_SECONDS` is used as it is; a broken one fails that transaction, which
    its caller retries (the job table) — as a broken connection mid-transaction always did."""

    @event.listens_for(engine, "checkin")
    def _on_checkin(_dbapi: Any, record: Any) -> None:
        record.info["dialogo_checked_in"] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _on_checkout(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        since = record.info.get("dialogo_checked_in")
        if since is not None and time.monotonic() - since < IDLE_PING_SECONDS:
            return
        info = getattr(dbapi_connection, "info", None)
        if getattr(info, "transaction_status", 0) != 0:
            return  # in a transaction (a connection the tests share): not ours to touch
        try:
            alive = engine.dialect.do_ping(dbapi_connection)
        except Exception as exc:  # any failure: the pool discards it and connects again
            raise DisconnectionError(str(exc)) from exc
        if not alive:
            raise DisconnectionError("the database connection was lost")


def _configure_sqlite(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        if engine.url.database not in (None, "", ":memory:"):
            cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @event.listens_for(engine, "savepoint")
    def _on_savepoint(connection: Connection, _name: str | None) -> None:
        # pysqlite opens a transaction only before INSERT/UPDATE/DELETE. A SAVEPOINT issued
        # before any of those would start a transaction of its own, and releasing it would
        # COMMIT everything: ``begin_nested()`` would silently commit the outer unit of work.
        dbapi_connection = connection.connection.dbapi_connection
        if dbapi_connection is not None and not dbapi_connection.in_transaction:
            dbapi_connection.execute("BEGIN")


def make_session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(bind=engine, expire_on_commit=False, autoflush=True)


@contextmanager
def transaction(factory: sessionmaker[Session]) -> Iterator[Session]:
    """A unit of work for a boundary (a command, a job): commit on success, roll back on error."""
    session = factory()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()
