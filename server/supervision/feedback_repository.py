"""Queries of complaints, phone follow-up calls and the applicant's view."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection
from datetime import datetime
from typing import NamedTuple

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from server.auth.models import Staff
from server.cases.models import Case
from server.cases.states import CaseState
from server.closure.models import CaseDecision
from server.supervision.models import Complaint, FollowUp, PhoneCall


class ClosedCase(NamedTuple):
    case_id: str
    number: str
    applicant_name: str
    applicant_phone: str
    closed_at: datetime
    outcome: str


async def closed_cases(session: AsyncSession) -> list[ClosedCase]:
    """Every closed case with its decision, the earliest closed first."""
    query = (
        select(
            Case.id,
            Case.number,
            Case.applicant_name,
            Case.applicant_phone,
            CaseDecision.recorded_at,
            CaseDecision.outcome,
        )
        .join(CaseDecision, CaseDecision.case_id == Case.id)
        .where(Case.state == CaseState.closed.value)
        .order_by(CaseDecision.recorded_at, Case.number)
    )
    return [ClosedCase(*row) for row in await session.execute(query)]


async def calls_of(
    session: AsyncSession, case_ids: Collection[str]
) -> dict[str, list[tuple[PhoneCall, str | None]]]:
    """The calls of each case with their follow-up's id, oldest first."""
    found: dict[str, list[tuple[PhoneCall, str | None]]] = defaultdict(list)
    if not case_ids:
        return found
    query = (
        select(PhoneCall, FollowUp.id)
        .outerjoin(FollowUp, FollowUp.call_id == PhoneCall.id)
        .where(PhoneCall.case_id.in_(list(case_ids)))
        .order_by(PhoneCall.called_at, PhoneCall.id)
    )
    for call, follow_up_id in await session.execute(query):
        found[call.case_id].append((call, follow_up_id))
    return found


async def was_reached(session: AsyncSession, case_id: str) -> datetime | None:
    """When the applicant was reached on a follow-up call (None when never)."""
    query = select(func.min(PhoneCall.called_at)).where(
        PhoneCall.case_id == case_id, PhoneCall.reached.is_(True)
    )
    found: datetime | None = await session.scalar(query)
    return found


async def complaint_count(session: AsyncSession, case_id: str) -> int:
    query = select(func.count()).select_from(Complaint).where(Complaint.case_id == case_id)
    return int(await session.scalar(query) or 0)


async def complaints_of(
    session: AsyncSession, case_id: str
) -> list[tuple[Complaint, str | None, str | None]]:
    """The case's complaints, oldest first, with their follow-up's id and answer."""
    query = (
        select(Complaint, FollowUp.id, FollowUp.answer)
        .outerjoin(FollowUp, FollowUp.complaint_id == Complaint.id)
        .where(Complaint.case_id == case_id)
        .order_by(Complaint.created_at, Complaint.id)
    )
    return [(c, f, a) for c, f, a in await session.execute(query)]


async def staff_by_id(session: AsyncSession, ids: Collection[str]) -> dict[str, Staff]:
    if not ids:
        return {}
    rows = await session.scalars(select(Staff).where(Staff.id.in_(list(ids))))
    return {s.id: s for s in rows}
