"""channels: indexed app key for rate-limit windows

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-06 13:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0019"
down_revision: str | None = "0018"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


#: Channels read and written per statement while backfilling.
_CHUNK = 500


def _app_key(config: object) -> str | None:
    """``config["client_id"]`` as :func:`dialogo.channels.models.app_key_of` stores it (copied
    here so this revision keeps its meaning if the model's helper changes)."""
    value = config.get("client_id") if isinstance(config, dict) else None
    return (str(value).strip()[:255] or None) if value else None


def upgrade() -> None:
    # The app (OAuth client id) a channel was connected with, stored apart from the JSON
    # config and indexed with the network: the dispatcher's claim and the inbox poller find
    # the channels of an app whose rate-limit window is live without reading every channel.
    with op.batch_alter_table("channels") as batch:
        batch.add_column(sa.Column("app_key", sa.String(length=255), nullable=True))
    op.create_index("ix_channels_network_app_key", "channels", ["network", "app_key"])
    # Backfill from the JSON in Python, the same on SQLite and PostgreSQL (the JSON column
    # type decodes the value on both).
    channels = sa.table(
        "channels",
        sa.column("id", sa.BigInteger()),
        sa.column("config", sa.JSON()),
        sa.column("app_key", sa.String(length=255)),
    )
    bind = op.get_bind()
    last = 0
    while True:
        rows = bind.execute(
            sa.select(channels.c.id, channels.c.config)
            .where(channels.c.id > last)
            .order_by(channels.c.id)
            .limit(_CHUNK)
        ).all()
        if not rows:
            break
        last = rows[-1].id
        keyed = [{"cid": row.id, "key": _app_key(row.config)} for row in rows]
        keyed = [k for k in keyed if k["key"] is not None]
        if keyed:
            bind.execute(
                channels.update()
                .where(channels.c.id == sa.bindparam("cid"))
                .values(app_key=sa.bindparam("key")),
                keyed,
            )


def downgrade() -> None:
    op.drop_index("ix_channels_network_app_key", table_name="channels")
    with op.batch_alter_table("channels") as batch:
        batch.drop_column("app_key")
