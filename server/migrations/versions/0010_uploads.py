"""uploads: presigned photo and clip uploads, idempotent by a client key

Revision ID: 0010
Revises: 0009
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import server.db

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "uploads",
        sa.Column("case_id", sa.String(length=32), nullable=False),
        sa.Column("idempotency_key", sa.String(length=64), nullable=False),
        sa.Column("uploader", sa.String(length=80), nullable=False),
        sa.Column("purpose", sa.String(length=16), nullable=False),
        sa.Column("item_ids", sa.JSON(), nullable=False),
        sa.Column("content_type", sa.String(length=100), nullable=False),
        sa.Column("declared_size", sa.BigInteger(), nullable=False),
        sa.Column("declared_sha256", sa.String(length=64), nullable=False),
        sa.Column("object_key", sa.String(length=400), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("evidence_id", sa.String(length=32), nullable=True),
        sa.Column("rejection", sa.JSON(), nullable=True),
        sa.Column("created_at", server.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("expires_at", server.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("finished_at", server.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.CheckConstraint(
            "purpose IN ('rectification', 'onsite')", name=op.f("ck_uploads_purpose")
        ),
        sa.CheckConstraint(
            "status IN ('pending', 'finalized', 'rejected')", name=op.f("ck_uploads_status")
        ),
        sa.ForeignKeyConstraint(["case_id"], ["cases.id"], name=op.f("fk_uploads_case_id_cases")),
        sa.ForeignKeyConstraint(
            ["evidence_id"], ["evidence.id"], name=op.f("fk_uploads_evidence_id_evidence")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_uploads")),
        sa.UniqueConstraint(
            "case_id", "uploader", "idempotency_key", name=op.f("uq_uploads_case_id")
        ),
    )


def downgrade() -> None:
    op.drop_table("uploads")
