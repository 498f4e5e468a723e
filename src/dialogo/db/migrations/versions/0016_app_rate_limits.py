"""providers: per-app rate-limit windows

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-06 10:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from dialogo.core.db import UTCDateTime

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # What a network last said about an app's limit (the client id several channels share):
    # until when its channels wait, and the last usage figures (dialogo.channels.app_limits).
    op.create_table(
        "app_rate_limits",
        sa.Column("network", sa.String(length=40), nullable=False),
        sa.Column("app_id", sa.String(length=255), nullable=False),
        sa.Column("scope", sa.String(length=40), nullable=False),
        sa.Column("until", UTCDateTime(timezone=True), nullable=True),
        sa.Column("used_percent", sa.Float(), nullable=True),
        sa.Column("usage", sa.JSON(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("updated_at", UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("network", "app_id", "scope", name=op.f("pk_app_rate_limits")),
    )
    op.create_index(op.f("ix_app_rate_limits_until"), "app_rate_limits", ["until"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_app_rate_limits_until"), table_name="app_rate_limits")
    op.drop_table("app_rate_limits")
