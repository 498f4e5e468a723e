"""The indexed app key of a channel (``channels.app_key``): ``config["client_id"]`` stored apart,
kept in step with the config on every write, backfilled by migration 0019, and what the
per-app rate-limit look-ups read."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from sqlalchemy import select, text
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import flag_modified

from dialogo.channels import app_limits
from dialogo.channels.models import Channel
from dialogo.core.db import make_engine
from dialogo.db import migrate
from tests.conftest import make_settings
from tests.db.util import empty_database
from tests.factories import make_user, make_workspace

NOW = dt.datetime(2026, 12, 6, 12, 0, tzinfo=dt.UTC)


def _channel(db: Session, workspace_id: int, remote: str, config: dict[str, str]) -> Channel:
    channel = Channel(
        workspace_id=workspace_id,
        network="fakenet",
        name=remote,
        account_remote_id=remote,
        account_handle=remote,
        config=config,
        credentials="x",
    )
    db.add(channel)
    db.flush()
    return channel


def _stored_key(db: Session, channel: Channel) -> str | None:
    return db.execute(
        text("SELECT app_key FROM channels WHERE id = :id"), {"id": channel.id}
    ).scalar_one()


def test_the_app_key_follows_the_config_on_every_write(db: Session) -> None:
    ws = make_workspace(db, make_user(db))
    channel = _channel(db, ws.id, "a", {"client_id": "  app-1 ", "page_id": "9"})
    assert _stored_key(db, channel) == "app-1"
    channel.config = {"client_id": "app-2"}  # a settings save, a reconnect
    db.flush()
    assert _stored_key(db, channel) == "app-2"
    channel.config["client_id"] = "app-3"  # changed in place, marked as changed
    flag_modified(channel, "config")
    db.flush()
    assert _stored_key(db, channel) == "app-3"
    channel.config = {"page_id": "9"}  # no app any more
    db.flush()
    assert _stored_key(db, channel) is None
    other = _channel(db, ws.id, "b", {})
    assert _stored_key(db, other) is None


def test_the_look_ups_find_an_apps_channels_by_the_key(db: Session) -> None:
    ws = make_workspace(db, make_user(db))
    limited = _channel(db, ws.id, "a", {"client_id": "app-1"})
    also = _channel(db, ws.id, "b", {"client_id": "app-1"})
    free = _channel(db, ws.id, "c", {"client_id": "app-2"})
    none = _channel(db, ws.id, "d", {})
    note = app_limits.Note("fakenet", "app-1", "app", NOW + dt.timedelta(minutes=5), 100.0)
    app_limits.note(db, [note], now=NOW)
    assert app_limits.limited_channel_ids(db, NOW) == {limited.id, also.id}
    assert set(db.scalars(app_limits.limited_channels(NOW))) == {limited.id, also.id}
    # the key, not the JSON, is what is read: a channel whose app changes leaves the window
    also.config = {"client_id": "app-2"}
    db.flush()
    assert app_limits.limited_channel_ids(db, NOW) == {limited.id}
    assert {free.id, none.id}.isdisjoint(app_limits.limited_channel_ids(db, NOW))
    assert app_limits.limited_channel_ids(db, NOW + dt.timedelta(hours=1)) == set()


def test_the_migration_backfills_the_key_from_the_json(tmp_path: Path, database_url: None) -> None:
    with empty_database(tmp_path) as url:
        engine = make_engine(make_settings(tmp_path, url))
        try:
            migrate.upgrade(engine)
            with Session(engine) as db:
                ws = make_workspace(db, make_user(db))
                keyed = _channel(db, ws.id, "a", {"client_id": " app-7 "})
                numeric = _channel(db, ws.id, "b", {"client_id": 1234})  # type: ignore[dict-item]
                bare = _channel(db, ws.id, "c", {"room": "!r:h"})
                ids = (keyed.id, numeric.id, bare.id)
                db.commit()
            migrate.downgrade(engine, "0018")  # drops the column with the values
            migrate.upgrade(engine, "0019")  # adds it again: filled from the JSON
            with engine.connect() as c:
                rows = dict(
                    c.execute(text("SELECT id, app_key FROM channels ORDER BY id")).tuples().all()
                )
            assert [rows[i] for i in ids] == ["app-7", "1234", None]
            migrate.upgrade(engine)
            with Session(engine) as db:
                found = db.scalars(select(Channel.id).where(Channel.app_key == "app-7")).all()
                assert found == [ids[0]]
        finally:
            engine.dispose()
