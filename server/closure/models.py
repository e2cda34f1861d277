"""The approval decision (审批决定) recorded on a case's issued opinion: one per case."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime
from enum import StrEnum
from types import MappingProxyType

from sqlalchemy import CheckConstraint, Date, ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from server.cases.states import Label
from server.db import Base, IdMixin, utcnow


class Outcome(StrEnum):
    granted = "granted"
    refused = "refused"


OUTCOME_LABELS: Mapping[Outcome, Label] = MappingProxyType(
    {
        Outcome.granted: Label("准予许可", "licence granted"),
        Outcome.refused: Label("不予许可", "licence refused"),
    }
)


class CaseDecision(IdMixin, Base):
    """The licensing decision that closed the case (办结), as window staff or the approval
    system recorded it. Never changed once written: a different decision is refused."""

    __tablename__ = "case_decisions"
    __table_args__ = (CheckConstraint("outcome IN ('granted', 'refused')", name="outcome"),)

    # Unique: a second decision of a case fails in the database even when two race.
    case_id: Mapped[str] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), unique=True)
    outcome: Mapped[str] = mapped_column(String(8))
    decision_no: Mapped[str] = mapped_column(String(64))  # 决定书编号
    decided_on: Mapped[date] = mapped_column(Date)  # a day on the Beijing calendar
    note: Mapped[str] = mapped_column(Text, default="")
    recorded_by_kind: Mapped[str] = mapped_column(String(16))  # staff | client
    recorded_by_id: Mapped[str] = mapped_column(String(32))
    recorded_at: Mapped[datetime] = mapped_column(default=utcnow)
