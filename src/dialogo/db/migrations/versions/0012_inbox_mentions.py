"""inbox: teammate mentions in notes, notification recipients, automated acknowledgements

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-06 06:45:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


_BIG = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_FILLED = (
    ("conversation_notes", "mentions"),
    ("inbox_messages", "automated"),
    ("inbox_replies", "automated"),
    ("inbox_settings", "auto_ack_enabled"),
)


def upgrade() -> None:
    with op.batch_alter_table("notifications", schema=None) as batch_op:
        batch_op.add_column(sa.Column("recipient_id", _BIG, nullable=True))
        batch_op.create_index(
            batch_op.f("ix_notifications_recipient_id"), ["recipient_id"], unique=False
        )
        batch_op.create_foreign_key(
            batch_op.f("fk_notifications_recipient_id_users"),
            "users",
            ["recipient_id"],
            ["id"],
            ondelete="CASCADE",
        )
    with op.batch_alter_table("conversation_notes", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("mentions", sa.JSON(), nullable=False, server_default=sa.text("'[]'"))
        )
    with op.batch_alter_table("inbox_messages", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("automated", sa.Boolean(), nullable=False, server_default=sa.false())
        )
    with op.batch_alter_table("inbox_replies", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("automated", sa.Boolean(), nullable=False, server_default=sa.false())
        )
    with op.batch_alter_table("inbox_settings", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("auto_ack_enabled", sa.Boolean(), nullable=False, server_default=sa.false())
        )
        batch_op.add_column(sa.Column("ack_disclosure", sa.String(length=300), nullable=True))
    # The server defaults only filled the existing rows; the models set the values.
    for table, column in _FILLED:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.alter_column(column, server_default=None)


def downgrade() -> None:
    with op.batch_alter_table("inbox_settings", schema=None) as batch_op:
        batch_op.drop_column("ack_disclosure")
        batch_op.drop_column("auto_ack_enabled")
    with op.batch_alter_table("inbox_replies", schema=None) as batch_op:
        batch_op.drop_column("automated")
    with op.batch_alter_table("inbox_messages", schema=None) as batch_op:
        batch_op.drop_column("automated")
    with op.batch_alter_table("conversation_notes", schema=None) as batch_op:
        batch_op.drop_column("mentions")
    with op.batch_alter_table("notifications", schema=None) as batch_op:
        batch_op.drop_constraint(
            batch_op.f("fk_notifications_recipient_id_users"), type_="foreignkey"
        )
        batch_op.drop_index(batch_op.f("ix_notifications_recipient_id"))
        batch_op.drop_column("recipient_id")
