"""Appointment endpoints for inspectors (offer slots) and the applicant (pick, ask to move)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends

from server.appointments import ending, resend, service
from server.appointments.schemas import (
    AcceptIn,
    AppointmentOut,
    RescheduleIn,
    SlotOut,
    SlotsIn,
    WithdrawIn,
    slot_out,
)
from server.auth.models import Role
from server.auth.principal import Principal
from server.cases.permissions import APPLICANT_SIDE, BUREAU_SIDE, require_party
from server.cases.schemas import CaseOut, LinkOut, ReasonIn, case_out, link_out
from server.cases.states import CaseAction, CaseState
from server.db import utcnow
from server.deps import (
    ContextDep,
    PrincipalDep,
    SessionDep,
    VisibleCaseDep,
    may_take,
    require_roles,
)

router = APIRouter(prefix="/api/v1/cases/{case_id}", tags=["appointments"])
LinkSenderDep = Annotated[Principal, Depends(require_roles(Role.admin, Role.dispatcher))]
CancelDep = Annotated[Principal, Depends(may_take(CaseAction.cancel))]
WithdrawerDep = Annotated[Principal, Depends(may_take(CaseAction.withdraw))]
OffererDep = Annotated[Principal, Depends(may_take(CaseAction.schedule, side=BUREAU_SIDE))]
BookerDep = Annotated[Principal, Depends(may_take(CaseAction.schedule, side=APPLICANT_SIDE))]


@router.post("/cancel", tags=["cases"])
async def cancel(
    body: ReasonIn, view: VisibleCaseDep, principal: CancelDep, session: SessionDep
) -> CaseOut:
    """Cancel the case with a reason (dispatcher or admin); its open slots and appointment end."""
    await ending.cancel_case(session, principal.actor, view.case, body.reason)
    return case_out(view, principal)


@router.post("/withdraw", tags=["cases"])
async def withdraw(
    body: WithdrawIn,
    view: VisibleCaseDep,
    applicant: WithdrawerDep,
    session: SessionDep,
    ctx: ContextDep,
) -> CaseOut:
    """The applicant withdraws the application (撤回申请) with a reason, before the opinion is
    issued: the case ends, its slots and appointment end and the staff are told."""
    await ending.withdraw_case(session, ctx.settings, applicant.actor, view.case, body.reason)
    return case_out(view, applicant)


@router.post("/links/resend", status_code=201, tags=["cases"])
async def resend_link(
    view: VisibleCaseDep, principal: LinkSenderDep, session: SessionDep, ctx: ContextDep
) -> LinkOut:
    """Stop the applicant's links and send a fresh one (dispatcher or admin)."""
    issued = await resend.resend_link(
        session, ctx.settings, principal.actor, view.case, access_ended=ctx.access_ended
    )
    return link_out(issued)


@router.get("/appointment")
async def get_appointment(view: VisibleCaseDep, session: SessionDep) -> AppointmentOut:
    """Open slots to choose from and the agreed appointment, if any."""
    now = utcnow()
    slots = await service.open_slots(session, view.case.id, now)
    current = await service.current_appointment(session, view.case.id)
    return AppointmentOut(
        open_slots=[SlotOut(id=s.id, starts_at=s.starts_at, ends_at=s.ends_at) for s in slots],
        appointment=SlotOut(id=current.id, starts_at=current.starts_at, ends_at=current.ends_at)
        if current
        else None,
        state=view.case.state,
    )


@router.post("/slots", status_code=201)
async def propose(
    body: SlotsIn,
    view: VisibleCaseDep,
    inspector: OffererDep,
    session: SessionDep,
    ctx: ContextDep,
) -> list[SlotOut]:
    """Offer the applicant times for the video inspection."""
    rows, late = await service.propose_slots(
        session,
        ctx.settings,
        inspector.actor,
        view.case,
        [(s.starts_at, s.ends_at) for s in body.slots],
        utcnow(),
    )
    return [slot_out(r.id, r.starts_at, r.ends_at, late) for r in rows]


@router.post("/appointment")
async def accept(
    body: AcceptIn,
    view: VisibleCaseDep,
    applicant: BookerDep,
    session: SessionDep,
    ctx: ContextDep,
) -> SlotOut:
    """The applicant accepts one of the offered slots."""
    appointment, late = await service.accept_slot(
        session, ctx.settings, applicant.actor, view.case, body.slot_id, utcnow()
    )
    return slot_out(appointment.id, appointment.starts_at, appointment.ends_at, late)


@router.post("/appointment/reschedule")
async def reschedule(
    body: RescheduleIn, view: VisibleCaseDep, principal: PrincipalDep, session: SessionDep
) -> dict[str, CaseState]:
    """Move the appointment: the applicant asks (clock pauses), or the bureau re-offers slots."""
    by_applicant = principal.kind == "applicant"
    action = CaseAction.request_reschedule if by_applicant else CaseAction.reschedule
    require_party(principal, view, action)
    state = await service.reschedule(
        session, principal.actor, view.case, by_applicant=by_applicant, reason=body.reason
    )
    return {"state": state}
