"""The inspection opinion (电子踏勘意见书) record: one row per version, issued rows never change."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, CheckConstraint, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from server.db import Base, IdMixin, utcnow

OPINION_STATUSES = ("draft", "awaiting_cosign", "under_review", "issued", "superseded")
# The statuses in words, for messages people read (zh, en).
OPINION_STATUS_LABELS: dict[str, tuple[str, str]] = {
    "draft": ("起草中", "being drafted"),
    "awaiting_cosign": ("待会签", "awaiting co-signature"),
    "under_review": ("待审核", "under review"),
    "issued": ("已出具", "issued"),
    "superseded": ("已被更正版本取代", "replaced by a corrected version"),
}
_STATUS_CHECK = "status IN ('draft', 'awaiting_cosign', 'under_review', 'issued', 'superseded')"


class Opinion(IdMixin, Base):
    """One version of a case's opinion; a correction is a new row that references the old.

    Once ``issued`` the row is only ever touched to become ``superseded`` or to record the
    window staff's acknowledgement: the signed PDF and JSON twin in storage are the opinion.
    """

    __tablename__ = "opinions"
    __table_args__ = (
        CheckConstraint(_STATUS_CHECK, name="status"),
        UniqueConstraint("verification_code"),
        UniqueConstraint("case_id", "version", name="uq_opinions_case_id_version"),
        Index("ix_opinions_status_issued_at", "status", "issued_at"),
    )

    case_id: Mapped[str] = mapped_column(ForeignKey("cases.id"), index=True)
    version: Mapped[int] = mapped_column(Integer, default=1)
    previous_id: Mapped[str | None] = mapped_column(ForeignKey("opinions.id"))
    status: Mapped[str] = mapped_column(String(20), default="draft")
    content: Mapped[dict[str, Any]] = mapped_column(JSON)
    content_hash: Mapped[str] = mapped_column(String(64), default="")
    verification_code: Mapped[str] = mapped_column(String(24))
    drafted_by: Mapped[str] = mapped_column(String(32))
    cosigned_by: Mapped[str | None] = mapped_column(String(32))
    reviewed_by: Mapped[str | None] = mapped_column(String(32))
    review_comments: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    issued_at: Mapped[datetime | None]
    pdf_key: Mapped[str | None] = mapped_column(String(400))
    pdf_sha256: Mapped[str | None] = mapped_column(String(64))
    json_key: Mapped[str | None] = mapped_column(String(400))
    json_sig_key: Mapped[str | None] = mapped_column(String(400))
    acknowledged_by: Mapped[str | None] = mapped_column(String(32))
    acknowledged_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
