"""audience and influence: profiles, segments, interaction graph, advocates

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-23 17:20:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import dialogo.core.db

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "audience_profiles",
        sa.Column("contact_id", BigId, nullable=False),
        sa.Column("workspace_id", BigId, nullable=False),
        sa.Column("external_id", sa.String(length=200), nullable=True),
        sa.Column("email", sa.String(length=320), nullable=True),
        sa.Column("phone", sa.String(length=40), nullable=True),
        sa.Column("first_name", sa.String(length=120), nullable=True),
        sa.Column("last_name", sa.String(length=120), nullable=True),
        sa.Column("age_band", sa.String(length=16), nullable=True),
        sa.Column("age_min", sa.Integer(), nullable=True),
        sa.Column("age_max", sa.Integer(), nullable=True),
        sa.Column("sex", sa.String(length=16), nullable=True),
        sa.Column("place", sa.String(length=120), nullable=True),
        sa.Column("region", sa.String(length=120), nullable=True),
        sa.Column("country", sa.String(length=2), nullable=True),
        sa.Column("postal_code", sa.String(length=20), nullable=True),
        sa.Column("source", sa.String(length=20), nullable=False),
        sa.Column("engagement_count", sa.Integer(), nullable=False),
        sa.Column("last_engaged_at", dialogo.core.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("created_at", dialogo.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", dialogo.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["contact_id"],
            ["contacts.id"],
            name=op.f("fk_audience_profiles_contact_id_contacts"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["workspace_id"],
            ["workspaces.id"],
            name=op.f("fk_audience_profiles_workspace_id_workspaces"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("contact_id", name=op.f("pk_audience_profiles")),
    )
    with op.batch_alter_table("audience_profiles", schema=None) as batch_op:
        batch_op.create_index(
            "ix_audience_profiles_workspace_email", ["workspace_id", "email"], unique=False
        )
        batch_op.create_index(
            "ix_audience_profiles_workspace_external", ["workspace_id", "external_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_audience_profiles_workspace_id"), ["workspace_id"], unique=False
        )

    op.create_table(
        "audience_interests",
        sa.Column("contact_id", BigId, nullable=False),
        sa.Column("interest", sa.String(length=80), nullable=False),
        sa.Column("workspace_id", BigId, nullable=False),
        sa.Column("score", sa.Float(), nullable=False),
        sa.Column("source", sa.String(length=20), nullable=False),
        sa.Column("confidence", sa.Float(), nullable=True),
        sa.Column("evidence", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["contact_id"],
            ["contacts.id"],
            name=op.f("fk_audience_interests_contact_id_contacts"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["workspace_id"],
            ["workspaces.id"],
            name=op.f("fk_audience_interests_workspace_id_workspaces"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("contact_id", "interest", name=op.f("pk_audience_interests")),
    )
    with op.batch_alter_table("audience_interests", schema=None) as batch_op:
        batch_op.create_index(
            "ix_audience_interests_workspace_interest", ["workspace_id", "interest"], unique=False
        )

    op.create_table(
        "audience_segments",
        sa.Column("id", BigId, nullable=False),
        sa.Column("workspace_id", BigId, nullable=False),
        sa.Column("name", sa.String(length=120), nullable=False),
        sa.Column("expression", sa.Text(), nullable=False),
        sa.Column("created_at", dialogo.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", dialogo.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["workspace_id"],
            ["workspaces.id"],
            name=op.f("fk_audience_segments_workspace_id_workspaces"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audience_segments")),
        sa.UniqueConstraint(
            "workspace_id", "name", name=op.f("uq_audience_segments_workspace_id_name")
        ),
    )
    with op.batch_alter_table("audience_segments", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_audience_segments_workspace_id"), ["workspace_id"], unique=False
        )

    op.create_table(
        "influence_edges",
        sa.Column("workspace_id", BigId, nullable=False),
        sa.Column("source_id", BigId, nullable=False),
        sa.Column("target_id", BigId, nullable=False),
        sa.Column("replies", sa.Integer(), nullable=False),
        sa.Column("mentions", sa.Integer(), nullable=False),
        sa.Column("reposts", sa.Integer(), nullable=False),
        sa.Column("follows", sa.Integer(), nullable=False),
        sa.Column("trials", sa.Integer(), nullable=False),
        sa.Column("successes", sa.Integer(), nullable=False),
        sa.Column("probability", sa.Float(), nullable=False),
        sa.Column("estimate", sa.String(length=20), nullable=False),
        sa.ForeignKeyConstraint(
            ["workspace_id"],
            ["workspaces.id"],
            name=op.f("fk_influence_edges_workspace_id_workspaces"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["source_id"],
            ["contacts.id"],
            name=op.f("fk_influence_edges_source_id_contacts"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["target_id"],
            ["contacts.id"],
            name=op.f("fk_influence_edges_target_id_contacts"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint(
            "workspace_id", "source_id", "target_id", name=op.f("pk_influence_edges")
        ),
    )
    with op.batch_alter_table("influence_edges", schema=None) as batch_op:
        batch_op.create_index(
            "ix_influence_edges_workspace_source", ["workspace_id", "source_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_influence_edges_target_id"), ["target_id"], unique=False
        )

    op.create_table(
        "influence_scores",
        sa.Column("contact_id", BigId, nullable=False),
        sa.Column("workspace_id", BigId, nullable=False),
        sa.Column("rank", sa.Integer(), nullable=False),
        sa.Column("score", sa.Float(), nullable=False),
        sa.Column("followers", sa.Integer(), nullable=False),
        sa.Column("engagement", sa.Integer(), nullable=False),
        sa.Column("pagerank", sa.Float(), nullable=False),
        sa.Column("core", sa.Integer(), nullable=False),
        sa.Column("topic_relevance", sa.Float(), nullable=False),
        sa.Column("out_degree", sa.Integer(), nullable=False),
        sa.Column("in_degree", sa.Integer(), nullable=False),
        sa.Column("topics", sa.JSON(), nullable=False),
        sa.Column("computed_at", dialogo.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["contact_id"],
            ["contacts.id"],
            name=op.f("fk_influence_scores_contact_id_contacts"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["workspace_id"],
            ["workspaces.id"],
            name=op.f("fk_influence_scores_workspace_id_workspaces"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("contact_id", name=op.f("pk_influence_scores")),
    )
    with op.batch_alter_table("influence_scores", schema=None) as batch_op:
        batch_op.create_index(
            "ix_influence_scores_workspace_rank", ["workspace_id", "rank"], unique=False
        )

    op.create_table(
        "audience_experiments",
        sa.Column("id", BigId, nullable=False),
        sa.Column("workspace_id", BigId, nullable=False),
        sa.Column("name", sa.String(length=120), nullable=False),
        sa.Column("topic", sa.String(length=80), nullable=True),
        sa.Column("source", sa.String(length=20), nullable=False),
        sa.Column("treated", sa.Integer(), nullable=False),
        sa.Column("control", sa.Integer(), nullable=False),
        sa.Column("responded_treated", sa.Integer(), nullable=False),
        sa.Column("responded_control", sa.Integer(), nullable=False),
        sa.Column("created_at", dialogo.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["workspace_id"],
            ["workspaces.id"],
            name=op.f("fk_audience_experiments_workspace_id_workspaces"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audience_experiments")),
        sa.UniqueConstraint(
            "workspace_id", "name", name=op.f("uq_audience_experiments_workspace_id_name")
        ),
    )
    with op.batch_alter_table("audience_experiments", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_audience_experiments_workspace_id"), ["workspace_id"], unique=False
        )

    op.create_table(
        "audience_experiment_units",
        sa.Column("experiment_id", BigId, nullable=False),
        sa.Column("contact_id", BigId, nullable=False),
        sa.Column("treated", sa.Boolean(), nullable=False),
        sa.Column("responded", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["experiment_id"],
            ["audience_experiments.id"],
            name=op.f("fk_audience_experiment_units_experiment_id_audience_experiments"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["contact_id"],
            ["contacts.id"],
            name=op.f("fk_audience_experiment_units_contact_id_contacts"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint(
            "experiment_id", "contact_id", name=op.f("pk_audience_experiment_units")
        ),
    )
    with op.batch_alter_table("audience_experiment_units", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_audience_experiment_units_contact_id"), ["contact_id"], unique=False
        )

    op.create_table(
        "influence_ugc_rights",
        sa.Column("id", BigId, nullable=False),
        sa.Column("workspace_id", BigId, nullable=False),
        sa.Column("item_key", sa.String(length=40), nullable=False),
        sa.Column("message_id", BigId, nullable=True),
        sa.Column("mention_id", BigId, nullable=True),
        sa.Column("contact_id", BigId, nullable=True),
        sa.Column("author_handle", sa.String(length=255), nullable=False),
        sa.Column("url", sa.String(length=2048), nullable=True),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("request_text", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("rights", sa.Text(), nullable=False),
        sa.Column("requested_by", BigId, nullable=True),
        sa.Column("requested_at", dialogo.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("decided_at", dialogo.core.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("updated_at", dialogo.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["workspace_id"],
            ["workspaces.id"],
            name=op.f("fk_influence_ugc_rights_workspace_id_workspaces"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["message_id"],
            ["inbox_messages.id"],
            name=op.f("fk_influence_ugc_rights_message_id_inbox_messages"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["mention_id"],
            ["mentions.id"],
            name=op.f("fk_influence_ugc_rights_mention_id_mentions"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["contact_id"],
            ["contacts.id"],
            name=op.f("fk_influence_ugc_rights_contact_id_contacts"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["requested_by"],
            ["users.id"],
            name=op.f("fk_influence_ugc_rights_requested_by_users"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_influence_ugc_rights")),
        sa.UniqueConstraint(
            "workspace_id", "item_key", name=op.f("uq_influence_ugc_rights_workspace_id_item_key")
        ),
    )
    with op.batch_alter_table("influence_ugc_rights", schema=None) as batch_op:
        batch_op.create_index(
            "ix_influence_ugc_rights_workspace_status", ["workspace_id", "status"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_influence_ugc_rights_message_id"), ["message_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_influence_ugc_rights_mention_id"), ["mention_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_influence_ugc_rights_contact_id"), ["contact_id"], unique=False
        )


def downgrade() -> None:
    op.drop_table("influence_ugc_rights")
    op.drop_table("audience_experiment_units")
    op.drop_table("audience_experiments")
    op.drop_table("influence_scores")
    op.drop_table("influence_edges")
    op.drop_table("audience_segments")
    op.drop_table("audience_interests")
    op.drop_table("audience_profiles")
