"""The applicant's view of their case, complaints (投诉) and phone follow-up (一事一评回访)."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query

from server.auth.models import Role
from server.auth.principal import Principal
from server.deps import (
    CaseApplicantDep,
    PrincipalDep,
    SessionDep,
    SettingsDep,
    VisibleCaseDep,
    require_roles,
)
from server.supervision import feedback
from server.supervision.applicant_view import applicant_view
from server.supervision.feedback_schemas import (
    ApplicantView,
    ComplaintIn,
    ComplaintOut,
    PhoneCallIn,
    PhoneCallOut,
    PhoneFollowUpList,
)

router = APIRouter()
CallerDep = Annotated[Principal, Depends(require_roles(Role.admin, Role.dispatcher))]


@router.get("/cases/{case_id}/progress")
async def get_progress(
    view: VisibleCaseDep, principal: PrincipalDep, session: SessionDep, settings: SettingsDep
) -> ApplicantView:
    """What the applicant sees: progress in words, the inspectors and whom to call, after
    closure the result, the opinion's download and whether they can rate, and the actions the
    caller may take now (book, reschedule, withdraw, rate…)."""
    return await applicant_view(session, view, settings, principal)


@router.post("/cases/{case_id}/complaints", status_code=201)
async def file_complaint(
    body: ComplaintIn, view: VisibleCaseDep, applicant: CaseApplicantDep, session: SessionDep
) -> ComplaintOut:
    """The applicant files a complaint (投诉) at any stage; it opens a follow-up."""
    return await feedback.file_complaint(session, applicant, view.case, text=body.text)


@router.get("/cases/{case_id}/complaints")
async def list_complaints(view: VisibleCaseDep, session: SessionDep) -> list[ComplaintOut]:
    """The case's complaints and what the bureau did about each."""
    return await feedback.list_complaints(session, view.case)


@router.get("/phone-follow-ups")
async def phone_follow_ups(
    _: CallerDep,
    session: SessionDep,
    settings: SettingsDep,
    status: Annotated[Literal["to_call", "not_reached", "done"] | None, Query()] = None,
) -> PhoneFollowUpList:
    """Closed cases to call back (一事一评): all, or the configured share, the same each time."""
    return await feedback.phone_list(session, settings, status=status)


@router.post("/cases/{case_id}/phone-follow-up", status_code=201)
async def record_call(
    body: PhoneCallIn, view: VisibleCaseDep, caller: CallerDep, session: SessionDep
) -> PhoneCallOut:
    """Record a follow-up call's outcome; a dissatisfied applicant opens a follow-up."""
    return await feedback.record_call(session, caller.actor, view.case, body)
