"""The supervision board, the applicant's rating (好差评), and follow-ups of bad ratings."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Path, Query

from server.auth.models import Role
from server.auth.principal import Principal
from server.cases.states import Label
from server.db import utcnow
from server.deps import (
    CaseApplicantDep,
    ContextDep,
    SessionDep,
    SettingsDep,
    VisibleCaseDep,
    require_roles,
)
from server.sla.service import load_calendar
from server.supervision import service
from server.supervision.board import Board
from server.supervision.feedback_router import router as feedback_router
from server.supervision.schemas import (
    AnswerIn,
    CloseIn,
    FollowUpOut,
    RatingIn,
    RatingOut,
    RatingStatus,
)
from server.timeinputs import BeijingDate

router = APIRouter(prefix="/api/v1", tags=["supervision"])
BoardReaderDep = Annotated[
    Principal, Depends(require_roles(Role.admin, Role.dispatcher, Role.head, Role.reviewer))
]
SupervisorDep = Annotated[Principal, Depends(require_roles(Role.admin, Role.dispatcher))]


@router.get("/board")
async def board(
    _: BoardReaderDep,
    session: SessionDep,
    ctx: ContextDep,
    since: Annotated[
        BeijingDate | None, Query(description="cases created on or after (local)")
    ] = None,
) -> Board:
    """Cases by state and card, overdue cases, elapsed working time, remote share, unassigned."""
    names = {m.code: Label(m.name, m.name_en) for m in ctx.catalogue.matters}
    return await service.build_board(
        session,
        now=utcnow(),
        calendar=await load_calendar(session),
        matter_names=names,
        since=since,
    )


@router.post("/cases/{case_id}/rating", status_code=201)
async def rate(
    body: RatingIn,
    view: VisibleCaseDep,
    applicant: CaseApplicantDep,
    session: SessionDep,
    settings: SettingsDep,
) -> RatingOut:
    """The applicant rates the closed case once (好差评); 1–2 opens a follow-up."""
    return await service.rate(
        session,
        applicant,
        view.case,
        score=body.score,
        reasons=body.reasons,
        comment=body.comment,
        settings=settings,
    )


@router.get("/cases/{case_id}/rating")
async def get_rating(view: VisibleCaseDep, session: SessionDep) -> RatingStatus:
    """The case's rating, if given, and whether it can be rated now."""
    return await service.rating_status(session, view.case)


@router.get("/follow-ups")
async def list_follow_ups(
    _: BoardReaderDep,
    session: SessionDep,
    status: Literal["open", "closed"] | None = None,
    limit: Annotated[int, Query(ge=1, le=service.FOLLOW_UP_LIMIT)] = service.FOLLOW_UP_LIMIT,
) -> list[FollowUpOut]:
    """Follow-ups of bad ratings, complaints and dissatisfied calls, the oldest first."""
    return await service.list_follow_ups(session, status=status, limit=limit)


@router.post("/follow-ups/{follow_up_id}/answer")
async def answer_follow_up(
    body: AnswerIn,
    supervisor: SupervisorDep,
    session: SessionDep,
    follow_up_id: Annotated[str, Path(max_length=64)],
) -> FollowUpOut:
    """Record the answer (整改反馈): what was done and by whom; needed before it can close."""
    return await service.answer_follow_up(
        session, supervisor.actor, follow_up_id, answer=body.answer, answered_by=body.answered_by
    )


@router.post("/follow-ups/{follow_up_id}/close")
async def close_follow_up(
    body: CloseIn,
    supervisor: SupervisorDep,
    session: SessionDep,
    follow_up_id: Annotated[str, Path(max_length=64)],
) -> FollowUpOut:
    """Close an answered follow-up with a note; only once."""
    return await service.close_follow_up(session, supervisor.actor, follow_up_id, note=body.note)


router.include_router(feedback_router)
