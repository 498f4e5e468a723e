"""channels: stored Telegram webhook state; inbox messages deleted on the network

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-06 13:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from dialogo.core.db import UTCDateTime

revision: str = "0021"
down_revision: str | None = "0020"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # What Telegram last said of a channel's webhook, stored by a periodic check
    # (dialogo.inbox.telegram_webhook): the health page reads it instead of asking Telegram.
    op.create_table(
        "telegram_webhook_states",
        sa.Column(
            "channel_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("url", sa.String(length=1000), nullable=False),
        sa.Column("pending_update_count", sa.Integer(), nullable=True),
        sa.Column("last_error_date", UTCDateTime(timezone=True), nullable=True),
        sa.Column("last_error_message", sa.Text(), nullable=True),
        sa.Column("failing_since", UTCDateTime(timezone=True), nullable=True),
        sa.Column("problem", sa.Text(), nullable=True),
        sa.Column("checked_at", UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["channel_id"], ["channels.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("channel_id"),
    )
    # A message its author deleted on the network (Threads' delete notifications).
    with op.batch_alter_table("inbox_messages", schema=None) as batch_op:
        batch_op.add_column(sa.Column("deleted_at", UTCDateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("inbox_messages", schema=None) as batch_op:
        batch_op.drop_column("deleted_at")
    op.drop_table("telegram_webhook_states")
