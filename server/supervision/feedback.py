"""Complaints (投诉) and the bureau's phone follow-up of closed cases (一事一评电话回访).

A complaint can be filed at any time the applicant holds the case link, not only after closure:
what goes wrong during the journey (a missed appointment, an unfriendly call) is best put right
while the case is still open, and 12345-style complaint lines take complaints at any time.
Each complaint opens a follow-up; so does a call in which the applicant was dissatisfied.
Services only flush; the request's session commits.
"""

from __future__ import annotations

import hashlib
from datetime import datetime

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from server.audit.service import Actor, append
from server.auth.principal import Principal
from server.cases.models import Case
from server.cases.states import CaseState, Label
from server.closure.models import OUTCOME_LABELS, Outcome
from server.config import Settings
from server.errors import BadInput, Conflict
from server.supervision import board as b
from server.supervision import feedback_repository as repo
from server.supervision.feedback_schemas import (
    ComplaintOut,
    PhoneCallIn,
    PhoneCallOut,
    PhoneFollowUpCase,
    PhoneFollowUpList,
    call_out,
    complaint_out,
)
from server.supervision.models import Complaint, FollowUp, PhoneCall

MAX_COMPLAINTS_PER_CASE = 5
PHONE_LIST_LIMIT = 500
CALL_STATUS: dict[str, Label] = {
    "to_call": Label("待回访", "to call"),
    "not_reached": Label("未接通，待再次回访", "not reached, call again"),
    "done": Label("已回访", "called"),
}
_STATUS_ORDER = {"to_call": 0, "not_reached": 1, "done": 2}


# ── complaints (投诉) ──


async def file_complaint(
    session: AsyncSession, applicant: Principal, case: Case, *, text: str
) -> ComplaintOut:
    """The applicant files a complaint about their case; it opens a follow-up."""
    text = text.strip()
    if len(text) < 5:
        raise BadInput(
            "请写明投诉的具体情况（至少 5 个字），方便我们核实处理。",
            "Please say what happened (at least 5 characters) so we can look into it.",
            field="text",
        )
    if await repo.complaint_count(session, case.id) >= MAX_COMPLAINTS_PER_CASE:
        raise Conflict(
            f"本案已提交 {MAX_COMPLAINTS_PER_CASE} 条投诉，我们正在处理；如需补充，"
            "请拨打投诉电话。",
            f"This case already has {MAX_COMPLAINTS_PER_CASE} complaints being handled; to add "
            "more, please call the complaint line.",
            reason="too_many_complaints",
        )
    complaint = Complaint(case_id=case.id, text=text, case_state=case.state, link_id=applicant.id)
    session.add(complaint)
    await session.flush()
    follow_up = FollowUp(
        case_id=case.id, source="complaint", complaint_id=complaint.id, status="open"
    )
    session.add(follow_up)
    await session.flush()
    detail = {"complaint": complaint.id, "chars": len(text), "follow_up": follow_up.id}
    await append(session, applicant.actor, "case.complained", case_id=case.id, detail=detail)
    return complaint_out(complaint, follow_up.id, None)


async def list_complaints(session: AsyncSession, case: Case) -> list[ComplaintOut]:
    return [complaint_out(*row) for row in await repo.complaints_of(session, case.id)]


# ── phone follow-up (一事一评电话回访) ──


def in_sample(case_id: str, share: float) -> bool:
    """Whether a closed case is on the call list: a stable share of cases, by their id."""
    if share >= 1:
        return True
    bucket = int.from_bytes(hashlib.sha256(case_id.encode()).digest()[:4], "big")
    return bucket < share * 2**32


def _status(calls: list[tuple[PhoneCall, str | None]]) -> str:
    if any(call.reached for call, _ in calls):
        return "done"
    return "not_reached" if calls else "to_call"


async def phone_list(
    session: AsyncSession, settings: Settings, *, status: str | None = None
) -> PhoneFollowUpList:
    """The closed cases to call (the configured share), those still to call first."""
    share = settings.phone_follow_up_share
    closed = [c for c in await repo.closed_cases(session) if in_sample(c.case_id, share)]
    calls = await repo.calls_of(session, [c.case_id for c in closed])
    rows = []
    for c in closed:
        case_calls = calls.get(c.case_id, [])
        state = _status(case_calls)
        if status is not None and state != status:
            continue
        outcome = OUTCOME_LABELS[Outcome(c.outcome)]
        rows.append(
            PhoneFollowUpCase(
                case_id=c.case_id,
                case_number=c.number,
                applicant_name=c.applicant_name,
                applicant_phone=c.applicant_phone,
                closed_at_local=b.local(c.closed_at),
                outcome_zh=outcome.zh,
                outcome_en=outcome.en,
                status=state,
                status_zh=CALL_STATUS[state].zh,
                status_en=CALL_STATUS[state].en,
                attempts=len(case_calls),
                last_call=call_out(*case_calls[-1]) if case_calls else None,
            )
        )
    rows.sort(key=lambda r: _STATUS_ORDER[r.status])  # stable: the earliest closed first
    return PhoneFollowUpList(share=share, total=len(rows), cases=rows[:PHONE_LIST_LIMIT])


def _already_called(reached_at: datetime | None) -> Conflict:
    when = "刚刚" if reached_at is None else f"已于 {b.local(reached_at):%Y-%m-%d %H:%M} "
    return Conflict(
        f"本案{when}回访并接通，不再重复记录。",
        "The applicant of this case was already reached on a follow-up call.",
        reason="already_called",
    )


def _check_call(body: PhoneCallIn) -> None:
    if body.reached and body.satisfied is None:
        raise BadInput(
            "已接通时请记录申请人是否满意。",
            "The applicant was reached: record whether they were satisfied.",
            field="satisfied",
        )
    if not body.reached and body.satisfied is not None:
        raise BadInput(
            "未接通时无法记录是否满意，请不要选择。",
            "The applicant was not reached: whether they were satisfied cannot be recorded.",
            field="satisfied",
        )
    if body.reached and body.satisfied is False and not body.words.strip():
        raise BadInput(
            "申请人不满意时，请记录申请人的原话或不满意的原因。",
            "The applicant was dissatisfied: record what they said.",
            field="words",
        )


async def record_call(
    session: AsyncSession, caller: Actor, case: Case, body: PhoneCallIn
) -> PhoneCallOut:
    """Record one follow-up call of a closed case; a dissatisfied applicant opens a follow-up.
    Once the applicant was reached the case's call is done (一事一评: one call per case)."""
    _check_call(body)
    if case.state != CaseState.closed.value:
        label = b.state_label(case.state)
        raise Conflict(
            f"案件办结后才能电话回访（当前状态：{label.zh}）。",
            f"A follow-up call is recorded only once the case is closed (it is '{label.en}').",
            reason="not_closed",
            state=case.state,
        )
    reached_at = await repo.was_reached(session, case.id)
    if reached_at is not None:
        raise _already_called(reached_at)
    call = PhoneCall(
        case_id=case.id,
        reached=body.reached,
        satisfied=body.satisfied,
        words=body.words.strip(),
        called_by=caller.id,
        reached_case_id=case.id if body.reached else None,
    )
    session.add(call)
    try:
        await session.flush()
    except IntegrityError as exc:  # a concurrent call that reached the applicant won
        raise _already_called(None) from exc
    follow_up = None
    if body.satisfied is False:
        follow_up = FollowUp(case_id=case.id, source="phone", call_id=call.id, status="open")
        session.add(follow_up)
        await session.flush()
    detail = {
        "call": call.id,
        "reached": call.reached,
        "satisfied": call.satisfied,
        "follow_up": None if follow_up is None else follow_up.id,
    }
    await append(session, caller, "case.follow_up_called", case_id=case.id, detail=detail)
    return call_out(call, None if follow_up is None else follow_up.id)
