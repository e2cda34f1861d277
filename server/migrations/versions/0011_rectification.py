"""rectification: rounds of rectification requests and their items

Revision ID: 0011
Revises: 0010
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import server.db

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

STATUS_CHECK = "status IN ('open', 'submitted', 'verified', 'rejected', 'expired')"


def upgrade() -> None:
    op.create_table(
        "rectification_rounds",
        sa.Column("case_id", sa.String(length=32), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("requested_by", sa.String(length=80), nullable=False),
        sa.Column("requested_at", server.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("deadline", server.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("submitted_at", server.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("decided_at", server.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.CheckConstraint(STATUS_CHECK, name=op.f("ck_rectification_rounds_status")),
        sa.ForeignKeyConstraint(
            ["case_id"],
            ["cases.id"],
            name=op.f("fk_rectification_rounds_case_id_cases"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_rectification_rounds")),
        sa.UniqueConstraint("case_id", "number", name=op.f("uq_rectification_rounds_case_id")),
    )
    with op.batch_alter_table("rectification_rounds", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_rectification_rounds_case_id"), ["case_id"], unique=False
        )

    op.create_table(
        "rectification_items",
        sa.Column("round_id", sa.String(length=32), nullable=False),
        sa.Column("item_id", sa.String(length=16), nullable=False),
        sa.Column("instruction", sa.Text(), nullable=False),
        sa.Column("failure_evidence_ids", sa.JSON(), nullable=False),
        sa.Column("photo_evidence_ids", sa.JSON(), nullable=False),
        sa.Column("reviews", sa.JSON(), nullable=False),
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.ForeignKeyConstraint(
            ["round_id"],
            ["rectification_rounds.id"],
            name=op.f("fk_rectification_items_round_id_rectification_rounds"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_rectification_items")),
        sa.UniqueConstraint("round_id", "item_id", name=op.f("uq_rectification_items_round_id")),
    )
    with op.batch_alter_table("rectification_items", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_rectification_items_round_id"), ["round_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("rectification_items", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_rectification_items_round_id"))
    op.drop_table("rectification_items")
    with op.batch_alter_table("rectification_rounds", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_rectification_rounds_case_id"))
    op.drop_table("rectification_rounds")
