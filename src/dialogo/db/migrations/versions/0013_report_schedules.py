"""analytics: scheduled e-mail reports

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-06 06:45:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import dialogo.core.db

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def _when(name: str, *, nullable: bool) -> sa.Column:  # type: ignore[type-arg]
    return sa.Column(name, dialogo.core.db.UTCDateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "report_schedules",
        sa.Column("id", _ID, nullable=False),
        sa.Column("workspace_id", _ID, nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("frequency", sa.String(length=16), nullable=False),
        sa.Column("weekday", sa.Integer(), nullable=True),
        sa.Column("month_day", sa.Integer(), nullable=True),
        sa.Column("local_time", sa.String(length=5), nullable=False),
        sa.Column("language", sa.String(length=8), nullable=False),
        sa.Column("formats", sa.JSON(), nullable=False),
        sa.Column("campaign_id", _ID, nullable=True),
        sa.Column("recipients", sa.JSON(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        _when("next_run_at", nullable=True),
        _when("last_sent_at", nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        _when("last_error_at", nullable=True),
        sa.Column("created_by", _ID, nullable=True),
        _when("created_at", nullable=False),
        _when("updated_at", nullable=False),
        sa.ForeignKeyConstraint(
            ["campaign_id"],
            ["campaigns.id"],
            name=op.f("fk_report_schedules_campaign_id_campaigns"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["created_by"],
            ["users.id"],
            name=op.f("fk_report_schedules_created_by_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["workspace_id"],
            ["workspaces.id"],
            name=op.f("fk_report_schedules_workspace_id_workspaces"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_report_schedules")),
    )
    op.create_index(
        "ix_report_schedules_active_next_run",
        "report_schedules",
        ["active", "next_run_at"],
        unique=False,
    )
    op.create_index(
        op.f("ix_report_schedules_workspace_id"), "report_schedules", ["workspace_id"], unique=False
    )
    op.create_table(
        "report_deliveries",
        sa.Column("id", _ID, nullable=False),
        sa.Column("workspace_id", _ID, nullable=False),
        sa.Column("schedule_id", _ID, nullable=False),
        sa.Column("period", sa.String(length=64), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("recipients", sa.JSON(), nullable=False),
        sa.Column("message_id", sa.String(length=255), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        _when("created_at", nullable=False),
        _when("started_at", nullable=True),
        _when("finished_at", nullable=True),
        sa.ForeignKeyConstraint(
            ["schedule_id"],
            ["report_schedules.id"],
            name=op.f("fk_report_deliveries_schedule_id_report_schedules"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["workspace_id"],
            ["workspaces.id"],
            name=op.f("fk_report_deliveries_workspace_id_workspaces"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_report_deliveries")),
        sa.UniqueConstraint(
            "schedule_id", "period", name=op.f("uq_report_deliveries_schedule_id_period")
        ),
    )
    op.create_index(
        op.f("ix_report_deliveries_workspace_id"),
        "report_deliveries",
        ["workspace_id"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_report_deliveries_workspace_id"), table_name="report_deliveries")
    op.drop_table("report_deliveries")
    op.drop_index(op.f("ix_report_schedules_workspace_id"), table_name="report_schedules")
    op.drop_index("ix_report_schedules_active_next_run", table_name="report_schedules")
    op.drop_table("report_schedules")
