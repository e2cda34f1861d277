"""Uploads (上传): a photo or clip sent straight to object storage, then checked and finalized.

One row per client-supplied idempotency key, so a retried upload on a bad network never
becomes a second file. ``object_key`` is where the phone's form posts the file; finalize seals
the checked bytes elsewhere (the evidence's ``original_key``) and empties it, and once the form
has expired the sweep empties it for good (``swept_at``). What is served lives on the evidence
row the finalize step creates.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, CheckConstraint, ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from server.db import Base, IdMixin, utcnow

UPLOAD_PURPOSES = ("rectification", "onsite")
UPLOAD_STATUSES = ("pending", "finalized", "rejected")


class Upload(IdMixin, Base):
    """One announced upload: what the client promised (type, size, SHA-256), what became of it."""

    __tablename__ = "uploads"
    __table_args__ = (
        UniqueConstraint("case_id", "uploader", "idempotency_key"),
        CheckConstraint("purpose IN ('rectification', 'onsite')", name="purpose"),
        CheckConstraint("status IN ('pending', 'finalized', 'rejected')", name="status"),
    )

    case_id: Mapped[str] = mapped_column(ForeignKey("cases.id"))
    idempotency_key: Mapped[str] = mapped_column(String(64))
    uploader: Mapped[str] = mapped_column(String(80))  # actor "kind:id"
    purpose: Mapped[str] = mapped_column(String(16))
    item_ids: Mapped[list[str]] = mapped_column(JSON, default=list)
    content_type: Mapped[str] = mapped_column(String(100))
    declared_size: Mapped[int] = mapped_column(BigInteger)
    declared_sha256: Mapped[str] = mapped_column(String(64))
    object_key: Mapped[str] = mapped_column(String(400))
    status: Mapped[str] = mapped_column(String(16), default="pending")
    evidence_id: Mapped[str | None] = mapped_column(ForeignKey("evidence.id"))
    rejection: Mapped[dict[str, Any] | None] = mapped_column(JSON)  # reason + zh/en messages
    # the phone's own GPS fix sent with the announcement (lat, lng, accuracy_m, fixed_at)
    device_position: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    # the phone's clock when the photo was taken, sent with the announcement (EXIF time wins)
    device_captured_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]
    finished_at: Mapped[datetime | None]
    # when the sweep emptied the upload key of this settled upload, its form having expired
    swept_at: Mapped[datetime | None]
