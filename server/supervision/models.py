"""The applicant's rating of a closed case (好差评), complaints (投诉), the bureau's phone
follow-up calls (一事一评回访), and the follow-up a bad rating, a complaint or a dissatisfied call
opens (整改反馈: answered before it closes)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Boolean, CheckConstraint, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from server.db import Base, IdMixin, TimestampMixin, utcnow


class Rating(IdMixin, TimestampMixin, Base):
    """One rating per case, 1–5, given by the applicant through the case link."""

    __tablename__ = "ratings"
    __table_args__ = (CheckConstraint("score BETWEEN 1 AND 5", name="score_range"),)

    # Unique: the second rating of a case fails in the database even when two race.
    case_id: Mapped[str] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), unique=True)
    score: Mapped[int] = mapped_column(Integer)
    comment: Mapped[str] = mapped_column(Text, default="")
    reasons: Mapped[list[str]] = mapped_column(JSON, default=list)  # codes, for a bad rating
    link_id: Mapped[str] = mapped_column(String(32))  # the applicant link that rated


class Complaint(IdMixin, TimestampMixin, Base):
    """A complaint (投诉) the applicant filed through the case link; it opens a follow-up."""

    __tablename__ = "complaints"

    case_id: Mapped[str] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), index=True)
    text: Mapped[str] = mapped_column(Text)
    case_state: Mapped[str] = mapped_column(String(32))  # the case's state when filed
    link_id: Mapped[str] = mapped_column(String(32))


class PhoneCall(IdMixin, Base):
    """One phone follow-up call (一事一评电话回访) of a closed case, as the caller recorded it."""

    __tablename__ = "phone_calls"

    case_id: Mapped[str] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), index=True)
    reached: Mapped[bool] = mapped_column(Boolean)
    satisfied: Mapped[bool | None] = mapped_column(Boolean)  # None when not reached
    words: Mapped[str] = mapped_column(Text, default="")  # what the applicant said
    called_by: Mapped[str] = mapped_column(String(32))
    called_at: Mapped[datetime] = mapped_column(default=utcnow)
    # The case's id on the call that reached the applicant, else None: unique, so a case has
    # one such call even when two are recorded at once (一事一评).
    reached_case_id: Mapped[str | None] = mapped_column(String(32), unique=True)


class FollowUp(IdMixin, Base):
    """A supervisor's follow-up (差评回访 / 投诉处理) of a bad rating, a complaint or a
    dissatisfied call: the answer (整改反馈: what was done, by whom) is recorded, then it closes
    with a note."""

    __tablename__ = "follow_ups"
    __table_args__ = (CheckConstraint("source IN ('rating', 'complaint', 'phone')", name="source"),)

    case_id: Mapped[str] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), index=True)
    source: Mapped[str] = mapped_column(String(16), default="rating")
    rating_id: Mapped[str | None] = mapped_column(
        ForeignKey("ratings.id", ondelete="CASCADE"), unique=True
    )
    complaint_id: Mapped[str | None] = mapped_column(
        ForeignKey("complaints.id", ondelete="CASCADE"), unique=True
    )
    call_id: Mapped[str | None] = mapped_column(
        ForeignKey("phone_calls.id", ondelete="CASCADE"), unique=True
    )
    status: Mapped[str] = mapped_column(String(8), default="open", index=True)  # open | closed
    opened_at: Mapped[datetime] = mapped_column(default=utcnow)
    answer: Mapped[str] = mapped_column(Text, default="")  # 整改反馈: what was done
    answered_by: Mapped[str] = mapped_column(String(100), default="")  # who did it
    answer_recorded_by: Mapped[str] = mapped_column(String(32), default="")  # staff id
    answered_at: Mapped[datetime | None]
    closed_at: Mapped[datetime | None]
    closed_by: Mapped[str] = mapped_column(String(32), default="")
    note: Mapped[str] = mapped_column(Text, default="")
