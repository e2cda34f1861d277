"""Queries of a case's evidence rows in the orders their readers rely on."""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from server.evidence.models import Evidence


async def in_capture_order(
    session: AsyncSession, case_id: str, kinds: Collection[str]
) -> list[Evidence]:
    """The case's evidence of ``kinds``, oldest capture first."""
    rows = await session.scalars(
        select(Evidence)
        .where(Evidence.case_id == case_id, Evidence.kind.in_(kinds))
        .order_by(Evidence.captured_at, Evidence.id)
    )
    return list(rows)


async def in_id_order(
    session: AsyncSession, case_id: str, kinds: Collection[str]
) -> list[Evidence]:
    """The case's evidence of ``kinds`` by id (the evidence root's stable order)."""
    rows = await session.scalars(
        select(Evidence)
        .where(Evidence.case_id == case_id, Evidence.kind.in_(kinds))
        .order_by(Evidence.id)
    )
    return list(rows)


async def photos_since(session: AsyncSession, case_id: str, since: datetime) -> list[Evidence]:
    """The case's photos stored since ``since``, oldest capture first."""
    rows = await session.scalars(
        select(Evidence)
        .where(
            Evidence.case_id == case_id,
            Evidence.kind == "photo",
            Evidence.created_at >= since,
        )
        .order_by(Evidence.captured_at, Evidence.id)
    )
    return list(rows)
