"""Supervision orders (督办单) and special procedures (特别程序): endpoints only."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Path, Query

from server.auth.models import Role
from server.auth.principal import Principal
from server.db import utcnow
from server.deps import SessionDep, SettingsDep, VisibleCaseDep, require_roles
from server.notifications.service import configured_channels
from server.oversight import orders, procedures
from server.oversight.schemas import (
    AnswerIn,
    DecisionIn,
    EndIn,
    OrderOut,
    ProcedureIn,
    ProcedureOut,
    ReasonIn,
)

router = APIRouter(prefix="/api/v1", tags=["supervision orders"])
OrderReaderDep = Annotated[
    Principal,
    Depends(require_roles(Role.head, Role.dispatcher, Role.admin, Role.inspector)),
]
HeadDep = Annotated[Principal, Depends(require_roles(*orders.HEAD_ROLES))]
InspectorDep = Annotated[Principal, Depends(require_roles(Role.inspector))]
StaffDep = Annotated[
    Principal,
    Depends(require_roles(Role.head, Role.dispatcher, Role.admin, Role.inspector)),
]
ProcedureReaderDep = Annotated[
    Principal, Depends(require_roles(Role.head, Role.dispatcher, Role.admin, Role.reviewer))
]
AnyStaffDep = Annotated[Principal, Depends(require_roles(*Role))]
OrderId = Annotated[str, Path(max_length=64)]
ProcedureId = Annotated[str, Path(max_length=64)]


@router.get("/supervision-orders")
async def list_orders(
    principal: OrderReaderDep,
    session: SessionDep,
    status: Literal["open", "closed"] | None = None,
    limit: Annotated[int, Query(ge=1, le=orders.ORDER_LIMIT)] = orders.ORDER_LIMIT,
) -> list[OrderOut]:
    """Supervision orders, the oldest first; an inspector sees those they answer for."""
    return await orders.list_orders(session, principal, status=status, limit=limit)


@router.get("/supervision-orders/{order_id}")
async def get_order(principal: OrderReaderDep, session: SessionDep, order_id: OrderId) -> OrderOut:
    return await orders.get_order(session, principal, order_id)


@router.post("/supervision-orders/{order_id}/reason")
async def record_reason(
    body: ReasonIn, principal: InspectorDep, session: SessionDep, order_id: OrderId
) -> OrderOut:
    """The case's lead inspector records why the case ran over (超期原因); once."""
    return await orders.record_reason(
        session, principal, order_id, reason=body.reason, now=utcnow()
    )


@router.post("/supervision-orders/{order_id}/answer")
async def answer_order(
    body: AnswerIn, principal: HeadDep, session: SessionDep, order_id: OrderId
) -> OrderOut:
    """The department head answers with the measures taken; the order is closed."""
    return await orders.answer(session, principal, order_id, measures=body.measures, now=utcnow())


@router.post("/cases/{case_id}/special-procedures", status_code=201)
async def request_procedure(
    body: ProcedureIn,
    view: VisibleCaseDep,
    principal: StaffDep,
    session: SessionDep,
    settings: SettingsDep,
) -> ProcedureOut:
    """Ask for an expert review, hearing or on-site survey; the named approver decides."""
    channels = configured_channels(settings)
    return await procedures.request(session, principal, view, body, channels=channels)


@router.get("/cases/{case_id}/special-procedures")
async def case_procedures(
    view: VisibleCaseDep, _: AnyStaffDep, session: SessionDep
) -> list[ProcedureOut]:
    """The case's special procedures (staff only), the oldest first."""
    return await procedures.list_procedures(session, case_id=view.case.id)


@router.get("/special-procedures")
async def list_procedures(
    _: ProcedureReaderDep,
    session: SessionDep,
    status: Literal["requested", "active", "declined", "ended"] | None = None,
) -> list[ProcedureOut]:
    """Special procedures, the oldest first."""
    return await procedures.list_procedures(session, status=status)


@router.post("/special-procedures/{procedure_id}/approve")
async def approve_procedure(
    body: DecisionIn, principal: HeadDep, session: SessionDep, procedure_id: ProcedureId
) -> ProcedureOut:
    """The named approver approves: the case's SLA clock is suspended with the reason."""
    return await procedures.decide(
        session, principal, procedure_id, approve=True, note=body.note, now=utcnow()
    )


@router.post("/special-procedures/{procedure_id}/decline")
async def decline_procedure(
    body: DecisionIn, principal: HeadDep, session: SessionDep, procedure_id: ProcedureId
) -> ProcedureOut:
    return await procedures.decide(
        session, principal, procedure_id, approve=False, note=body.note, now=utcnow()
    )


@router.post("/special-procedures/{procedure_id}/end")
async def end_procedure(
    body: EndIn, principal: StaffDep, session: SessionDep, procedure_id: ProcedureId
) -> ProcedureOut:
    """The procedure is over: the SLA clock runs again."""
    return await procedures.end(
        session, principal, procedure_id, outcome=body.outcome, now=utcnow()
    )
