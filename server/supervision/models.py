"""The applicant's rating of a closed case (好差评) and the follow-up a bad rating opens."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Integer, String, Text
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
    link_id: Mapped[str] = mapped_column(String(32))  # the applicant link that rated


class FollowUp(IdMixin, Base):
    """A supervisor's follow-up (差评回访) of a bad rating, closed with a note."""

    __tablename__ = "follow_ups"

    case_id: Mapped[str] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), index=True)
    rating_id: Mapped[str] = mapped_column(
        ForeignKey("ratings.id", ondelete="CASCADE"), unique=True
    )
    status: Mapped[str] = mapped_column(String(8), default="open", index=True)  # open | closed
    opened_at: Mapped[datetime] = mapped_column(default=utcnow)
    closed_at: Mapped[datetime | None]
    closed_by: Mapped[str] = mapped_column(String(32), default="")
    note: Mapped[str] = mapped_column(Text, default="")
