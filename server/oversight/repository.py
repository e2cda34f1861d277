"""Queries of supervision orders and special procedures of more than a line."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from server.auth.models import Staff
from server.cases.models import Case
from server.oversight.models import SpecialProcedure, SupervisionOrder

OPEN_PROCEDURES = ("requested", "active")
BOARD_LIMIT = 200  # cases listed on the board


async def orders(
    session: AsyncSession, *, status: str | None, responsible: str | None, limit: int
) -> list[tuple[SupervisionOrder, str, str]]:
    """Orders with their case number and responsible person's name, the oldest first."""
    query = (
        select(SupervisionOrder, Case.number, func.coalesce(Staff.display_name, ""))
        .join(Case, Case.id == SupervisionOrder.case_id)
        .outerjoin(Staff, Staff.id == SupervisionOrder.responsible_id)
        .order_by(SupervisionOrder.opened_at, SupervisionOrder.id)
        .limit(limit)
    )
    if status is not None:
        query = query.where(SupervisionOrder.status == status)
    if responsible is not None:
        query = query.where(SupervisionOrder.responsible_id == responsible)
    return [(r[0], r[1], r[2]) for r in await session.execute(query)]


async def order_labels(session: AsyncSession, order: SupervisionOrder) -> tuple[str, str]:
    """The order's case number and the responsible person's name."""
    number = await session.scalar(select(Case.number).where(Case.id == order.case_id))
    name = await session.scalar(select(Staff.display_name).where(Staff.id == order.responsible_id))
    return number or "", name or ""


async def due_for_escalation(session: AsyncSession, now: datetime) -> list[SupervisionOrder]:
    query = (
        select(SupervisionOrder)
        .where(
            SupervisionOrder.status == "open",
            SupervisionOrder.next_escalation_at <= now,
        )
        .order_by(SupervisionOrder.next_escalation_at)
    )
    return list((await session.scalars(query)).all())


async def procedures(
    session: AsyncSession, *, status: str | None, case_id: str | None, limit: int
) -> list[tuple[SpecialProcedure, str]]:
    """Special procedures with their case number, the oldest first."""
    query = (
        select(SpecialProcedure, Case.number)
        .join(Case, Case.id == SpecialProcedure.case_id)
        .order_by(SpecialProcedure.created_at, SpecialProcedure.id)
        .limit(limit)
    )
    if status is not None:
        query = query.where(SpecialProcedure.status == status)
    if case_id is not None:
        query = query.where(SpecialProcedure.case_id == case_id)
    return [(r[0], r[1]) for r in await session.execute(query)]


async def open_procedure(session: AsyncSession, case_id: str) -> SpecialProcedure | None:
    query = select(SpecialProcedure).where(
        SpecialProcedure.case_id == case_id, SpecialProcedure.status.in_(OPEN_PROCEDURES)
    )
    found: SpecialProcedure | None = await session.scalar(query)
    return found


async def active_procedures(
    session: AsyncSession, limit: int = BOARD_LIMIT
) -> tuple[int, list[Any]]:
    """How many cases are in a special procedure now, and the oldest ``limit`` of them."""
    where = SpecialProcedure.status == "active"
    total = await session.scalar(select(func.count()).select_from(SpecialProcedure).where(where))
    rows = await session.execute(
        select(
            SpecialProcedure.case_id,
            Case.number,
            SpecialProcedure.kind,
            SpecialProcedure.reason,
            SpecialProcedure.started_at,
        )
        .join(Case, Case.id == SpecialProcedure.case_id)
        .where(where)
        .order_by(SpecialProcedure.started_at, SpecialProcedure.id)
        .limit(limit)
    )
    return int(total or 0), list(rows.all())
