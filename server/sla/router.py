"""SLA clocks of cases and the admins' working-day calendar (节假日调整)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query

from server.auth.models import Role
from server.auth.principal import Principal
from server.db import utcnow
from server.deps import SessionDep, VisibleCaseDep, require_roles
from server.sla import overrides, service
from server.sla.policy import session_policy
from server.sla.schemas import OverrideIn, OverrideOut, OverrideSaved
from server.sla.service import ClockView
from server.timeinputs import EARLIEST, LATEST, BeijingDate

router = APIRouter(prefix="/api/v1", tags=["sla"])
CalendarReaderDep = Annotated[Principal, Depends(require_roles(Role.admin, Role.dispatcher))]
AdminDep = Annotated[Principal, Depends(require_roles(Role.admin))]


@router.get("/cases/{case_id}/clock")
async def get_clock(view: VisibleCaseDep, session: SessionDep) -> ClockView:
    """The case's SLA clock: due time (UTC and Asia/Shanghai), share used, card."""
    policy = session_policy(session)
    return await service.clock_view(session, view.case.id, utcnow(), policy=policy)


@router.get("/calendar/overrides")
async def list_overrides(
    _: CalendarReaderDep,
    session: SessionDep,
    year: Annotated[int | None, Query(ge=EARLIEST.year, le=LATEST.year)] = None,
) -> list[OverrideOut]:
    """Admins' calendar overrides, by date."""
    rows = await overrides.list_overrides(session, year=year)
    return [OverrideOut.model_validate(r) for r in rows]


@router.put("/calendar/overrides/{date}")
async def set_override(
    date: BeijingDate,
    body: OverrideIn,
    principal: AdminDep,
    session: SessionDep,
) -> OverrideSaved:
    """Declare a date a working day or a day off; running clocks' due times follow."""
    row, moved = await overrides.set_override(
        session,
        principal.actor,
        date,
        is_workday=body.is_workday,
        note=body.note,
        policy=session_policy(session),
    )
    out = OverrideOut.model_validate(row)
    return OverrideSaved(**out.model_dump(), clocks_refreshed=moved)


@router.delete("/calendar/overrides/{date}", status_code=204)
async def remove_override(date: BeijingDate, principal: AdminDep, session: SessionDep) -> None:
    """Remove an override; the official calendar applies to that date again."""
    await overrides.remove_override(session, principal.actor, date, policy=session_policy(session))
