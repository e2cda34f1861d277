"""The opinion domain's queries of more than a line: the window staff's list, the look-up by
verification code, and the case's evidence rows the opinion and its evidence root cite.
(``records`` finds a case's current version.)"""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from server.cases.models import Case
from server.evidence.models import Evidence
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


async def evidence_in_capture_order(
    session: AsyncSession, case_id: str, kinds: Collection[str]
) -> list[Evidence]:
    """The case's evidence of ``kinds``, oldest capture first."""
    rows = await session.scalars(
        select(Evidence)
        .where(Evidence.case_id == case_id, Evidence.kind.in_(kinds))
        .order_by(Evidence.captured_at, Evidence.id)
    )
    return list(rows)


async def evidence_in_id_order(
    session: AsyncSession, case_id: str, kinds: Collection[str]
) -> list[Evidence]:
    """The case's evidence of ``kinds`` by id (the evidence root's stable order)."""
    rows = await session.scalars(
        select(Evidence)
        .where(Evidence.case_id == case_id, Evidence.kind.in_(kinds))
        .order_by(Evidence.id)
    )
    return list(rows)
