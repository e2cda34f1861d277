"""cases: indexes for the paged case list (newest first, created-day ranges, due time)

``ix_cases_created_at`` serves the default order (newest first) and the created-day filter
without sorting the whole table; ``ix_sla_clocks_active_due`` (running clocks only) serves the
order by due time.

Revision ID: 0021
Revises: 0020
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0021"
down_revision: str | None = "0020"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_cases_created_at", "cases", ["created_at"])
    op.create_index(
        "ix_sla_clocks_active_due",
        "sla_clocks",
        ["due_at"],
        postgresql_where=sa.text("active"),
        sqlite_where=sa.text("active"),
    )


def downgrade() -> None:
    op.drop_index("ix_sla_clocks_active_due", table_name="sla_clocks")
    op.drop_index("ix_cases_created_at", table_name="cases")
