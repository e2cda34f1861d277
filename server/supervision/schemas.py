"""What the rating and follow-up endpoints take and answer."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from server.supervision import board as b
from server.supervision.labels import BAD_REASONS, SCORE_LABELS, SOURCE_LABELS
from server.supervision.models import Complaint, FollowUp, PhoneCall, Rating


class RatingIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    score: int = Field(ge=1, le=5, strict=True)  # 1 非常不满意 … 5 非常满意
    # For a bad rating (1–2), one or more codes of ``labels.BAD_REASONS``; checked with a message.
    reasons: list[str] = Field(default_factory=list, max_length=len(BAD_REASONS))
    comment: str = Field(default="", max_length=500)


class CloseIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    note: str = Field(default="", max_length=2000)  # required; checked with a message


class AnswerIn(BaseModel):
    """整改反馈: what was done about the bad rating or complaint, and by whom."""

    model_config = ConfigDict(extra="forbid")
    answer: str = Field(default="", max_length=2000)  # required; checked with a message
    answered_by: str = Field(default="", max_length=100)  # required; checked with a message


class LabelOut(BaseModel):
    code: str
    zh: str
    en: str


class RatingOut(BaseModel):
    id: str
    case_id: str
    score: int
    score_zh: str  # 非常满意 … 非常不满意
    score_en: str
    reasons: list[LabelOut]
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
    scores: list[LabelOut]  # the five levels, best first
    bad_reasons: list[LabelOut]  # what a bad rating (1–2) chooses from


def labels_out(codes: list[str]) -> list[LabelOut]:
    return [
        LabelOut(code=c, zh=BAD_REASONS[c].zh, en=BAD_REASONS[c].en)
        for c in codes
        if c in BAD_REASONS
    ]


def choices() -> tuple[list[LabelOut], list[LabelOut]]:
    """The five levels (best first) and the reasons of a bad rating."""
    scores = [LabelOut(code=str(s), zh=lb.zh, en=lb.en) for s, lb in SCORE_LABELS.items()]
    return scores, labels_out(list(BAD_REASONS))


def rating_out(rating: Rating, follow_up_id: str | None) -> RatingOut:
    level = SCORE_LABELS[rating.score]
    return RatingOut(
        id=rating.id,
        case_id=rating.case_id,
        score=rating.score,
        score_zh=level.zh,
        score_en=level.en,
        reasons=labels_out(list(rating.reasons or [])),
        comment=rating.comment,
        created_at=rating.created_at,
        created_at_local=b.local(rating.created_at),
        follow_up_id=follow_up_id,
    )


class FollowUpOut(BaseModel):
    id: str
    case_id: str
    case_number: str
    source: str  # rating | complaint | phone
    source_zh: str
    source_en: str
    rating_id: str | None
    score: int | None
    reasons: list[LabelOut]
    comment: str  # the rating's comment, the complaint or what the applicant said on the phone
    complaint_id: str | None
    call_id: str | None
    status: str
    opened_at: datetime
    opened_at_local: datetime
    answered: bool
    answer: str  # 整改反馈
    answered_by: str
    answered_at_local: datetime | None
    closed_at: datetime | None
    closed_at_local: datetime | None
    closed_by: str
    note: str


FollowUpRow = tuple[FollowUp, str, Rating | None, Complaint | None, PhoneCall | None]


def _said(rating: Rating | None, complaint: Complaint | None, call: PhoneCall | None) -> str:
    if rating is not None:
        return rating.comment
    if complaint is not None:
        return complaint.text
    return "" if call is None else call.words


def follow_up_out(row: FollowUpRow) -> FollowUpOut:
    f, number, rating, complaint, call = row
    source = SOURCE_LABELS[f.source]
    return FollowUpOut(
        id=f.id,
        case_id=f.case_id,
        case_number=number,
        source=f.source,
        source_zh=source.zh,
        source_en=source.en,
        rating_id=f.rating_id,
        score=None if rating is None else rating.score,
        reasons=[] if rating is None else labels_out(list(rating.reasons or [])),
        comment=_said(rating, complaint, call),
        complaint_id=f.complaint_id,
        call_id=f.call_id,
        status=f.status,
        opened_at=f.opened_at,
        opened_at_local=b.local(f.opened_at),
        answered=f.answered_at is not None,
        answer=f.answer,
        answered_by=f.answered_by,
        answered_at_local=None if f.answered_at is None else b.local(f.answered_at),
        closed_at=f.closed_at,
        closed_at_local=None if f.closed_at is None else b.local(f.closed_at),
        closed_by=f.closed_by,
        note=f.note,
    )
