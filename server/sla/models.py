"""SLA clocks (办理时限计时) of cases and the admins' working-day calendar overrides."""

from __future__ import annotations

import datetime as dt
from datetime import datetime

from sqlalchemy import JSON, Boolean, Date, ForeignKey, Index, Integer, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from server.db import Base, IdMixin, TimestampMixin, utcnow


class SlaClockRow(IdMixin, TimestampMixin, Base):
    """One clock of a case: the initial inspection, or one re-inspection round (复核).

    ``pauses`` holds ``[paused_at, resumed_at | null]`` ISO strings, with the reason as a third
    item when the pause is not the applicant's wait. ``held_by`` names the special procedure
    (特别程序) suspending the clock: while set, the clock stays paused. ``due_at``,
    ``provisional`` and ``next_check_at`` are caches the service recomputes on every change;
    the tick looks only at rows whose ``next_check_at`` has come (NULL: nothing can change).
    """

    __tablename__ = "sla_clocks"
    __table_args__ = (
        # A case has at most one running clock.
        Index(
            "ix_sla_clocks_one_active_per_case",
            "case_id",
            unique=True,
            sqlite_where=text("active"),
            postgresql_where=text("active"),
        ),
        # The case list ordered by due time (running clocks only).
        Index(
            "ix_sla_clocks_active_due",
            "due_at",
            sqlite_where=text("active"),
            postgresql_where=text("active"),
        ),
    )

    case_id: Mapped[str] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), index=True)
    phase: Mapped[str] = mapped_column(String(20))  # initial | reinspection
    sla_class: Mapped[str] = mapped_column(String(20))
    allowance_unit: Mapped[str] = mapped_column(String(16))  # minutes | working_days
    allowance_amount: Mapped[int] = mapped_column(Integer)
    started_at: Mapped[datetime]
    pauses: Mapped[list[list[str | None]]] = mapped_column(JSON, default=list)
    stopped_at: Mapped[datetime | None]
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    due_at: Mapped[datetime | None]  # None while paused with allowance left
    provisional: Mapped[bool] = mapped_column(Boolean, default=False)
    card: Mapped[str] = mapped_column(String(8), default="none")  # none | yellow | red
    yellow_at: Mapped[datetime | None]
    red_at: Mapped[datetime | None]
    next_check_at: Mapped[datetime | None] = mapped_column(index=True)
    held_by: Mapped[str | None] = mapped_column(String(32))


class CalendarOverrideRow(Base):
    """An admin's ruling on one date (节假日/调休), winning over the official calendar."""

    __tablename__ = "calendar_overrides"

    date: Mapped[dt.date] = mapped_column(Date, primary_key=True)
    is_workday: Mapped[bool] = mapped_column(Boolean)
    note: Mapped[str] = mapped_column(Text)
    created_by: Mapped[str] = mapped_column(String(32), default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
