"""Cases (踏勘案件), their inspectors, and the applicant's access links."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Float, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from server.db import Base, IdMixin, TimestampMixin, utcnow


class Case(IdMixin, TimestampMixin, Base):
    """One inspection case, created from an application in the approval system."""

    __tablename__ = "cases"
    __table_args__ = (Index("ix_cases_created_at", "created_at"),)  # the list's default order

    number: Mapped[str] = mapped_column(String(32), unique=True)
    application_no: Mapped[str] = mapped_column(String(64), unique=True)
    intake_fingerprint: Mapped[str] = mapped_column(String(64))
    applicant_kind: Mapped[str] = mapped_column(String(16))  # person | company
    applicant_name: Mapped[str] = mapped_column(String(200))
    applicant_id_no: Mapped[str] = mapped_column(String(64), default="")
    applicant_phone: Mapped[str] = mapped_column(String(32))
    site_address: Mapped[str] = mapped_column(String(300))
    site_lat: Mapped[float | None] = mapped_column(Float)
    site_lng: Mapped[float | None] = mapped_column(Float)
    matters: Mapped[list[str]] = mapped_column(JSON)
    scenarios: Mapped[list[str]] = mapped_column(JSON, default=list)
    mode: Mapped[str] = mapped_column(String(20))
    sla_class: Mapped[str] = mapped_column(String(20))
    override_reason: Mapped[str] = mapped_column(Text, default="")
    state: Mapped[str] = mapped_column(String(32), index=True)
    version: Mapped[int] = mapped_column(Integer, default=1)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    extra: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    # When the case reached a terminal state (closed, cancelled, withdrawn): the applicant's
    # links stay valid until this moment plus the rating window (``settings.rating_window_days``).
    ended_at: Mapped[datetime | None]

    # Optimistic locking: two concurrent transitions of one case cannot both win.
    __mapper_args__ = {"version_id_col": version}  # noqa: RUF012


class CaseInspector(IdMixin, Base):
    """An inspector assigned to a case; a replaced one keeps the row with the reason."""

    __tablename__ = "case_inspectors"

    case_id: Mapped[str] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), index=True)
    staff_id: Mapped[str] = mapped_column(ForeignKey("staff.id"), index=True)
    position: Mapped[str] = mapped_column(String(16))  # lead | second
    assigned_at: Mapped[datetime] = mapped_column(default=utcnow)
    released_at: Mapped[datetime | None]
    release_reason: Mapped[str] = mapped_column(Text, default="")


class CaseLink(IdMixin, TimestampMixin, Base):
    """The applicant's per-case link; the token itself is shown once and stored hashed.

    A link has no fixed end: it lives as long as its case (see ``server.cases.links``).
    ``expires_at`` is only set on links issued before that rule (a fixed end, still honoured)."""

    __tablename__ = "case_links"
    __table_args__ = (UniqueConstraint("token_hash"),)

    case_id: Mapped[str] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64))
    created_by: Mapped[str] = mapped_column(String(32), default="")
    expires_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]
    last_used_at: Mapped[datetime | None]
