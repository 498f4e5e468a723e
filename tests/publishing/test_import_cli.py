"""``dialogo posts import``: row errors printed, exit code non-zero, nothing written."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import func, select
from typer.testing import CliRunner

from dialogo.cli.main import app
from dialogo.core.db import make_engine, make_session_factory, transaction
from dialogo.publishing.models import Post
from tests.conftest import TEST_SECRET, make_settings
from tests.factories import make_user, make_workspace


def test_cli_import_reports_rows_and_writes_nothing(fresh_database: str, tmp_path: Path) -> None:
    engine = make_engine(make_settings(tmp_path, fresh_database))
    factory = make_session_factory(engine)
    with transaction(factory) as session:
        owner = make_user(session, email="owner@example.com")
        workspace_id = make_workspace(session, owner).id
    env = {
        "DIALOGO_ENV": "test",
        "DIALOGO_SECRET_KEY": TEST_SECRET,
        "DIALOGO_DATA_DIR": str(tmp_path),
        "DIALOGO_DATABASE_URL": fresh_database,
    }
    bad = tmp_path / "posts.csv"
    bad.write_text("channel,text,scheduled_at\nnowhere,Ciao,2099-01-01 09:00\nnowhere,,\n")
    args = ["posts", "import", str(bad), "--workspace", str(workspace_id)]
    result = CliRunner().invoke(app, [*args, "--as", "owner@example.com"], env=env)
    assert result.exit_code == 1, result.output
    assert "row 1: channel: no channel 'nowhere'" in result.output
    assert "row 2: text: the text is empty" in result.output
    assert "nothing was imported" in result.output
    missing = CliRunner().invoke(
        app,
        ["posts", "import", str(tmp_path / "nope.csv"), "--workspace", "1", "--as", "x@y.z"],
        env=env,
    )
    assert missing.exit_code == 1 and "cannot read" in missing.output
    stranger = CliRunner().invoke(app, [*args, "--as", "nobody@example.com"], env=env)
    assert stranger.exit_code == 1 and "no user" in stranger.output
    with transaction(factory) as session:
        assert session.scalar(select(func.count()).select_from(Post)) == 0
    engine.dispose()
