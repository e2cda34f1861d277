"""The verdict and ruling rows of a case: the queries the inspection and the opinion's evidence
record share."""

from __future__ import annotations

from collections.abc import Collection

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from server.inspection.models import ResolutionRow, VerdictRow


async def verdicts(
    session: AsyncSession, case_id: str, *, inspectors: Collection[str] | None = None
) -> list[VerdictRow]:
    """The case's verdicts in the order given (of ``inspectors`` only, when named)."""
    query = select(VerdictRow).where(VerdictRow.case_id == case_id).order_by(VerdictRow.id)
    if inspectors is not None:
        query = query.where(VerdictRow.inspector_id.in_(inspectors))
    return list(await session.scalars(query))


async def resolutions(session: AsyncSession, case_id: str) -> list[ResolutionRow]:
    """The case's rulings on disagreements, in the order given."""
    return list(
        await session.scalars(
            select(ResolutionRow).where(ResolutionRow.case_id == case_id).order_by(ResolutionRow.id)
        )
    )


async def latest_verdict(
    session: AsyncSession, case_id: str, item_id: str, inspector_id: str
) -> VerdictRow | None:
    """An inspector's current verdict on one item."""
    return await session.scalar(
        select(VerdictRow)
        .where(
            VerdictRow.case_id == case_id,
            VerdictRow.item_id == item_id,
            VerdictRow.inspector_id == inspector_id,
        )
        .order_by(VerdictRow.id.desc())
        .limit(1)
    )
