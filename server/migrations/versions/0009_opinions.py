"""opinions: drafted, co-signed, reviewed and issued inspection opinions

Revision ID: 0009
Revises: 0008
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import server.db

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

STATUS_CHECK = "status IN ('draft', 'awaiting_cosign', 'under_review', 'issued', 'superseded')"


def upgrade() -> None:
    utc = server.db.UTCDateTime(timezone=True)
    op.create_table(
        "opinions",
        sa.Column("case_id", sa.String(length=32), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("previous_id", sa.String(length=32), nullable=True),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("content", sa.JSON(), nullable=False),
        sa.Column("content_hash", sa.String(length=64), nullable=False),
        sa.Column("verification_code", sa.String(length=24), nullable=False),
        sa.Column("drafted_by", sa.String(length=32), nullable=False),
        sa.Column("cosigned_by", sa.String(length=32), nullable=True),
        sa.Column("reviewed_by", sa.String(length=32), nullable=True),
        sa.Column("review_comments", sa.JSON(), nullable=False),
        sa.Column("issued_at", utc, nullable=True),
        sa.Column("pdf_key", sa.String(length=400), nullable=True),
        sa.Column("pdf_sha256", sa.String(length=64), nullable=True),
        sa.Column("json_key", sa.String(length=400), nullable=True),
        sa.Column("json_sig_key", sa.String(length=400), nullable=True),
        sa.Column("acknowledged_by", sa.String(length=32), nullable=True),
        sa.Column("acknowledged_at", utc, nullable=True),
        sa.Column("created_at", utc, nullable=False),
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.CheckConstraint(STATUS_CHECK, name=op.f("ck_opinions_status")),
        sa.ForeignKeyConstraint(["case_id"], ["cases.id"], name=op.f("fk_opinions_case_id_cases")),
        sa.ForeignKeyConstraint(
            ["previous_id"], ["opinions.id"], name=op.f("fk_opinions_previous_id_opinions")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_opinions")),
        sa.UniqueConstraint("verification_code", name=op.f("uq_opinions_verification_code")),
        sa.UniqueConstraint("case_id", "version", name="uq_opinions_case_id_version"),
    )
    with op.batch_alter_table("opinions", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_opinions_case_id"), ["case_id"], unique=False)
        batch_op.create_index("ix_opinions_status_issued_at", ["status", "issued_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("opinions", schema=None) as batch_op:
        batch_op.drop_index("ix_opinions_status_issued_at")
        batch_op.drop_index(batch_op.f("ix_opinions_case_id"))
    op.drop_table("opinions")
