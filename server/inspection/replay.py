"""A retried verdict (a phone on a bad network, the offline console's outbox) is a replay, not
a new mark: the same value, note and evidence as the inspector's current mark on that item
changes nothing and gets the same answer (reliability #14)."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import Table, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from server.cases.models import Case
from server.inspection.models import VerdictRow

CASES: Table = Case.__table__  # type: ignore[assignment]


async def lock_case(session: AsyncSession, case_id: str) -> None:
    """Take the case row's write lock (a no-op update) so concurrent marks on the case run one
    after another: PostgreSQL locks the row, SQLite takes its database write lock."""
    await session.execute(update(CASES).where(CASES.c.id == case_id).values(id=CASES.c.id))


async def repeats_current_mark(
    session: AsyncSession,
    *,
    case_id: str,
    item_id: str,
    inspector_id: str,
    value: str,
    note: str,
    evidence_refs: Sequence[str],
) -> bool:
    """True when the inspector's latest verdict on the item is exactly this one."""
    latest = await session.scalar(
        select(VerdictRow)
        .where(
            VerdictRow.case_id == case_id,
            VerdictRow.item_id == item_id,
            VerdictRow.inspector_id == inspector_id,
        )
        .order_by(VerdictRow.id.desc())
        .limit(1)
    )
    return (
        latest is not None
        and latest.value == value
        and latest.note == note
        and list(latest.evidence_refs) == list(evidence_refs)
    )
