"""Test fixtures: one migrated database per run, a rolled-back transaction per test.

The suite runs on SQLite by default; with ``DIALOGO_TEST_DATABASE_URL`` pointing at a
PostgreSQL database it runs the same tests there (``scripts/test`` does both).
"""

from __future__ import annotations

import os
import secrets
import sqlite3
import uuid
from collections.abc import Iterator
from contextlib import ExitStack, closing, contextmanager
from pathlib import Path

import pytest
from sqlalchemy import Connection, Engine, create_engine, make_url, text
from sqlalchemy.orm import Session, sessionmaker

from dialogo.accounts.audit import install
from dialogo.core.clock import SystemClock
from dialogo.core.config import Environment, Settings, load_settings
from dialogo.core.context import AppContext
from dialogo.core.db import make_engine
from dialogo.db import migrate

TEST_SECRET = "test-secret-" + "x" * 40
PG_URL = os.environ.get("DIALOGO_TEST_DATABASE_URL")

install()


# A test that asks for none of these never touches the database under test: the PostgreSQL
# pass skips it, since the SQLite pass already ran it against exactly the same code.
DATABASE_FIXTURES = frozenset(
    {"engine", "connection", "session_factory", "db", "ctx", "fresh_database", "database_url"}
)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    skip_pg = pytest.mark.skip(reason="needs DIALOGO_TEST_DATABASE_URL (PostgreSQL)")
    skip_dbless = pytest.mark.skip(
        reason="touches no database: it ran in the SQLite pass, nothing differs here"
    )
    for item in items:
        if "postgres" in item.keywords and not PG_URL:
            item.add_marker(skip_pg)
        fixtures = set(getattr(item, "fixturenames", ()))
        if PG_URL and not fixtures & DATABASE_FIXTURES and "postgres" not in item.keywords:
            item.add_marker(skip_dbless)


@pytest.fixture(scope="session")
def backend() -> str:
    return "postgresql" if PG_URL else "sqlite"


#: The real servers the tests talk to (Synapse, the Bluesky dev network, mastodon-mock) run on
#: loopback; the outbound policy refuses internal addresses outside development, so the tests
#: allow loopback explicitly (and only loopback).
TEST_OUTBOUND_ALLOW = ("127.0.0.0/8", "::1/128", "localhost")


def make_settings(data_dir: Path, database_url: str | None, **overrides: object) -> Settings:
    overrides.setdefault("outbound_allow", TEST_OUTBOUND_ALLOW)
    return load_settings(
        env=Environment.test,
        data_dir=data_dir,
        database_url=database_url,
        secret_key=TEST_SECRET,
        **overrides,
    )


@pytest.fixture(scope="session")
def session_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("dialogo")


@contextmanager
def _scratch_postgres_database(template: str | None = None) -> Iterator[str]:
    """A database of its own on the server of DIALOGO_TEST_DATABASE_URL, dropped afterwards,
    so that several test runs can share one server; a copy of ``template`` when given."""
    assert PG_URL
    name = f"dialogo_t_{uuid.uuid4().hex[:12]}"
    admin = create_engine(PG_URL, isolation_level="AUTOCOMMIT")
    copy = f' TEMPLATE "{template}"' if template else ""
    with admin.connect() as c:
        c.execute(text(f'CREATE DATABASE "{name}"{copy}'))
    try:
        yield make_url(PG_URL).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as c:
            c.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(scope="session")
def database_url() -> Iterator[str | None]:
    if not PG_URL:
        yield None
        return
    with _scratch_postgres_database() as url:
        yield url


@pytest.fixture(scope="session")
def settings(session_dir: Path, database_url: str | None) -> Settings:
    return make_settings(session_dir, database_url)


@pytest.fixture(scope="session")
def engine(settings: Settings) -> Iterator[Engine]:
    engine = make_engine(settings)
    migrate.upgrade(engine)
    yield engine
    engine.dispose()


@pytest.fixture
def connection(engine: Engine) -> Iterator[Connection]:
    connection = engine.connect()
    transaction = connection.begin()
    try:
        yield connection
    finally:
        transaction.rollback()
        connection.close()


@pytest.fixture
def session_factory(connection: Connection) -> sessionmaker[Session]:
    """Sessions on the test's connection: their commits become savepoints, rolled back later."""
    return sessionmaker(
        bind=connection, expire_on_commit=False, join_transaction_mode="create_savepoint"
    )


@pytest.fixture
def db(session_factory: sessionmaker[Session]) -> Iterator[Session]:
    session = session_factory()
    try:
        yield session
    finally:
        session.close()


@pytest.fixture
def ctx(settings: Settings, engine: Engine, session_factory: sessionmaker[Session]) -> AppContext:
    return AppContext(settings, engine, session_factory, SystemClock())


@pytest.fixture(scope="session")
def migrated_template(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A database migrated once per run that ``fresh_database`` copies: migrating costs 2-6 s
    per database, a copy 0.3 s on PostgreSQL (CREATE DATABASE ... TEMPLATE) and milliseconds
    on SQLite. Its name on PostgreSQL, its file's path on SQLite. (``tests/db`` still runs
    the real migrations on empty databases and compares them with the models.)"""
    directory = tmp_path_factory.mktemp("template")
    with ExitStack() as stack:
        if PG_URL:
            url = stack.enter_context(_scratch_postgres_database())
        else:
            url = f"sqlite:///{directory / 'template.sqlite3'}"
        engine = make_engine(make_settings(directory, url))
        migrate.upgrade(engine)
        engine.dispose()  # no connection left: PostgreSQL copies only an unused template
        yield str(make_url(url).database)


@pytest.fixture
def fresh_database(tmp_path: Path, migrated_template: str) -> Iterator[str]:
    """A separate, migrated, committed-to database for tests that run several processes:
    a copy of :func:`migrated_template`."""
    with ExitStack() as stack:
        if PG_URL:
            url = stack.enter_context(_scratch_postgres_database(template=migrated_template))
        else:
            path = tmp_path / "fresh.sqlite3"
            with (
                closing(sqlite3.connect(migrated_template)) as source,
                closing(sqlite3.connect(path)) as target,
            ):
                source.backup(target)
            url = f"sqlite:///{path}"
        yield url


def unique_email(prefix: str = "user") -> str:
    return f"{prefix}-{secrets.token_hex(4)}@example.com"
