"""What the rating and follow-up endpoints take and answer."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from server.supervision import board as b
from server.supervision.models import FollowUp, Rating


class RatingIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    score: int = Field(ge=1, le=5, strict=True)  # 1 很不满意 … 5 非常满意
    comment: str = Field(default="", max_length=500)


class CloseIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    note: str = Field(default="", max_length=2000)  # required; checked with a message


class RatingOut(BaseModel):
    id: str
    case_id: str
    score: int
    comment: str
    created_at: datetime
    created_at_local: datetime
    follow_up_id: str | None  # set when the rating was bad (差评)


class RatingStatus(BaseModel):
    """Whether a case has been rated, and whether it can be now."""

    case_id: str
    state: str
    rated: bool
    can_rate: bool  # closed and not yet rated
    rating: RatingOut | None


def rating_out(rating: Rating, follow_up_id: str | None) -> RatingOut:
    return RatingOut(
        id=rating.id,
        case_id=rating.case_id,
        score=rating.score,
        comment=rating.comment,
        created_at=rating.created_at,
        created_at_local=b.local(rating.created_at),
        follow_up_id=follow_up_id,
    )


class FollowUpOut(BaseModel):
    id: str
    case_id: str
    case_number: str
    rating_id: str
    score: int
    comment: str
    status: str
    opened_at: datetime
    opened_at_local: datetime
    closed_at: datetime | None
    closed_at_local: datetime | None
    closed_by: str
    note: str


def follow_up_out(row: FollowUp, number: str, score: int, comment: str) -> FollowUpOut:
    return FollowUpOut(
        id=row.id,
        case_id=row.case_id,
        case_number=number,
        rating_id=row.rating_id,
        score=score,
        comment=comment,
        status=row.status,
        opened_at=row.opened_at,
        opened_at_local=b.local(row.opened_at),
        closed_at=row.closed_at,
        closed_at_local=None if row.closed_at is None else b.local(row.closed_at),
        closed_by=row.closed_by,
        note=row.note,
    )
