"""auth: login back-off instead of locks; API clients with scoped, rotatable keys

Revision ID: 0014
Revises: 0013
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import server.db

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # The old counters were keyed by name alone and locked; they mean nothing to the new rule.
    op.execute(sa.text("DELETE FROM login_throttle"))
    with op.batch_alter_table("login_throttle") as batch:
        batch.drop_column("locked_until")
        batch.add_column(
            sa.Column("last_failed_at", server.db.UTCDateTime(timezone=True), nullable=True)
        )
    op.create_table(
        "api_clients",
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("scopes", sa.String(length=500), nullable=False),
        sa.Column("key_hash", sa.String(length=64), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_by", sa.String(length=32), nullable=False),
        sa.Column("rotated_at", server.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("last_used_at", server.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("created_at", server.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_api_clients")),
        sa.UniqueConstraint("name", name=op.f("uq_api_clients_name")),
        sa.UniqueConstraint("key_hash", name=op.f("uq_api_clients_key_hash")),
    )


def downgrade() -> None:
    op.drop_table("api_clients")
    op.execute(sa.text("DELETE FROM login_throttle"))
    with op.batch_alter_table("login_throttle") as batch:
        batch.drop_column("last_failed_at")
        batch.add_column(
            sa.Column("locked_until", server.db.UTCDateTime(timezone=True), nullable=True)
        )
