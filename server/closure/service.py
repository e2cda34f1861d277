"""Closure (办结): recording the licensing decision on the issued opinion closes the case.

The decision is written once; the same decision sent again is answered with the stored one,
a different one is refused. Closing goes through ``transition`` (audit, SLA clock) and the
applicant is told the result and invited to rate. Services only flush; the request commits.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from server.auth.principal import Principal
from server.cases.models import Case
from server.cases.states import CaseAction, CaseState, next_state
from server.cases.workflow import transition
from server.closure.models import OUTCOME_LABELS, CaseDecision, Outcome
from server.closure.schemas import DecisionIn
from server.config import Settings
from server.db import utcnow
from server.errors import BadInput, Conflict, NotFound
from server.notifications import events
from server.opinions.records import require_issued
from server.platform.time import CHINA_TZ

# ── pure rules ──


def same_decision(stored: CaseDecision, body: DecisionIn) -> bool:
    """True when ``body`` says what ``stored`` says (a replay, not a second decision)."""
    return (stored.outcome, stored.decision_no, stored.decided_on, stored.note) == (
        body.outcome.value,
        body.decision_no,
        body.decided_on,
        body.note,
    )


def check_decided_on(decided_on: date, *, today: date, issued_on: date) -> None:
    """A decision is taken on the issued opinion: not before its day, and not in the future
    (both days on the Beijing calendar)."""
    if decided_on > today:
        raise BadInput(
            f"决定日期 {decided_on.isoformat()} 晚于今天（{today.isoformat()}），请核对。",
            f"The decision date {decided_on.isoformat()} is after today ({today.isoformat()}).",
            field="decided_on",
        )
    if decided_on < issued_on:
        raise BadInput(
            f"决定日期 {decided_on.isoformat()} 早于踏勘意见书出具日期"
            f"（{issued_on.isoformat()}），请核对。",
            f"The decision date {decided_on.isoformat()} is before the inspection opinion was "
            f"issued ({issued_on.isoformat()}).",
            field="decided_on",
        )


def _already_decided(stored: CaseDecision) -> Conflict:
    label = OUTCOME_LABELS[Outcome(stored.outcome)]
    return Conflict(
        f"本案已办结，已记录的审批决定为：{label.zh}（决定书编号 {stored.decision_no}，"
        f"{stored.decided_on.isoformat()}），不能再记录另一个决定。",
        f"This case is closed with the decision '{label.en}' (no. {stored.decision_no}, "
        f"{stored.decided_on.isoformat()}); a different decision cannot be recorded.",
        reason="already_decided",
    )


def _raced() -> Conflict:
    return Conflict(
        "刚有他人记录了本案的审批决定，请刷新后查看。",
        "Someone else recorded this case's decision just now; reload to see it.",
        reason="already_decided",
    )


# ── reading and recording ──


async def decision_of(session: AsyncSession, case_id: str) -> CaseDecision | None:
    return await session.scalar(select(CaseDecision).where(CaseDecision.case_id == case_id))


async def require_decision(session: AsyncSession, case_id: str) -> CaseDecision:
    found = await decision_of(session, case_id)
    if found is None:
        raise NotFound(
            "本案尚未记录审批决定（尚未办结）。",
            "No decision has been recorded for this case yet (it is not closed).",
            reason="not_decided",
        )
    return found


async def record(
    session: AsyncSession,
    recorder: Principal,
    case: Case,
    body: DecisionIn,
    *,
    settings: Settings,
    now: datetime | None = None,
) -> tuple[CaseDecision, bool]:
    """Store the decision and close the case; returns it and whether it was new (False: the
    same decision again)."""
    now = now or utcnow()
    stored = await decision_of(session, case.id)
    if stored is not None:
        if same_decision(stored, body):
            return stored, False
        raise _already_decided(stored)
    next_state(CaseState(case.state), CaseAction.close)  # not issued: 409 naming the state
    opinion = await require_issued(session, case.id)
    issued_at = opinion.issued_at or now
    check_decided_on(
        body.decided_on,
        today=now.astimezone(CHINA_TZ).date(),
        issued_on=issued_at.astimezone(CHINA_TZ).date(),
    )
    decision = await _insert(session, recorder, case, body, now)
    label = OUTCOME_LABELS[body.outcome]
    await transition(
        session,
        recorder.actor,
        case,
        CaseAction.close,
        reason=f"{label.zh}（决定书编号 {body.decision_no}）",
        detail={
            "decision": decision.id,
            "outcome": body.outcome.value,
            "decision_no": body.decision_no,
            "decided_on": body.decided_on.isoformat(),
        },
        now=now,
    )
    await events.case_closed(session, settings, case, outcome=label, decision_no=body.decision_no)
    return decision, True


async def _insert(
    session: AsyncSession, recorder: Principal, case: Case, body: DecisionIn, now: datetime
) -> CaseDecision:
    decision = CaseDecision(
        case_id=case.id,
        outcome=body.outcome.value,
        decision_no=body.decision_no,
        decided_on=body.decided_on,
        note=body.note,
        recorded_by_kind=recorder.kind,
        recorded_by_id=recorder.id,
        recorded_at=now,
    )
    session.add(decision)
    try:
        await session.flush()
    except IntegrityError as exc:  # a concurrent decision of the same case won
        raise _raced() from exc
    return decision
