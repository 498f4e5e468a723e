"""Migrations build exactly the schema the models describe, and go down and up again cleanly."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Column, Engine, MetaData, String, inspect

from dialogo.core.db import make_engine
from dialogo.db import migrate
from dialogo.db.models import Base
from tests.conftest import make_settings


@pytest.fixture
def empty_engine(empty_database_url: str, tmp_path: Path) -> Iterator[Engine]:
    engine = make_engine(make_settings(tmp_path, empty_database_url))
    yield engine
    engine.dispose()


def differences(engine: Engine, metadata: MetaData = Base.metadata) -> list[Any]:
    with engine.connect() as connection:
        context = MigrationContext.configure(
            connection, opts={"compare_type": True, "compare_server_default": True}
        )
        return list(compare_metadata(context, metadata))


def tables(engine: Engine) -> set[str]:
    return set(inspect(engine).get_table_names()) - {"alembic_version"}


def test_upgrade_head_matches_the_models(empty_engine: Engine) -> None:
    assert tables(empty_engine) == set()
    assert migrate.current_revision(empty_engine) is None
    migrate.upgrade(empty_engine)
    assert migrate.is_up_to_date(empty_engine)
    assert tables(empty_engine) == set(Base.metadata.tables)
    assert differences(empty_engine) == []


def test_the_comparison_sees_a_difference(empty_engine: Engine) -> None:
    """Guards the test above: a model change without a migration is caught."""
    migrate.upgrade(empty_engine)
    changed = MetaData(naming_convention=Base.metadata.naming_convention)
    for table in Base.metadata.sorted_tables:
        table.to_metadata(changed)
    changed.tables["users"].append_column(Column("nickname", String(40)))
    changed.tables["workspaces"].c.name.type = String(10)
    found = differences(empty_engine, changed)
    assert ("add_column", None, "users", changed.tables["users"].c.nickname) in found
    assert any(d[0][0] == "modify_type" for d in found if isinstance(d, list))


def test_downgrade_to_base_and_up_again(empty_engine: Engine) -> None:
    migrate.upgrade(empty_engine)
    migrate.downgrade(empty_engine, "base")
    assert tables(empty_engine) == set()
    assert migrate.current_revision(empty_engine) is None
    assert not migrate.is_up_to_date(empty_engine)
    migrate.upgrade(empty_engine)
    assert migrate.is_up_to_date(empty_engine)
    assert differences(empty_engine) == []


def test_every_step_goes_down_and_up(empty_engine: Engine) -> None:
    """The stairway: each revision's downgrade undoes exactly its upgrade."""
    script = ScriptDirectory.from_config(migrate.alembic_config(empty_engine))
    revisions = [r.revision for r in reversed(list(script.walk_revisions()))]
    assert revisions, "no migrations found"
    assert len(script.get_heads()) == 1, "several heads: merge them"
    for revision in revisions:
        migrate.upgrade(empty_engine, revision)
        after_up = tables(empty_engine)
        migrate.downgrade(empty_engine, "-1")
        migrate.upgrade(empty_engine, revision)
        assert migrate.current_revision(empty_engine) == revision
        assert tables(empty_engine) == after_up, revision
    assert differences(empty_engine) == []


def test_the_test_database_is_current(engine: Engine) -> None:
    """The database every other test runs on was built by the migrations, not create_all."""
    assert migrate.is_up_to_date(engine)
    assert migrate.head_revision(engine) == migrate.current_revision(engine)
