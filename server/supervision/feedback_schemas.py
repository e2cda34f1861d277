"""What the applicant's view, complaint (投诉) and phone follow-up (一事一评回访) endpoints take
and answer."""

from __future__ import annotations

from datetime import date, datetime

from pydantic import BaseModel, ConfigDict, Field

from server.supervision import board as b
from server.supervision.models import Complaint, PhoneCall


class ComplaintIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    text: str = Field(default="", max_length=1000)  # required; checked with a message


class ComplaintOut(BaseModel):
    id: str
    case_id: str
    text: str
    created_at: datetime
    created_at_local: datetime
    follow_up_id: str | None
    handled: bool  # the bureau recorded what it did
    answer: str  # what the bureau did (整改反馈), once recorded


def complaint_out(
    complaint: Complaint, follow_up_id: str | None, answer: str | None
) -> ComplaintOut:
    return ComplaintOut(
        id=complaint.id,
        case_id=complaint.case_id,
        text=complaint.text,
        created_at=complaint.created_at,
        created_at_local=b.local(complaint.created_at),
        follow_up_id=follow_up_id,
        handled=bool(answer),
        answer=answer or "",
    )


class PhoneCallIn(BaseModel):
    """The outcome of one phone follow-up call."""

    model_config = ConfigDict(extra="forbid")
    reached: bool = Field(strict=True)  # 已接通 / 未接通
    satisfied: bool | None = Field(default=None, strict=True)  # required when reached
    words: str = Field(default="", max_length=2000)  # what the applicant said


class PhoneCallOut(BaseModel):
    id: str
    case_id: str
    reached: bool
    satisfied: bool | None
    words: str
    called_by: str
    called_at: datetime
    called_at_local: datetime
    follow_up_id: str | None  # set when the applicant was dissatisfied


def call_out(call: PhoneCall, follow_up_id: str | None = None) -> PhoneCallOut:
    return PhoneCallOut(
        id=call.id,
        case_id=call.case_id,
        reached=call.reached,
        satisfied=call.satisfied,
        words=call.words,
        called_by=call.called_by,
        called_at=call.called_at,
        called_at_local=b.local(call.called_at),
        follow_up_id=follow_up_id,
    )


class PhoneFollowUpCase(BaseModel):
    """A closed case on the call list, and where its call stands."""

    case_id: str
    case_number: str
    applicant_name: str
    applicant_phone: str
    closed_at_local: datetime
    outcome_zh: str
    outcome_en: str
    status: str  # to_call | not_reached | done
    status_zh: str
    status_en: str
    attempts: int
    last_call: PhoneCallOut | None


class PhoneFollowUpList(BaseModel):
    share: float  # the configured share of closed cases to call
    total: int  # cases on the list (before the limit)
    cases: list[PhoneFollowUpCase]  # those to call first, then not reached, then done


class InspectorContact(BaseModel):
    position: str  # lead | second
    name: str
    badge_number: str  # 执法证号
    phone: str


class BureauContact(BaseModel):
    name: str
    consult_phone: str  # 咨询电话
    complaint_phone: str  # 投诉电话


class ResultOut(BaseModel):
    outcome: str  # granted | refused
    outcome_zh: str
    outcome_en: str
    decision_no: str
    decided_on: date


class ApplicantView(BaseModel):
    """What the applicant sees of their case: progress in words, who inspects, whom to call,
    and after closure the result, the opinion and the rating."""

    case_id: str
    case_number: str
    state: str
    progress_zh: str
    progress_en: str
    rectification_rounds: int  # rounds asked so far (补齐补正)
    rectification_deadline_local: datetime | None  # of the open round
    inspectors: list[InspectorContact]
    contact_phone: str  # the lead inspector's, else the bureau's consultation number
    bureau: BureauContact
    result: ResultOut | None  # after closure
    opinion_pdf_url: str | None  # once the opinion is issued
    can_rate: bool
    rated: bool
    complaints: list[ComplaintOut]
    # What the caller may do now: case actions (``schedule`` = book a time, ``withdraw``…) and
    # the applicant's ``rate`` and ``complain``; the phone shows only these buttons.
    actions: list[str] = Field(default_factory=list)
