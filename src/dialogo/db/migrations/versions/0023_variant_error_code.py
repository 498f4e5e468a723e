"""post variants: the type of their last error, worded at display in the reader's language

Revision ID: 0023
Revises: 0022
Create Date: 2026-12-06 19:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0023"
down_revision: str | None = "0022"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # ``last_error_code``: a provider error code (``invalid_payload``, ``rate_limited``, …) or
    # one of the dispatcher's own (``dialogo.publishing.reasons``); ``last_error_params``: the
    # numbers and names its sentence needs and the network's own text (``detail``).
    # ``last_error`` keeps the English text. Rows written before this have no code and show
    # their text.
    with op.batch_alter_table("post_variants", schema=None) as batch_op:
        batch_op.add_column(sa.Column("last_error_code", sa.String(length=40), nullable=True))
        batch_op.add_column(sa.Column("last_error_params", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("post_variants", schema=None) as batch_op:
        batch_op.drop_column("last_error_params")
        batch_op.drop_column("last_error_code")
