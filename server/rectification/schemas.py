"""What the rectification endpoints take and answer: the request, the reviews, the rounds."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from server.platform.time import CHINA_TZ
from server.rectification.service import Round
from server.timeinputs import BeijingDateTime


class ItemIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    item_id: str = Field(min_length=1, max_length=16)
    instruction: str = Field(min_length=1, max_length=2000)


class RequestIn(BaseModel):
    """The items to put right, each with what to do, and the deadline (no offset: Beijing time)."""

    model_config = ConfigDict(extra="forbid")

    deadline: BeijingDateTime
    items: list[ItemIn] = Field(min_length=1, max_length=100)
    # The lead's choice for a live call: end it for everyone with the request, or keep it open.
    end_call: bool = False


class ReviewIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    accepted: bool
    reason: str = Field(default="", max_length=2000)


class ReviewOut(BaseModel):
    by: str | None  # staff id; hidden from the applicant
    accepted: bool
    reason: str
    at: datetime


class RoundItemOut(BaseModel):
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
    items: list[RoundItemOut]


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
            RoundItemOut(
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
