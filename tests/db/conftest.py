from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.db.util import empty_database


@pytest.fixture
def empty_database_url(tmp_path: Path, database_url: str | None) -> Iterator[str]:
    # ``database_url`` marks these tests as database tests, so the PostgreSQL pass runs them
    # (tests/conftest.py skips tests that ask for no database fixture there).
    with empty_database(tmp_path) as url:
        yield url
