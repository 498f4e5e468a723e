"""listening: stored emotions

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-06 06:45:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # The emotions an emotion model found in each mention (Plutchik's eight, by English name);
    # NULL where no model judged it. Existing rows stay NULL: nothing judged them.
    with op.batch_alter_table("mentions", schema=None) as batch_op:
        batch_op.add_column(sa.Column("emotions", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("mentions", schema=None) as batch_op:
        batch_op.drop_column("emotions")
