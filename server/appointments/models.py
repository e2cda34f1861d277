"""Appointment slots proposed by inspectors and the appointment the applicant accepted."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from server.db import Base, IdMixin, TimestampMixin


class Slot(IdMixin, TimestampMixin, Base):
    """A time the inspectors offer; the applicant picks one of the open ones."""

    __tablename__ = "appointment_slots"

    case_id: Mapped[str] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), index=True)
    starts_at: Mapped[datetime]
    ends_at: Mapped[datetime]
    proposed_by: Mapped[str] = mapped_column(String(32))
    status: Mapped[str] = mapped_column(String(16), default="open")  # open|taken|withdrawn


class Appointment(IdMixin, TimestampMixin, Base):
    """The agreed time of the video inspection, and what became of it."""

    __tablename__ = "appointments"

    case_id: Mapped[str] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), index=True)
    slot_id: Mapped[str] = mapped_column(ForeignKey("appointment_slots.id"))
    starts_at: Mapped[datetime]
    ends_at: Mapped[datetime]
    # scheduled | held | no_show | rescheduled | cancelled
    status: Mapped[str] = mapped_column(String(16), default="scheduled", index=True)
    applicant_joined_at: Mapped[datetime | None]
    closed_reason: Mapped[str] = mapped_column(Text, default="")
    closed_by: Mapped[str] = mapped_column(String(32), default="")
