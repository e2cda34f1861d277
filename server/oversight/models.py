"""Supervision that acts: orders opened by red cards (督办单) and special procedures (特别程序)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Index, Integer, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from server.db import Base, IdMixin, TimestampMixin


class SupervisionOrder(IdMixin, TimestampMixin, Base):
    """One order per red-carded clock, addressed to the department head (科室负责人).

    The person responsible (the case's lead inspector) records why the case ran over; the head
    answers with the measures taken, which closes the order. Unanswered, it escalates one
    level every ``supervision_order_answer_days`` working days (``next_escalation_at``).
    """

    __tablename__ = "supervision_orders"
    __table_args__ = (CheckConstraint("status IN ('open', 'closed')", name="status"),)

    case_id: Mapped[str] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), index=True)
    clock_id: Mapped[str] = mapped_column(
        ForeignKey("sla_clocks.id", ondelete="CASCADE"), unique=True
    )
    status: Mapped[str] = mapped_column(String(8), default="open", index=True)
    due_at: Mapped[datetime | None]  # the clock's due time that passed
    opened_at: Mapped[datetime]
    responsible_id: Mapped[str] = mapped_column(String(32), default="")  # the lead inspector
    overdue_reason: Mapped[str] = mapped_column(Text, default="")
    reason_by: Mapped[str] = mapped_column(String(32), default="")
    reason_at: Mapped[datetime | None]
    answer: Mapped[str] = mapped_column(Text, default="")  # the measures taken
    answered_by: Mapped[str] = mapped_column(String(32), default="")
    answered_at: Mapped[datetime | None]
    level: Mapped[int] = mapped_column(Integer, default=0)  # escalations so far
    escalated_at: Mapped[datetime | None]
    next_escalation_at: Mapped[datetime | None] = mapped_column(index=True)


class SpecialProcedure(IdMixin, TimestampMixin, Base):
    """An expert review, hearing or on-site survey that suspends the case's SLA clock.

    Requested with a reason and a named approver; once the approver (not the requester)
    approves, the clock is paused until the procedure ends. One pending or running per case.
    """

    __tablename__ = "special_procedures"
    __table_args__ = (
        CheckConstraint("status IN ('requested', 'active', 'declined', 'ended')", name="status"),
        CheckConstraint("kind IN ('expert_review', 'hearing', 'site_survey')", name="kind"),
        Index(
            "ix_special_procedures_one_open_per_case",
            "case_id",
            unique=True,
            sqlite_where=text("status IN ('requested', 'active')"),
            postgresql_where=text("status IN ('requested', 'active')"),
        ),
    )

    case_id: Mapped[str] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(10), default="requested", index=True)
    requested_by: Mapped[str] = mapped_column(String(32))
    approver_id: Mapped[str] = mapped_column(String(32))
    decided_at: Mapped[datetime | None]
    decision_note: Mapped[str] = mapped_column(Text, default="")
    started_at: Mapped[datetime | None]  # approved: the clock paused from here
    ended_at: Mapped[datetime | None]
    ended_by: Mapped[str] = mapped_column(String(32), default="")
    outcome: Mapped[str] = mapped_column(Text, default="")
