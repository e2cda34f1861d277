"""One evidence record (证据) for every kind of file the inspection produces.

A row says what it is, which case and checklist items it documents, who captured it, when and
where (GPS and the distance to the site), the SHA-256 of the stored object, and the ``seq`` of
the ``evidence.write`` audit record that vouches for it, and the photo quality measured at
capture (``media/quality.py``). Rows are never updated or deleted: keeping or retaking a
flagged photo is a ``QualityDecision`` of its own.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
)
from sqlalchemy.orm import Mapped, mapped_column

from server.db import Base, IdMixin, utcnow

EVIDENCE_KINDS = ("snapshot", "segment", "photo", "clip", "gap")
_KIND_CHECK = "kind IN ('snapshot', 'segment', 'photo', 'clip', 'gap')"


class Evidence(IdMixin, Base):
    """A snapshot, recording segment, photo or clip; a ``gap`` marks time nothing was recorded."""

    __tablename__ = "evidence"
    __table_args__ = (
        CheckConstraint(_KIND_CHECK, name="kind"),
        Index("ix_evidence_case_kind", "case_id", "kind"),
    )

    # No cascade: retention of evidence is the application's job (SeaweedFS has no WORM).
    case_id: Mapped[str] = mapped_column(ForeignKey("cases.id"))
    kind: Mapped[str] = mapped_column(String(16))
    item_ids: Mapped[list[str]] = mapped_column(JSON, default=list)
    created_by: Mapped[str] = mapped_column(String(80))  # actor "kind:id"
    captured_at: Mapped[datetime]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    lat: Mapped[float | None] = mapped_column(Float)
    lng: Mapped[float | None] = mapped_column(Float)
    accuracy_m: Mapped[float | None] = mapped_column(Float)
    # to the case's site, when both are known
    distance_m: Mapped[float | None] = mapped_column(Float)
    off_site: Mapped[bool] = mapped_column(Boolean, default=False)
    sha256: Mapped[str] = mapped_column(String(64), default="")
    object_key: Mapped[str | None] = mapped_column(String(400))  # None for a gap
    size: Mapped[int] = mapped_column(BigInteger, default=0)
    content_type: Mapped[str] = mapped_column(String(100), default="")
    meta: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    audit_seq: Mapped[int | None] = mapped_column(Integer)
    # blurred / too dark / overexposed with the numbers, for snapshots and photos; else None
    quality: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)


QUALITY_DECISIONS = ("keep", "retake")


class QualityDecision(IdMixin, Base):
    """What the person who took a flagged photo decided: keep it as it is, or retake it.

    One per evidence row; a photo set aside for a retake is left out of a rectification round.
    """

    __tablename__ = "evidence_quality_decisions"
    __table_args__ = (CheckConstraint("decision IN ('keep', 'retake')", name="decision"),)

    evidence_id: Mapped[str] = mapped_column(ForeignKey("evidence.id"), unique=True)
    case_id: Mapped[str] = mapped_column(ForeignKey("cases.id"), index=True)
    decision: Mapped[str] = mapped_column(String(16))
    decided_by: Mapped[str] = mapped_column(String(80))  # actor "kind:id"
    decided_at: Mapped[datetime] = mapped_column(default=utcnow)
    audit_seq: Mapped[int | None] = mapped_column(Integer)
