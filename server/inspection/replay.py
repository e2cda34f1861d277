"""A retried verdict (a phone on a bad network, the offline console's outbox) is a replay, not
a new mark: the same value, note and evidence as the inspector's current mark on that item
changes nothing and gets the same answer (reliability #14)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import Table, update
from sqlalchemy.ext.asyncio import AsyncSession

from server.cases.models import Case
from server.inspection import repository

CASES: Table = Case.__table__  # type: ignore[assignment]


async def lock_case(session: AsyncSession, case_id: str) -> None:
    """Take the case row's write lock (a no-op update) so concurrent marks on the case run one
    after another: PostgreSQL locks the row, SQLite takes its database write lock."""
    await session.execute(update(CASES).where(CASES.c.id == case_id).values(id=CASES.c.id))


@dataclass(frozen=True, slots=True)
class Mark:
    """A verdict as asked for."""

    case_id: str
    item_id: str
    inspector_id: str
    value: str
    note: str
    evidence_refs: Sequence[str]


async def is_retry(session: AsyncSession, mark: Mark) -> bool:
    """True when the inspector's current verdict on the item is exactly ``mark``; the case is
    locked first, so a concurrent retry waits and then sees the first one's row."""
    await lock_case(session, mark.case_id)
    latest = await repository.latest_verdict(session, mark.case_id, mark.item_id, mark.inspector_id)
    return (
        latest is not None
        and latest.value == mark.value
        and latest.note == mark.note
        and list(latest.evidence_refs) == list(mark.evidence_refs)
    )
