"""Rectification rounds (补齐补正): what the inspectors asked, what came back, how they judged it.

One ``RectificationRound`` per request; a rejected round stays as it was and a new round opens
with the items still wrong, so the history of every round is kept. Each round has one
``RectificationItem`` per checklist item the applicant must put right.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, CheckConstraint, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from server.db import Base, IdMixin, utcnow

ROUND_STATUSES = ("open", "submitted", "verified", "rejected", "expired")
_STATUS_CHECK = "status IN ('open', 'submitted', 'verified', 'rejected', 'expired')"


class RectificationRound(IdMixin, Base):
    """One rectification request (第 n 轮补正) with its deadline and where it stands."""

    __tablename__ = "rectification_rounds"
    __table_args__ = (
        UniqueConstraint("case_id", "number"),
        CheckConstraint(_STATUS_CHECK, name="status"),
    )

    case_id: Mapped[str] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), index=True)
    number: Mapped[int] = mapped_column(Integer)  # 1, 2, … per case
    requested_by: Mapped[str] = mapped_column(String(80))  # actor "kind:id"
    requested_at: Mapped[datetime] = mapped_column(default=utcnow)
    deadline: Mapped[datetime]
    status: Mapped[str] = mapped_column(String(16), default="open")
    submitted_at: Mapped[datetime | None]
    decided_at: Mapped[datetime | None]  # verified, rejected or expired


class RectificationItem(IdMixin, Base):
    """One checklist item to put right in a round, with the photos and both inspectors' reviews.

    ``reviews`` maps an inspector's staff id to ``{"accepted", "reason", "at"}``; only the
    case's current pair counts when the round is decided.
    """

    __tablename__ = "rectification_items"
    __table_args__ = (UniqueConstraint("round_id", "item_id"),)

    round_id: Mapped[str] = mapped_column(
        ForeignKey("rectification_rounds.id", ondelete="CASCADE"), index=True
    )
    item_id: Mapped[str] = mapped_column(String(16))
    instruction: Mapped[str] = mapped_column(Text)
    failure_evidence_ids: Mapped[list[str]] = mapped_column(JSON, default=list)
    photo_evidence_ids: Mapped[list[str]] = mapped_column(JSON, default=list)
    reviews: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
