"""oversight: supervision orders (督办单) opened by red cards, special procedures (特别程序)
that suspend the SLA clock, and the clock's hold by a procedure

Revision ID: 0018
Revises: 0017
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import server.db

revision: str = "0018"
down_revision: str | None = "0017"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "special_procedures",
        sa.Column("case_id", sa.String(length=32), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("requested_by", sa.String(length=32), nullable=False),
        sa.Column("approver_id", sa.String(length=32), nullable=False),
        sa.Column("decided_at", server.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("decision_note", sa.Text(), nullable=False),
        sa.Column("started_at", server.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("ended_at", server.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("ended_by", sa.String(length=32), nullable=False),
        sa.Column("outcome", sa.Text(), nullable=False),
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("created_at", server.db.UTCDateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "kind IN ('expert_review', 'hearing', 'site_survey')",
            name=op.f("ck_special_procedures_kind"),
        ),
        sa.CheckConstraint(
            "status IN ('requested', 'active', 'declined', 'ended')",
            name=op.f("ck_special_procedures_status"),
        ),
        sa.ForeignKeyConstraint(
            ["case_id"],
            ["cases.id"],
            name=op.f("fk_special_procedures_case_id_cases"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_special_procedures")),
    )
    with op.batch_alter_table("special_procedures", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_special_procedures_case_id"), ["case_id"], unique=False
        )
        batch_op.create_index(
            "ix_special_procedures_one_open_per_case",
            ["case_id"],
            unique=True,
            sqlite_where=sa.text("status IN ('requested', 'active')"),
            postgresql_where=sa.text("status IN ('requested', 'active')"),
        )
        batch_op.create_index(batch_op.f("ix_special_procedures_status"), ["status"], unique=False)

    op.create_table(
        "supervision_orders",
        sa.Column("case_id", sa.String(length=32), nullable=False),
        sa.Column("clock_id", sa.String(length=32), nullable=False),
        sa.Column("status", sa.String(length=8), nullable=False),
        sa.Column("due_at", server.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("opened_at", server.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("responsible_id", sa.String(length=32), nullable=False),
        sa.Column("overdue_reason", sa.Text(), nullable=False),
        sa.Column("reason_by", sa.String(length=32), nullable=False),
        sa.Column("reason_at", server.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("answer", sa.Text(), nullable=False),
        sa.Column("answered_by", sa.String(length=32), nullable=False),
        sa.Column("answered_at", server.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("level", sa.Integer(), nullable=False),
        sa.Column("escalated_at", server.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("next_escalation_at", server.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("created_at", server.db.UTCDateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "status IN ('open', 'closed')", name=op.f("ck_supervision_orders_status")
        ),
        sa.ForeignKeyConstraint(
            ["case_id"],
            ["cases.id"],
            name=op.f("fk_supervision_orders_case_id_cases"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["clock_id"],
            ["sla_clocks.id"],
            name=op.f("fk_supervision_orders_clock_id_sla_clocks"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_supervision_orders")),
        sa.UniqueConstraint("clock_id", name=op.f("uq_supervision_orders_clock_id")),
    )
    with op.batch_alter_table("supervision_orders", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_supervision_orders_case_id"), ["case_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_supervision_orders_next_escalation_at"),
            ["next_escalation_at"],
            unique=False,
        )
        batch_op.create_index(batch_op.f("ix_supervision_orders_status"), ["status"], unique=False)

    with op.batch_alter_table("sla_clocks", schema=None) as batch_op:
        batch_op.add_column(sa.Column("held_by", sa.String(length=32), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("sla_clocks", schema=None) as batch_op:
        batch_op.drop_column("held_by")

    with op.batch_alter_table("supervision_orders", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_supervision_orders_status"))
        batch_op.drop_index(batch_op.f("ix_supervision_orders_next_escalation_at"))
        batch_op.drop_index(batch_op.f("ix_supervision_orders_case_id"))

    op.drop_table("supervision_orders")
    with op.batch_alter_table("special_procedures", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_special_procedures_status"))
        batch_op.drop_index(
            "ix_special_procedures_one_open_per_case",
            sqlite_where=sa.text("status IN ('requested', 'active')"),
            postgresql_where=sa.text("status IN ('requested', 'active')"),
        )
        batch_op.drop_index(batch_op.f("ix_special_procedures_case_id"))

    op.drop_table("special_procedures")
