"""The opinion domain's queries of more than a line: the window staff's list and the look-up
by verification code (``records`` finds a case's current version; the evidence rows an
opinion cites come from ``server.evidence.repository``)."""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from server.cases.models import Case
from server.opinions.models import Opinion

ISSUED_LIST_LIMIT = 500


async def with_status(
    session: AsyncSession, *, status: str, since: datetime | None
) -> list[tuple[Opinion, Case]]:
    """Opinions of one status with their cases, newest issue first (capped)."""
    query = (
        select(Opinion, Case)
        .join(Case, Case.id == Opinion.case_id)
        .where(Opinion.status == status)
        .order_by(Opinion.issued_at.desc(), Opinion.id)
        .limit(ISSUED_LIST_LIMIT)
    )
    if since is not None:
        query = query.where(Opinion.issued_at >= since)
    return [(row[0], row[1]) for row in await session.execute(query)]


async def by_verification_code(
    session: AsyncSession, code: str, statuses: Collection[str]
) -> Opinion | None:
    return await session.scalar(
        select(Opinion).where(Opinion.verification_code == code, Opinion.status.in_(statuses))
    )
