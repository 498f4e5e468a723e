"""The ``dialogo`` command: version, schema, users and workspaces, and how it reports errors."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import Result
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from dialogo import __version__
from dialogo.accounts import security
from dialogo.accounts.models import AuditEntry, Membership, User, Workspace
from dialogo.cli.main import app
from dialogo.core.config import load_settings
from dialogo.core.db import make_engine
from dialogo.db import migrate
from tests.conftest import TEST_SECRET
from tests.db.util import empty_database

PASSWORD = "a good long password"


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in list(os.environ):
        if name.startswith("DIALOGO_") and name != "DIALOGO_TEST_DATABASE_URL":
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)  # no stray .env


class Cli:
    def __init__(self, database_url: str, data_dir: Path) -> None:
        self.env = {
            "DIALOGO_ENV": "test",
            "DIALOGO_SECRET_KEY": TEST_SECRET,
            "DIALOGO_DATA_DIR": str(data_dir),
            "DIALOGO_DATABASE_URL": database_url,
        }
        self.database_url = database_url
        self.runner = CliRunner()

    def __call__(self, *args: str, **env: str | None) -> Result:
        return self.runner.invoke(app, list(args), env={**self.env, **env})

    def ok(self, *args: str, **env: str | None) -> Result:
        result = self(*args, **env)
        assert result.exit_code == 0, (result.output, result.exception)
        return result

    def fails(self, *args: str, **env: str | None) -> str:
        """Run a command that must fail cleanly; return its one-line message."""
        result = self(*args, **env)
        assert result.exit_code != 0, result.output
        assert isinstance(result.exception, SystemExit), repr(result.exception)
        assert "Traceback" not in result.output
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1, result.stderr
        assert lines[0].startswith("error: ")
        return lines[0]

    def engine(self) -> Engine:
        return make_engine(load_settings(database_url=self.database_url))


@pytest.fixture
def cli(fresh_database: str, tmp_path: Path) -> Cli:
    """On a migrated database."""
    return Cli(fresh_database, tmp_path)


@pytest.fixture
def empty_cli(tmp_path: Path, database_url: str | None) -> Iterator[Cli]:
    """On an empty database (``database_url`` makes the PostgreSQL pass run these tests)."""
    with empty_database(tmp_path) as url:
        yield Cli(url, tmp_path)


def rows(cli: Cli, model: type) -> list:
    engine = cli.engine()
    try:
        with Session(engine) as session:
            return list(session.scalars(select(model)))
    finally:
        engine.dispose()


def test_version(cli: Cli) -> None:
    assert cli.ok("--version").output.strip() == f"dialogo {__version__}"


def test_help_without_arguments(cli: Cli) -> None:
    result = cli()
    assert "db" in result.output and "user" in result.output


def test_db_upgrade_and_current(empty_cli: Cli) -> None:
    engine = empty_cli.engine()
    head = migrate.head_revision(engine)
    engine.dispose()

    result = empty_cli("db", "current")
    assert result.exit_code == 1
    assert f"current: empty  newest: {head}" in result.output

    assert f"database at revision {head}" in empty_cli.ok("db", "upgrade").output
    assert f"current: {head}  newest: {head}" in empty_cli.ok("db", "current").output
    empty_cli.ok("db", "upgrade")  # twice is harmless


def test_commands_refuse_an_unmigrated_database(empty_cli: Cli) -> None:
    message = empty_cli.fails("user", "create", "--email", "a@example.com", "--password", PASSWORD)
    assert "dialogo db upgrade" in message


def test_user_create(cli: Cli) -> None:
    result = cli.ok("user", "create", "--email", "Ada@Example.com", "--password", PASSWORD,
                    "--name", "Ada", "--language", "it", "--superuser")  # fmt: skip
    [user] = rows(cli, User)
    assert result.output.strip() == f"created user {user.id} ada@example.com"
    assert (user.email, user.name, user.language, user.is_superuser) == (
        "ada@example.com",
        "Ada",
        "it",
        True,
    )
    assert user.password_hash.startswith("$argon2id$")
    assert security.verify_password(user.password_hash, PASSWORD)
    [entry] = [e for e in rows(cli, AuditEntry) if e.entity_type == "users"]
    assert (entry.action, entry.actor_label) == ("create", "cli")


def test_user_create_password_from_the_environment(cli: Cli) -> None:
    cli.ok("user", "create", "--email", "env@example.com", DIALOGO_NEW_USER_PASSWORD=PASSWORD)
    [user] = rows(cli, User)
    assert security.verify_password(user.password_hash, PASSWORD)


def test_user_create_prompts_for_the_password(cli: Cli) -> None:
    result = cli.runner.invoke(
        app,
        ["user", "create", "--email", "prompted@example.com"],
        env=cli.env,
        input=f"{PASSWORD}\n{PASSWORD}\n",
    )
    assert result.exit_code == 0, result.output
    assert PASSWORD not in result.output  # hidden input
    [user] = rows(cli, User)
    assert security.verify_password(user.password_hash, PASSWORD)


def test_workspace_create(cli: Cli) -> None:
    cli.ok("user", "create", "--email", "owner@example.com", "--password", PASSWORD)
    result = cli.ok("workspace", "create", "--name", "Caffè Aurora", "--owner", "OWNER@example.com",
                    "--timezone", "Europe/London", "--language", "en")  # fmt: skip
    [workspace] = rows(cli, Workspace)
    [user] = rows(cli, User)
    assert result.output.strip() == (
        f"created workspace {workspace.id} caffe-aurora owned by owner@example.com"
    )
    assert (workspace.name, workspace.timezone, workspace.language) == (
        "Caffè Aurora",
        "Europe/London",
        "en",
    )
    [member] = rows(cli, Membership)
    assert (member.workspace_id, member.user_id, member.role) == (workspace.id, user.id, "owner")
    labels = {e.actor_label for e in rows(cli, AuditEntry) if e.entity_type == "workspaces"}
    assert labels == {"cli as owner@example.com"}


def test_duplicate_email(cli: Cli) -> None:
    cli.ok("user", "create", "--email", "dup@example.com", "--password", PASSWORD)
    message = cli.fails("user", "create", "--email", "DUP@example.com", "--password", PASSWORD)
    assert message == "error: a user with e-mail dup@example.com already exists"
    assert len(rows(cli, User)) == 1


def test_unknown_owner(cli: Cli) -> None:
    message = cli.fails("workspace", "create", "--name", "Brand", "--owner", "ghost@example.com")
    assert "no user with e-mail ghost@example.com" in message
    assert rows(cli, Workspace) == []


def test_short_password(cli: Cli) -> None:
    message = cli.fails("user", "create", "--email", "a@example.com", "--password", "short")
    assert "password" in message and "at least 10 characters" in message
    assert "short" not in message.replace("at least", "")  # the password is not echoed
    assert rows(cli, User) == []


def test_invalid_workspace_input(cli: Cli) -> None:
    cli.ok("user", "create", "--email", "owner@example.com", "--password", PASSWORD)
    message = cli.fails("workspace", "create", "--name", "B", "--owner", "owner@example.com",
                        "--timezone", "Mars/Base", "--language", "fr")  # fmt: skip
    assert "timezone" in message and "language" in message


def test_duplicate_slug(cli: Cli) -> None:
    cli.ok("user", "create", "--email", "owner@example.com", "--password", PASSWORD)
    args = ("workspace", "create", "--owner", "owner@example.com", "--slug", "brand")
    cli.ok(*args, "--name", "One")
    assert "'brand' is taken" in cli.fails(*args, "--name", "Two")


@pytest.mark.parametrize("command", [["user", "create", "--email", "a@example.com",
                                      "--password", PASSWORD], ["db", "upgrade"],
                                     ["db", "current"]])  # fmt: skip
def test_placeholder_secret_in_production(cli: Cli, command: list[str]) -> None:
    message = cli.fails(*command, DIALOGO_ENV="production", DIALOGO_SECRET_KEY=None)
    assert "DIALOGO_SECRET_KEY" in message
    assert rows(cli, User) == []


def test_data_dir_that_cannot_be_created(cli: Cli, tmp_path: Path) -> None:
    (tmp_path / "a-file").write_text("not a directory")
    message = cli.fails(
        "db", "current", DIALOGO_DATABASE_URL=None, DIALOGO_DATA_DIR=str(tmp_path / "a-file" / "x")
    )
    assert "a-file" in message


@pytest.mark.parametrize(
    "url,expected",
    [
        ("postgresql+psycopg://postgres@127.0.0.1:1/nothing", "not reachable"),
        ("postgresql+psycopg://u:hunter2@[::1:5432/x", "not a valid database URL"),
        ("not a url at all", "not a valid database URL"),
        ("nosuchdb://u:hunter2@host/x", "unknown database driver"),
    ],
)
def test_unusable_database_urls(cli: Cli, url: str, expected: str) -> None:
    message = cli.fails("db", "current", DIALOGO_DATABASE_URL=url)
    assert expected in message
    assert "hunter2" not in message


def test_errors_in_a_real_process_show_no_traceback(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DIALOGO_")}
    env.update(DIALOGO_ENV="production", DIALOGO_DATA_DIR=str(tmp_path))
    process = subprocess.run(
        [sys.executable, "-c", "from dialogo.cli.main import main; main()", "db", "current"],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert process.returncode == 1
    assert process.stdout == ""
    assert "Traceback" not in process.stderr
    assert process.stderr.startswith("error: DIALOGO_SECRET_KEY must be set")
    assert len(process.stderr.strip().splitlines()) == 1
