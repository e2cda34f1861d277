"""sla clocks and calendar overrides

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import server.db

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "sla_clocks",
        sa.Column("case_id", sa.String(length=32), nullable=False),
        sa.Column("phase", sa.String(length=20), nullable=False),
        sa.Column("sla_class", sa.String(length=20), nullable=False),
        sa.Column("allowance_unit", sa.String(length=16), nullable=False),
        sa.Column("allowance_amount", sa.Integer(), nullable=False),
        sa.Column("started_at", server.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("pauses", sa.JSON(), nullable=False),
        sa.Column("stopped_at", server.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("due_at", server.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("provisional", sa.Boolean(), nullable=False),
        sa.Column("card", sa.String(length=8), nullable=False),
        sa.Column("yellow_at", server.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("red_at", server.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("next_check_at", server.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("created_at", server.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["case_id"],
            ["cases.id"],
            name=op.f("fk_sla_clocks_case_id_cases"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sla_clocks")),
    )
    with op.batch_alter_table("sla_clocks", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_sla_clocks_case_id"), ["case_id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_sla_clocks_next_check_at"), ["next_check_at"], unique=False
        )
        batch_op.create_index(
            "ix_sla_clocks_one_active_per_case",
            ["case_id"],
            unique=True,
            sqlite_where=sa.text("active"),
            postgresql_where=sa.text("active"),
        )

    op.create_table(
        "calendar_overrides",
        sa.Column("date", sa.Date(), nullable=False),
        sa.Column("is_workday", sa.Boolean(), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("created_by", sa.String(length=32), nullable=False),
        sa.Column("created_at", server.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("date", name=op.f("pk_calendar_overrides")),
    )


def downgrade() -> None:
    op.drop_table("calendar_overrides")
    with op.batch_alter_table("sla_clocks", schema=None) as batch_op:
        batch_op.drop_index("ix_sla_clocks_one_active_per_case")
        batch_op.drop_index(batch_op.f("ix_sla_clocks_next_check_at"))
        batch_op.drop_index(batch_op.f("ix_sla_clocks_case_id"))
    op.drop_table("sla_clocks")
