"""The inspection record of a case: its frozen checklist, the verdicts and the lead's rulings.

Nothing here is ever updated in place except ``current_item``: a changed verdict is a new
row and the latest one counts, so the record shows how the inspectors got to the outcome.
Verdicts and resolutions have integer ids because "the latest" is decided by insertion order,
never by the wall clock.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, CheckConstraint, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from server.db import Base, utcnow

VERDICT_VALUES = ("pass", "fail", "not_applicable", "unclear")
_VALUE_CHECK = "value IN ('pass', 'fail', 'not_applicable', 'unclear')"


class CaseChecklist(Base):
    """The catalogue snapshot a case is inspected against, frozen when its inspection starts."""

    __tablename__ = "case_checklists"

    case_id: Mapped[str] = mapped_column(
        ForeignKey("cases.id", ondelete="CASCADE"), primary_key=True
    )
    catalogue_version: Mapped[str] = mapped_column(String(64))
    catalogue_fingerprint: Mapped[str] = mapped_column(String(64))
    snapshot: Mapped[dict[str, Any]] = mapped_column(JSON)
    frozen_at: Mapped[datetime] = mapped_column(default=utcnow)
    frozen_by: Mapped[str] = mapped_column(String(64))
    # "Now inspecting item X" (正在核查): the live call shows it to everyone in the room.
    current_item: Mapped[str | None] = mapped_column(String(16))
    current_item_at: Mapped[datetime | None]
    current_item_by: Mapped[str] = mapped_column(String(64), default="")


class VerdictRow(Base):
    """One inspector's mark on one item (核查意见); history kept, the latest counts."""

    __tablename__ = "verdicts"
    __table_args__ = (
        CheckConstraint(_VALUE_CHECK, name="value"),
        Index("ix_verdicts_case_item", "case_id", "item_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    case_id: Mapped[str] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"))
    item_id: Mapped[str] = mapped_column(String(16))
    inspector_id: Mapped[str] = mapped_column(ForeignKey("staff.id"))
    value: Mapped[str] = mapped_column(String(16))
    note: Mapped[str] = mapped_column(Text, default="")
    evidence_refs: Mapped[list[str]] = mapped_column(JSON, default=list)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class ResolutionRow(Base):
    """The lead inspector's ruling (主核查人裁定) on an item the two inspectors disagree on.

    ``verdict_ids`` are the two verdicts it rules on: a verdict given afterwards reopens the
    item, so a ruling never silently settles a disagreement it did not see.
    """

    __tablename__ = "resolutions"
    __table_args__ = (
        CheckConstraint(_VALUE_CHECK, name="value"),
        Index("ix_resolutions_case_item", "case_id", "item_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    case_id: Mapped[str] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"))
    item_id: Mapped[str] = mapped_column(String(16))
    value: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str] = mapped_column(Text)
    verdict_ids: Mapped[list[int]] = mapped_column(JSON, default=list)
    resolved_by: Mapped[str] = mapped_column(ForeignKey("staff.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
