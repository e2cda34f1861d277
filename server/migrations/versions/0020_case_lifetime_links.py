"""cases: when a case ended (closed, cancelled, withdrawn); applicant links have no fixed end

A link now lives as long as its case: it stays valid while the case is open and for the rating
window after the case ended (``cases.ended_at``), so ``case_links.expires_at`` may be empty.

Revision ID: 0020
Revises: 0019
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import server.db

revision: str = "0020"
down_revision: str | None = "0019"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("cases") as batch:
        batch.add_column(sa.Column("ended_at", server.db.UTCDateTime(timezone=True), nullable=True))
    with op.batch_alter_table("case_links") as batch:
        batch.alter_column(
            "expires_at", existing_type=server.db.UTCDateTime(timezone=True), nullable=True
        )


def downgrade() -> None:
    op.execute(sa.text("UPDATE case_links SET expires_at = created_at WHERE expires_at IS NULL"))
    with op.batch_alter_table("case_links") as batch:
        batch.alter_column(
            "expires_at", existing_type=server.db.UTCDateTime(timezone=True), nullable=False
        )
    with op.batch_alter_table("cases") as batch:
        batch.drop_column("ended_at")
