"""The licensing decision on an issued case, which closes it (办结)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Response

from server.auth.principal import Principal
from server.cases.states import CaseAction
from server.closure import service
from server.closure.schemas import DecisionIn, DecisionOut, decision_out
from server.deps import SessionDep, SettingsDep, VisibleCaseDep, may_take

router = APIRouter(prefix="/api/v1/cases/{case_id}", tags=["closure"])
# Window staff, or the approval system with its own key (scope decisions:write).
RecorderDep = Annotated[Principal, Depends(may_take(CaseAction.close))]


@router.post("/decision", status_code=201)
async def record_decision(
    body: DecisionIn,
    view: VisibleCaseDep,
    recorder: RecorderDep,
    session: SessionDep,
    settings: SettingsDep,
    response: Response,
) -> DecisionOut:
    """Record the licensing decision taken on the issued opinion; this closes the case (办结)
    and invites the applicant to rate. The same decision sent again returns it (200)."""
    decision, created = await service.record(session, recorder, view.case, body, settings=settings)
    if not created:
        response.status_code = 200
    return decision_out(decision, view.case.state)


@router.get("/decision")
async def get_decision(view: VisibleCaseDep, session: SessionDep) -> DecisionOut:
    """The case's licensing decision (404 until one is recorded)."""
    return decision_out(await service.require_decision(session, view.case.id), view.case.state)
