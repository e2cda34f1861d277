"""Rectification endpoints (补齐补正): request, see the rounds, submit, review item by item."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Path
from pydantic import BaseModel, ConfigDict, Field

from server.auth.principal import Principal
from server.db import utcnow
from server.deps import (
    CaseApplicantDep,
    CaseInspectorDep,
    ContextDep,
    PrincipalDep,
    SessionDep,
    VisibleCaseDep,
)
from server.platform.time import CHINA_TZ
from server.rectification import service
from server.rectification.service import ItemRequest, Round
from server.timeinputs import BeijingDateTime

router = APIRouter(prefix="/api/v1/cases/{case_id}/rectification", tags=["rectification"])

ItemPath = Annotated[str, Path(min_length=1, max_length=16)]


class ItemIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    item_id: str = Field(min_length=1, max_length=16)
    instruction: str = Field(min_length=1, max_length=2000)


class RequestIn(BaseModel):
    """The items to put right, each with what to do, and the deadline (no offset: Beijing time)."""

    model_config = ConfigDict(extra="forbid")

    deadline: BeijingDateTime
    items: list[ItemIn] = Field(min_length=1, max_length=100)


class ReviewIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    accepted: bool
    reason: str = Field(default="", max_length=2000)


class ReviewOut(BaseModel):
    by: str | None  # staff id; hidden from the applicant
    accepted: bool
    reason: str
    at: datetime


class ItemOut(BaseModel):
    item_id: str
    instruction: str
    failure_evidence_ids: list[str]
    failure_photo_urls: dict[str, str]  # evidence id → display URL (applicant only)
    photo_evidence_ids: list[str]
    reviews: list[ReviewOut]


class RoundOut(BaseModel):
    id: str
    number: int
    status: str
    requested_by: str
    requested_at: datetime
    deadline: datetime
    deadline_local: datetime  # Asia/Shanghai
    submitted_at: datetime | None
    decided_at: datetime | None
    items: list[ItemOut]


def _review(by: str, entry: dict[str, Any], *, staff: bool) -> ReviewOut:
    return ReviewOut(
        by=by if staff else None,
        accepted=bool(entry.get("accepted")),
        reason=str(entry.get("reason", "")),
        at=datetime.fromisoformat(str(entry["at"])),
    )


def round_out(r: Round, *, staff: bool, urls: dict[str, str] | None = None) -> RoundOut:
    urls = urls or {}
    return RoundOut(
        id=r.round.id,
        number=r.round.number,
        status=r.round.status,
        requested_by=r.round.requested_by,
        requested_at=r.round.requested_at,
        deadline=r.round.deadline,
        deadline_local=r.round.deadline.astimezone(CHINA_TZ),
        submitted_at=r.round.submitted_at,
        decided_at=r.round.decided_at,
        items=[
            ItemOut(
                item_id=i.item_id,
                instruction=i.instruction,
                failure_evidence_ids=list(i.failure_evidence_ids),
                failure_photo_urls={e: urls[e] for e in i.failure_evidence_ids if e in urls},
                photo_evidence_ids=list(i.photo_evidence_ids),
                reviews=[_review(k, v, staff=staff) for k, v in sorted(i.reviews.items())],
            )
            for i in r.items
        ],
    )


def _is_applicant(principal: Principal) -> bool:
    return principal.kind == "applicant"


@router.post("", status_code=201)
async def request_rectification(
    body: RequestIn,
    inspector: CaseInspectorDep,
    view: VisibleCaseDep,
    session: SessionDep,
    ctx: ContextDep,
) -> RoundOut:
    """Ask the applicant to rectify failed, rectifiable items by a deadline (补齐补正)."""
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
    view: VisibleCaseDep, applicant: CaseApplicantDep, session: SessionDep
) -> RoundOut:
    """The applicant hands in the photos of every item; the re-inspection clock starts."""
    submitted = await service.submit(
        session,
        principal=applicant,
        view=view,
        now=utcnow(),
    )
    return round_out(submitted, staff=False)


@router.post("/items/{item_id}/review")
async def review_item(
    item_id: ItemPath,
    body: ReviewIn,
    inspector: CaseInspectorDep,
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
