"""The inspector pool's queries: inspectors with their profiles, current loads, declared
conflicts, a case's current pair and its draws."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from server.assignment.models import Draw, InspectorConflict, InspectorProfile
from server.auth.models import Role, Staff
from server.cases.models import Case, CaseInspector
from server.cases.states import TERMINAL_STATES, CaseState


async def inspectors_with_profiles(
    session: AsyncSession,
) -> list[tuple[Staff, InspectorProfile | None]]:
    """Every inspector account with its profile (None before one was set)."""
    rows = await session.execute(
        select(Staff, InspectorProfile)
        .outerjoin(InspectorProfile, InspectorProfile.staff_id == Staff.id)
        .where(Staff.role == Role.inspector)
    )
    return [(staff, profile) for staff, profile in rows]


async def inspectors_by_id(session: AsyncSession) -> dict[str, Staff]:
    rows = await session.scalars(select(Staff).where(Staff.role == Role.inspector))
    return {s.id: s for s in rows}


async def open_case_counts(session: AsyncSession) -> dict[str, int]:
    """Current load per inspector: assignments on cases that are not finished."""
    finished = [s.value for s in TERMINAL_STATES | {CaseState.issued}]
    rows = await session.execute(
        select(CaseInspector.staff_id, func.count())
        .join(Case, Case.id == CaseInspector.case_id)
        .where(CaseInspector.released_at.is_(None), Case.state.not_in(finished))
        .group_by(CaseInspector.staff_id)
    )
    return dict(rows.all())


async def conflicts_by_inspector(session: AsyncSession) -> dict[str, list[InspectorConflict]]:
    """Every declared conflict of interest, by inspector."""
    found: dict[str, list[InspectorConflict]] = {}
    for conflict in await session.scalars(select(InspectorConflict)):
        found.setdefault(conflict.staff_id, []).append(conflict)
    return found


async def current_pair(session: AsyncSession, case_id: str) -> list[CaseInspector]:
    """The case's assignments not yet released (the lead and the second, once drawn)."""
    rows = await session.scalars(
        select(CaseInspector).where(
            CaseInspector.case_id == case_id, CaseInspector.released_at.is_(None)
        )
    )
    return list(rows)


async def draws_of(session: AsyncSession, case_id: str) -> list[Draw]:
    """Every draw and replacement of the case, newest first."""
    rows = await session.scalars(
        select(Draw).where(Draw.case_id == case_id).order_by(Draw.created_at.desc())
    )
    return list(rows)
