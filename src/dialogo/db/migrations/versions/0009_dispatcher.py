"""dispatcher: throughput, reconciliation and slow-media changes

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-23 17:20:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import dialogo.core.db

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("post_variants", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("next_attempt_at", dialogo.core.db.UTCDateTime(timezone=True), nullable=True)
        )
        batch_op.add_column(
            sa.Column("lease_until", dialogo.core.db.UTCDateTime(timezone=True), nullable=True)
        )
        batch_op.add_column(sa.Column("claimed_by", sa.String(length=100), nullable=True))
        batch_op.add_column(sa.Column("pending_state", sa.JSON(), nullable=True))
        batch_op.create_index(
            "ix_post_variants_status_next_attempt", ["status", "next_attempt_at"], unique=False
        )
        batch_op.create_index(
            "ix_post_variants_status_lease", ["status", "lease_until"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("post_variants", schema=None) as batch_op:
        batch_op.drop_index("ix_post_variants_status_lease")
        batch_op.drop_index("ix_post_variants_status_next_attempt")
        batch_op.drop_column("pending_state")
        batch_op.drop_column("claimed_by")
        batch_op.drop_column("lease_until")
        batch_op.drop_column("next_attempt_at")
