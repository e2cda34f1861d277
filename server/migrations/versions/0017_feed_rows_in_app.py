"""notifications: in-app feed rows are "in_app" (仅站内), not "delivered"

Feed rows were marked delivered when enqueued although nothing was sent; they now say what
they are. Data only: the status column is a free string.

Revision ID: 0017
Revises: 0016
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0017"
down_revision: str | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.execute(
        "UPDATE notifications SET status = 'in_app', delivered_at = NULL "
        "WHERE channel = 'feed' AND status = 'delivered'"
    )


def downgrade() -> None:
    op.execute(
        "UPDATE notifications SET status = 'delivered', delivered_at = created_at "
        "WHERE channel = 'feed' AND status = 'in_app'"
    )
