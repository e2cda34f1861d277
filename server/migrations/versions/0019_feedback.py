"""feedback: rating reasons, complaints (投诉), phone follow-up calls (一事一评回访), the
follow-up's answer (整改反馈) and its source, and the staff badge number (执法证号)

Revision ID: 0019
Revises: 0018
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import server.db

revision: str = "0019"
down_revision: str | None = "0018"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "staff",
        sa.Column("badge_number", sa.String(length=32), nullable=False, server_default=""),
    )
    op.add_column(
        "ratings", sa.Column("reasons", sa.JSON(), nullable=False, server_default=sa.text("'[]'"))
    )
    op.create_table(
        "complaints",
        sa.Column("case_id", sa.String(length=32), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("case_state", sa.String(length=32), nullable=False),
        sa.Column("link_id", sa.String(length=32), nullable=False),
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("created_at", server.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["case_id"], ["cases.id"], name=op.f("fk_complaints_case_id_cases"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_complaints")),
    )
    with op.batch_alter_table("complaints") as batch:
        batch.create_index(batch.f("ix_complaints_case_id"), ["case_id"], unique=False)
    op.create_table(
        "phone_calls",
        sa.Column("case_id", sa.String(length=32), nullable=False),
        sa.Column("reached", sa.Boolean(), nullable=False),
        sa.Column("satisfied", sa.Boolean(), nullable=True),
        sa.Column("words", sa.Text(), nullable=False),
        sa.Column("called_by", sa.String(length=32), nullable=False),
        sa.Column("called_at", server.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("reached_case_id", sa.String(length=32), nullable=True),
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.ForeignKeyConstraint(
            ["case_id"], ["cases.id"], name=op.f("fk_phone_calls_case_id_cases"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_phone_calls")),
        sa.UniqueConstraint("reached_case_id", name=op.f("uq_phone_calls_reached_case_id")),
    )
    with op.batch_alter_table("phone_calls") as batch:
        batch.create_index(batch.f("ix_phone_calls_case_id"), ["case_id"], unique=False)
    with op.batch_alter_table("follow_ups") as batch:
        batch.add_column(
            sa.Column("source", sa.String(length=16), nullable=False, server_default="rating")
        )
        batch.add_column(sa.Column("complaint_id", sa.String(length=32), nullable=True))
        batch.add_column(sa.Column("call_id", sa.String(length=32), nullable=True))
        batch.add_column(sa.Column("answer", sa.Text(), nullable=False, server_default=""))
        batch.add_column(
            sa.Column("answered_by", sa.String(length=100), nullable=False, server_default="")
        )
        batch.add_column(
            sa.Column(
                "answer_recorded_by", sa.String(length=32), nullable=False, server_default=""
            )
        )
        batch.add_column(
            sa.Column("answered_at", server.db.UTCDateTime(timezone=True), nullable=True)
        )
        batch.alter_column("rating_id", existing_type=sa.String(length=32), nullable=True)
        batch.create_check_constraint(
            batch.f("ck_follow_ups_source"), "source IN ('rating', 'complaint', 'phone')"
        )
        batch.create_foreign_key(
            batch.f("fk_follow_ups_complaint_id_complaints"),
            "complaints",
            ["complaint_id"],
            ["id"],
            ondelete="CASCADE",
        )
        batch.create_foreign_key(
            batch.f("fk_follow_ups_call_id_phone_calls"),
            "phone_calls",
            ["call_id"],
            ["id"],
            ondelete="CASCADE",
        )
        batch.create_unique_constraint(batch.f("uq_follow_ups_complaint_id"), ["complaint_id"])
        batch.create_unique_constraint(batch.f("uq_follow_ups_call_id"), ["call_id"])


def downgrade() -> None:
    op.execute("DELETE FROM follow_ups WHERE rating_id IS NULL")
    with op.batch_alter_table("follow_ups") as batch:
        batch.drop_constraint(batch.f("uq_follow_ups_call_id"), type_="unique")
        batch.drop_constraint(batch.f("uq_follow_ups_complaint_id"), type_="unique")
        batch.drop_constraint(batch.f("fk_follow_ups_call_id_phone_calls"), type_="foreignkey")
        batch.drop_constraint(
            batch.f("fk_follow_ups_complaint_id_complaints"), type_="foreignkey"
        )
        batch.drop_constraint(batch.f("ck_follow_ups_source"), type_="check")
        batch.alter_column("rating_id", existing_type=sa.String(length=32), nullable=False)
        for column in (
            "answered_at",
            "answer_recorded_by",
            "answered_by",
            "answer",
            "call_id",
            "complaint_id",
            "source",
        ):
            batch.drop_column(column)
    op.drop_table("phone_calls")
    op.drop_table("complaints")
    with op.batch_alter_table("ratings") as batch:
        batch.drop_column("reasons")
    with op.batch_alter_table("staff") as batch:
        batch.drop_column("badge_number")
