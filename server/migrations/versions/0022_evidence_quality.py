"""evidence: photo quality measured at capture; the keep-or-retake decision on a flagged photo

``evidence.quality`` (nullable JSON: blurred / too dark / overexposed with the numbers) is
written with the row and never changed; ``evidence_quality_decisions`` records, once per
evidence, whether its taker kept a flagged photo or set it aside for a retake.

Revision ID: 0022
Revises: 0021
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import server.db

revision: str = "0022"
down_revision: str | None = "0021"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("evidence") as batch:
        batch.add_column(sa.Column("quality", sa.JSON(), nullable=True))
    op.create_table(
        "evidence_quality_decisions",
        sa.Column("evidence_id", sa.String(length=32), nullable=False),
        sa.Column("case_id", sa.String(length=32), nullable=False),
        sa.Column("decision", sa.String(length=16), nullable=False),
        sa.Column("decided_by", sa.String(length=80), nullable=False),
        sa.Column("decided_at", server.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("audit_seq", sa.Integer(), nullable=True),
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.CheckConstraint(
            "decision IN ('keep', 'retake')", name=op.f("ck_evidence_quality_decisions_decision")
        ),
        sa.ForeignKeyConstraint(
            ["case_id"], ["cases.id"], name=op.f("fk_evidence_quality_decisions_case_id_cases")
        ),
        sa.ForeignKeyConstraint(
            ["evidence_id"],
            ["evidence.id"],
            name=op.f("fk_evidence_quality_decisions_evidence_id_evidence"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_evidence_quality_decisions")),
        sa.UniqueConstraint("evidence_id", name=op.f("uq_evidence_quality_decisions_evidence_id")),
    )
    with op.batch_alter_table("evidence_quality_decisions") as batch:
        batch.create_index(
            batch.f("ix_evidence_quality_decisions_case_id"), ["case_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("evidence_quality_decisions") as batch:
        batch.drop_index(batch.f("ix_evidence_quality_decisions_case_id"))
    op.drop_table("evidence_quality_decisions")
    with op.batch_alter_table("evidence") as batch:
        batch.drop_column("quality")
