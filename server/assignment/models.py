"""The inspector pool (踏勘人员库) and the stored draws (双随机抽取记录)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from server.db import Base, IdMixin, TimestampMixin, utcnow


class InspectorProfile(Base):
    """What an inspector is qualified for and whether they take cases now."""

    __tablename__ = "inspector_profiles"

    staff_id: Mapped[str] = mapped_column(
        ForeignKey("staff.id", ondelete="CASCADE"), primary_key=True
    )
    matters: Mapped[list[str]] = mapped_column(JSON, default=list)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class InspectorConflict(IdMixin, TimestampMixin, Base):
    """A declared conflict of interest (回避): an applicant, address or phone to stay away from."""

    __tablename__ = "inspector_conflicts"
    __table_args__ = (UniqueConstraint("staff_id", "key"),)

    staff_id: Mapped[str] = mapped_column(ForeignKey("staff.id", ondelete="CASCADE"), index=True)
    key: Mapped[str] = mapped_column(String(300))
    note: Mapped[str] = mapped_column(Text, default="")
    declared_by: Mapped[str] = mapped_column(String(32), default="")


class Draw(IdMixin, TimestampMixin, Base):
    """One draw or replacement with everything needed to replay it."""

    __tablename__ = "draws"

    case_id: Mapped[str] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(16))  # draw | replacement
    seed: Mapped[str] = mapped_column(String(64))
    input: Mapped[dict[str, Any]] = mapped_column(JSON)
    result: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_by: Mapped[str] = mapped_column(String(32), default="")
