"""Empty databases for migration and CLI tests, on the backend the suite runs on."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import create_engine, make_url, text


@contextmanager
def empty_database(tmp_path: Path) -> Iterator[str]:
    """The URL of a database with no tables at all, dropped afterwards."""
    pg_url = os.environ.get("DIALOGO_TEST_DATABASE_URL")
    if not pg_url:
        yield f"sqlite:///{tmp_path / f'empty-{uuid.uuid4().hex[:8]}.sqlite3'}"
        return
    name = f"dialogo_e_{uuid.uuid4().hex[:12]}"
    admin = create_engine(pg_url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as c:
            c.execute(text(f'CREATE DATABASE "{name}"'))
        yield make_url(pg_url).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as c:
            c.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
