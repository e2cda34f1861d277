"""Rectification endpoints (补齐补正): request, see the rounds, submit, review item by item."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path

from server.auth.principal import Principal
from server.cases.states import CaseAction
from server.db import utcnow
from server.deps import ContextDep, PrincipalDep, SessionDep, VisibleCaseDep, may_take
from server.platform.news import RectificationNews, announce_after_commit
from server.rectification import service
from server.rectification.schemas import RequestIn, ReviewIn, RoundOut, round_out
from server.rectification.service import ItemRequest

router = APIRouter(prefix="/api/v1/cases/{case_id}/rectification", tags=["rectification"])

ItemPath = Annotated[str, Path(min_length=1, max_length=16)]
RequesterDep = Annotated[Principal, Depends(may_take(CaseAction.request_rectification))]
SubmitterDep = Annotated[Principal, Depends(may_take(CaseAction.submit_rectification))]
# Whoever may accept a rectification may reject it too (the table gives both the same party).
ReviewerDep = Annotated[Principal, Depends(may_take(CaseAction.verify_rectification))]


def _is_applicant(principal: Principal) -> bool:
    return principal.kind == "applicant"


@router.post("", status_code=201)
async def request_rectification(
    body: RequestIn,
    inspector: RequesterDep,
    view: VisibleCaseDep,
    session: SessionDep,
    ctx: ContextDep,
) -> RoundOut:
    """Ask the applicant to rectify failed, rectifiable items by a deadline (补齐补正); the
    phone in the call sees it at once, and with ``end_call`` the call ends for everyone."""
    opened = await service.request(
        session,
        principal=inspector,
        view=view,
        catalogue=ctx.catalogue,
        settings=ctx.settings,
        deadline=body.deadline,
        items=[ItemRequest(i.item_id, i.instruction) for i in body.items],
        now=utcnow(),
    )
    items = tuple(i.item_id for i in body.items)
    news = RectificationNews(view.case.id, items, body.deadline, body.end_call)
    announce_after_commit(session, ctx.room_news, news)  # the phone shows it at once
    return round_out(opened, staff=True)


@router.get("")
async def list_rounds(
    principal: PrincipalDep, view: VisibleCaseDep, session: SessionDep, ctx: ContextDep
) -> list[RoundOut]:
    """Every round of the case, oldest first; the applicant also gets the failure photos."""
    rounds = await service.rounds_of(session, view.case.id)
    applicant = _is_applicant(principal)
    urls = (
        await service.failure_photo_urls(session, ctx.store, principal, rounds) if applicant else {}
    )
    return [round_out(r, staff=not applicant, urls=urls) for r in rounds]


@router.post("/submit")
async def submit_rectification(
    view: VisibleCaseDep, applicant: SubmitterDep, session: SessionDep, ctx: ContextDep
) -> RoundOut:
    """The applicant hands in the photos of every item; the re-inspection clock starts and the
    inspectors are told."""
    submitted = await service.submit(
        session,
        principal=applicant,
        view=view,
        settings=ctx.settings,
        now=utcnow(),
    )
    return round_out(submitted, staff=False)


@router.post("/items/{item_id}/review")
async def review_item(
    item_id: ItemPath,
    body: ReviewIn,
    inspector: ReviewerDep,
    view: VisibleCaseDep,
    session: SessionDep,
    ctx: ContextDep,
) -> RoundOut:
    """Accept or reject one item's rectification; both inspectors review every item."""
    reviewed = await service.review(
        session,
        principal=inspector,
        view=view,
        settings=ctx.settings,
        item_id=item_id,
        accepted=body.accepted,
        reason=body.reason,
        now=utcnow(),
    )
    return round_out(reviewed, staff=True)
