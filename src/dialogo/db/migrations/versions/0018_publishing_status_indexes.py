"""publishing: partial status indexes

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-06 13:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0018"
down_revision: str | None = "0017"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The dispatcher's indexes on post_variants cover only the rows a claim looks for: a variant
# enters one when it becomes claimable or leased and leaves it when it is not, so writing a
# final outcome (published, failed, ...) inserts into none of them. Before, the four status
# indexes held every variant ever written, and each of the two writes per post (the claim,
# then the outcome) inserted an entry into all four. ``ix_post_variants_status_network``
# is dropped: its one query (variants in flight per network) reads the leased index.
# The predicates are constants, written the same way in ``publishing.models``.
_SCHEDULED = "status = 'scheduled'"
_RETRY = "status IN ('queued', 'unconfirmed') AND lease_until IS NULL"
_LEASED = "status = 'unconfirmed' AND lease_until IS NOT NULL"


def _partial(name: str, columns: list[str], where: str) -> None:
    op.create_index(
        name,
        "post_variants",
        columns,
        unique=False,
        postgresql_where=sa.text(where),
        sqlite_where=sa.text(where),
    )


def upgrade() -> None:
    op.drop_index("ix_post_variants_status_due", table_name="post_variants")
    op.drop_index("ix_post_variants_status_network", table_name="post_variants")
    op.drop_index("ix_post_variants_status_next_attempt", table_name="post_variants")
    op.drop_index("ix_post_variants_status_lease", table_name="post_variants")
    _partial("ix_post_variants_scheduled_due", ["due_at", "id"], _SCHEDULED)
    _partial("ix_post_variants_retry_next_attempt", ["next_attempt_at", "id"], _RETRY)
    _partial("ix_post_variants_leased_until", ["lease_until", "network"], _LEASED)


def downgrade() -> None:
    op.drop_index("ix_post_variants_leased_until", table_name="post_variants")
    op.drop_index("ix_post_variants_retry_next_attempt", table_name="post_variants")
    op.drop_index("ix_post_variants_scheduled_due", table_name="post_variants")
    op.create_index(
        "ix_post_variants_status_lease", "post_variants", ["status", "lease_until"], unique=False
    )
    op.create_index(
        "ix_post_variants_status_next_attempt",
        "post_variants",
        ["status", "next_attempt_at"],
        unique=False,
    )
    op.create_index(
        "ix_post_variants_status_network", "post_variants", ["status", "network"], unique=False
    )
    op.create_index(
        "ix_post_variants_status_due", "post_variants", ["status", "due_at", "id"], unique=False
    )
