"""The rectification rounds' queries: a case's rounds and their items, and the latest round in
a given state, locked for the change about to be made."""

from __future__ import annotations

from collections.abc import Collection

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from server.rectification.models import RectificationItem, RectificationRound


async def rounds(session: AsyncSession, case_id: str) -> list[RectificationRound]:
    """Every round of the case, oldest first."""
    return list(
        await session.scalars(
            select(RectificationRound)
            .where(RectificationRound.case_id == case_id)
            .order_by(RectificationRound.number)
        )
    )


async def items_of(session: AsyncSession, round_ids: Collection[str]) -> list[RectificationItem]:
    """The items of these rounds, by item id."""
    return list(
        await session.scalars(
            select(RectificationItem)
            .where(RectificationItem.round_id.in_(list(round_ids)))
            .order_by(RectificationItem.item_id)
        )
    )


async def latest_round_locked(
    session: AsyncSession, case_id: str, status: str
) -> RectificationRound | None:
    """The case's newest round in ``status``, row-locked and read afresh."""
    query = (
        select(RectificationRound)
        .where(RectificationRound.case_id == case_id, RectificationRound.status == status)
        .order_by(RectificationRound.number.desc())
        .limit(1)
        .with_for_update()
    )
    return await session.scalar(query.execution_options(populate_existing=True))


async def items_of_round(session: AsyncSession, round_id: str) -> list[RectificationItem]:
    """One round's items by item id, read afresh."""
    return list(
        await session.scalars(
            select(RectificationItem)
            .where(RectificationItem.round_id == round_id)
            .order_by(RectificationItem.item_id)
            .execution_options(populate_existing=True)
        )
    )
