"""The rectification deadline (补正期限), the scheduler's job: expire overdue rounds.

A round whose deadline passes while still open is expired and its case concluded; the opinion
then records the failed items. Each round is claimed with a conditional update, so two
processes never expire the same round twice.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.engine import CursorResult
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from server.audit.service import Actor
from server.cases.models import Case
from server.cases.states import CaseAction, CaseState
from server.cases.workflow import transition
from server.errors import AppError
from server.logs import get_logger
from server.rectification.models import RectificationRound

log = get_logger(__name__)
EXPIRY = Actor.system("rectification-deadline")


async def expire_overdue(sessionmaker: async_sessionmaker[AsyncSession], now: datetime) -> int:
    """Conclude cases whose open round's deadline has passed; returns how many were expired."""
    async with sessionmaker() as session:
        due = list(
            await session.scalars(
                select(RectificationRound.id).where(
                    RectificationRound.status == "open", RectificationRound.deadline <= now
                )
            )
        )
    expired = 0
    for round_id in due:
        try:
            expired += await _expire_one(sessionmaker, round_id, now)
        except AppError:  # one case's trouble must not stop the others; retried next run
            log.exception("rectification.expire_failed", round_id=round_id)
    return expired


async def _expire_one(
    sessionmaker: async_sessionmaker[AsyncSession], round_id: str, now: datetime
) -> int:
    async with sessionmaker() as session:
        claimed = await session.execute(
            update(RectificationRound)
            .where(RectificationRound.id == round_id, RectificationRound.status == "open")
            .values(status="expired", decided_at=now)
            .execution_options(synchronize_session=False)
        )
        assert isinstance(claimed, CursorResult)
        if claimed.rowcount != 1:
            return 0  # submitted meanwhile, or another process expired it
        row = await session.get(RectificationRound, round_id)
        assert row is not None
        case = await session.get(Case, row.case_id)
        if case is not None and case.state == CaseState.rectification_requested.value:
            await transition(
                session,
                EXPIRY,
                case,
                CaseAction.conclude,
                reason="补齐补正期限已过 / rectification deadline passed",
                detail={"round": row.number, "deadline": row.deadline.isoformat()},
                now=now,
            )
        await session.commit()
    return 1
