"""channels: the error type behind a channel's status; Telegram webhook problems as a kind

Revision ID: 0022
Revises: 0021
Create Date: 2026-12-06 16:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0022"
down_revision: str | None = "0021"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # The provider error code that flagged the channel (``reauth_required``, ``disconnected``,
    # …): the pages word it in the reader's language, ``status_reason`` (the network's own
    # text) follows as a detail. Rows flagged before this have none and show their text.
    with op.batch_alter_table("channels", schema=None) as batch_op:
        batch_op.add_column(sa.Column("status_code", sa.String(length=40), nullable=True))
    # The kind of a Telegram webhook problem and its parameters (rendered when shown);
    # ``problem`` keeps the English sentence.
    with op.batch_alter_table("telegram_webhook_states", schema=None) as batch_op:
        batch_op.add_column(sa.Column("problem_code", sa.String(length=40), nullable=True))
        batch_op.add_column(sa.Column("problem_params", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("telegram_webhook_states", schema=None) as batch_op:
        batch_op.drop_column("problem_params")
        batch_op.drop_column("problem_code")
    with op.batch_alter_table("channels", schema=None) as batch_op:
        batch_op.drop_column("status_code")
