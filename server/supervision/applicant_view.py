"""What the applicant sees of their case (办件进度): progress in their words, the inspectors and
whom to call, and after closure the result, the opinion and whether they can rate."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from server.auth.principal import Principal
from server.cases.access import CaseView
from server.cases.permissions import Party as P
from server.cases.permissions import actions_for, parties_of
from server.cases.states import CaseState, Label
from server.closure.models import OUTCOME_LABELS, Outcome
from server.closure.service import decision_of
from server.config import Settings
from server.rectification.repository import rounds as rectification_rounds
from server.supervision import board as b
from server.supervision import feedback_repository as repo
from server.supervision import service as ratings
from server.supervision.feedback import list_complaints
from server.supervision.feedback_schemas import (
    ApplicantView,
    BureauContact,
    InspectorContact,
    ResultOut,
)

S = CaseState
_DRAFTING = Label(
    "踏勘已完成，正在出具踏勘意见", "The inspection is done; the opinion is being written"
)
PROGRESS: dict[CaseState, Label] = {
    S.received: Label(
        "已收到您的申请，正在安排踏勘人员",
        "We have your application and are choosing your inspectors",
    ),
    S.assigned: Label(
        "踏勘人员已确定，请选择视频踏勘时间",
        "Your inspectors are chosen; please pick a time for the video inspection",
    ),
    S.scheduled: Label(
        "视频踏勘时间已约好，请按时打开本页面",
        "Your video inspection is booked; please open this page on time",
    ),
    S.rescheduling: Label(
        "请重新选择视频踏勘时间", "Please pick a new time for the video inspection"
    ),
    S.in_progress: Label("正在进行视频踏勘", "The video inspection is under way"),
    S.offline_pending: Label(
        "将安排工作人员到现场踏勘，我们会与您约定时间",
        "Staff will come to the site; we will agree a time with you",
    ),
    S.rectification_requested: Label(
        "需要整改：请按要求拍照上传",
        "Something needs putting right: please take and send the photos asked for",
    ),
    S.rectification_submitted: Label(
        "整改照片已提交，等待踏勘人员核验", "Your photos are sent; the inspectors are checking them"
    ),
    S.drafted: _DRAFTING,
    S.awaiting_cosign: _DRAFTING,
    S.under_review: _DRAFTING,
    S.issued: Label(
        "踏勘意见已出具，等待审批决定",
        "The inspection opinion is issued; the licensing decision follows",
    ),
    S.closed: Label("已办结", "Closed"),
    S.cancelled: Label("已撤销", "Cancelled"),
}
OPINION_STATES = frozenset({S.issued.value, S.closed.value})


def progress_words(
    state: str, rounds: int, deadline: datetime | None, result: ResultOut | None
) -> Label:
    """The case's progress in the applicant's words, with the rectification round and result."""
    words = PROGRESS[CaseState(state)]
    zh, en = words.zh, words.en
    if state == S.rectification_requested.value and deadline is not None:
        zh += f"（第 {rounds} 次，请在 {b.local(deadline):%Y-%m-%d %H:%M} 前完成）"
        en += f" (round {rounds}, by {b.local(deadline):%Y-%m-%d %H:%M})"
    elif state == S.rectification_submitted.value:
        zh, en = f"{zh}（第 {rounds} 次）", f"{en} (round {rounds})"
    elif rounds and state not in (S.rectification_requested.value, S.cancelled.value):
        zh, en = f"{zh}（经过 {rounds} 次整改）", f"{en} (after {rounds} round(s) of fixes)"
    if result is not None:
        zh, en = f"{zh}：{result.outcome_zh}", f"{en}: {result.outcome_en}"
    return Label(zh, en)


async def _result(session: AsyncSession, case_id: str) -> ResultOut | None:
    decision = await decision_of(session, case_id)
    if decision is None:
        return None
    label = OUTCOME_LABELS[Outcome(decision.outcome)]
    return ResultOut(
        outcome=decision.outcome,
        outcome_zh=label.zh,
        outcome_en=label.en,
        decision_no=decision.decision_no,
        decided_on=decision.decided_on,
    )


async def _inspectors(session: AsyncSession, ids: tuple[str, ...]) -> list[InspectorContact]:
    staff = await repo.staff_by_id(session, ids)
    return [
        InspectorContact(
            position="lead" if i == 0 else "second",
            name=staff[sid].display_name,
            badge_number=staff[sid].badge_number,
            phone=staff[sid].phone,
        )
        for i, sid in enumerate(ids)
        if sid in staff
    ]


def caller_actions(caller: Principal, view: CaseView, *, can_rate: bool) -> list[str]:
    """The case actions the caller may take now (``server.cases.permissions``) and, for the
    applicant, the feedback they may give: a complaint at any time, a rating once, after it."""
    actions = [a.value for a in actions_for(caller, view)]
    if P.applicant not in parties_of(caller, view):
        return actions
    return [*actions, *(["rate"] if can_rate else []), "complain"]


async def applicant_view(
    session: AsyncSession, view: CaseView, settings: Settings, caller: Principal
) -> ApplicantView:
    case = view.case
    rounds = await rectification_rounds(session, case.id)
    open_round = next((r for r in reversed(rounds) if r.status == "open"), None)
    deadline = None if open_round is None else open_round.deadline
    result = await _result(session, case.id) if case.state == S.closed.value else None
    words = progress_words(case.state, len(rounds), deadline, result)
    inspectors = await _inspectors(session, view.inspector_ids)
    rating = await ratings.rating_status(session, case)
    lead_phone = inspectors[0].phone if inspectors else ""
    return ApplicantView(
        case_id=case.id,
        case_number=case.number,
        state=case.state,
        progress_zh=words.zh,
        progress_en=words.en,
        rectification_rounds=len(rounds),
        rectification_deadline_local=None if deadline is None else b.local(deadline),
        inspectors=inspectors,
        contact_phone=lead_phone or settings.bureau_consult_phone,
        bureau=BureauContact(
            name=settings.bureau_name,
            consult_phone=settings.bureau_consult_phone,
            complaint_phone=settings.bureau_complaint_phone,
        ),
        result=result,
        opinion_pdf_url=(
            f"/api/v1/cases/{case.id}/opinion/pdf" if case.state in OPINION_STATES else None
        ),
        can_rate=rating.can_rate,
        rated=rating.rated,
        complaints=await list_complaints(session, case),
        actions=caller_actions(caller, view, can_rate=rating.can_rate),
    )
