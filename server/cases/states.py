"""The case state machine (踏勘案件状态机): every state, every action, one transition table.

Pure rules: no database, no clock. The service looks up ``next_state`` before it writes, and
audits the (state, action, next state) triple it applied.

Main journey (online video inspection, 线上视频踏勘)::

    received ─assign─▶ assigned ─schedule─▶ scheduled ─start_inspection─▶ in_progress
    (已受理)           (已分派)              (已预约)                      (踏勘中)
                                                                              │ conclude
    drafted ◀─────────────────────────────────────────────────────────────────┘
    (意见起草) ─submit_draft─▶ awaiting_cosign ─co_sign─▶ under_review ─approve─▶ issued
                               (待会签)                   (待审核)               (已出具)
    drafted ◀─decline_cosign─ awaiting_cosign                                    │ close
    drafted ◀─send_back────── under_review                                       ▼
                                                                                closed (已办结)

Rectification (补齐补正), the clock pauses while the applicant works::

    in_progress ─request_rectification─▶ rectification_requested ─submit_rectification─▶
    rectification_submitted ─verify_rectification─▶ drafted
    rectification_submitted ─reject_rectification─▶ rectification_requested   (another round)
    rectification_requested ─conclude─▶ drafted   (deadline passed or applicant gave up: the
                                                   opinion records the failed items)

Appointments (预约)::

    scheduled   ─reschedule (bureau side)──────────▶ assigned      (inspectors propose new slots)
    scheduled   ─request_reschedule (applicant)───▶ rescheduling  (clock paused)
    scheduled   ─mark_no_show (applicant absent)──▶ rescheduling  (clock paused)
    in_progress ─reschedule / request_reschedule──▶ assigned / rescheduling  (call interrupted)
    rescheduling ─schedule─▶ scheduled

Switch to on-site (转线下踏勘): when the video inspection ends with items it could not verify,
or when a dispatcher or the lead decides so with a reason, at any point from the assignment
until the opinion is submitted — assigned, scheduled, rescheduling, in_progress,
rectification_submitted (the fix cannot be verified from photos) and drafted (nothing is
signed yet; the visit's verdicts then make the draft again). Not from received (no inspectors
to go yet: intake picks the mode), nor while the applicant is working on a rectification
(rectification_requested: the request is with them; switch when they submit), nor once the
opinion is submitted (awaiting_cosign and after: it is signed)::

    … ─switch_offline─▶ offline_pending ─schedule─▶ scheduled
                        offline_pending ─start_inspection─▶ in_progress   (same console, on site)

``replace_inspector`` keeps the state (a self-loop, so it is audited like any transition) and is
allowed wherever a pair is assigned but no call is running. ``cancel`` leads from every state
except ``issued``, ``closed`` and ``cancelled`` to ``cancelled``: an issued opinion is already
with the window staff, so that case can only be closed; revoking an opinion is not a cancel.
``withdraw`` (撤回申请) is the applicant's own way out, through their link, from the same states
and to the same end (``cancelled``, 已撤销); the audit record tells who ended it and why.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from types import MappingProxyType
from typing import NamedTuple

from server.errors import InvalidState

__all__ = [
    "ACTION_LABELS",
    "APPLICANT_WAIT_STATES",
    "CALL_STATES",
    "STATE_LABELS",
    "TERMINAL_STATES",
    "TRANSITIONS",
    "CaseAction",
    "CaseState",
    "Label",
    "allowed_actions",
    "is_joinable",
    "is_terminal",
    "next_state",
    "refusal",
    "require_allowed",
    "waits_on_applicant",
]


class CaseState(StrEnum):
    received = "received"
    assigned = "assigned"
    scheduled = "scheduled"
    rescheduling = "rescheduling"
    in_progress = "in_progress"
    offline_pending = "offline_pending"
    rectification_requested = "rectification_requested"
    rectification_submitted = "rectification_submitted"
    drafted = "drafted"
    awaiting_cosign = "awaiting_cosign"
    under_review = "under_review"
    issued = "issued"
    closed = "closed"
    cancelled = "cancelled"


class CaseAction(StrEnum):
    assign = "assign"
    schedule = "schedule"
    reschedule = "reschedule"
    request_reschedule = "request_reschedule"
    mark_no_show = "mark_no_show"
    start_inspection = "start_inspection"
    conclude = "conclude"
    request_rectification = "request_rectification"
    submit_rectification = "submit_rectification"
    verify_rectification = "verify_rectification"
    reject_rectification = "reject_rectification"
    switch_offline = "switch_offline"
    submit_draft = "submit_draft"
    co_sign = "co_sign"
    decline_cosign = "decline_cosign"
    approve = "approve"
    send_back = "send_back"
    close = "close"
    replace_inspector = "replace_inspector"
    cancel = "cancel"
    withdraw = "withdraw"


class Label(NamedTuple):
    zh: str
    en: str


S = CaseState
A = CaseAction

TERMINAL_STATES: frozenset[CaseState] = frozenset({S.closed, S.cancelled})

# While the case sits in one of these, the SLA clock is paused (等待申请人，暂停计时).
APPLICANT_WAIT_STATES: frozenset[CaseState] = frozenset({S.rescheduling, S.rectification_requested})

# A live call (视频踏勘) may be joined while the case waits for it or runs (已预约 / 踏勘中).
CALL_STATES: frozenset[CaseState] = frozenset({S.scheduled, S.in_progress})

# A pair is assigned and no call is running: a dispatcher may swap one inspector.
_REPLACEABLE: tuple[CaseState, ...] = (
    S.assigned,
    S.scheduled,
    S.rescheduling,
    S.offline_pending,
    S.rectification_requested,
    S.rectification_submitted,
)
_OFFLINE_FROM: tuple[CaseState, ...] = (
    S.assigned,
    S.scheduled,
    S.rescheduling,
    S.in_progress,
    S.rectification_submitted,
    S.drafted,
)
_CANCELLABLE: tuple[CaseState, ...] = tuple(
    s for s in CaseState if s not in TERMINAL_STATES and s is not S.issued
)

_FLOW: dict[tuple[CaseState, CaseAction], CaseState] = {
    (S.received, A.assign): S.assigned,
    (S.assigned, A.schedule): S.scheduled,
    (S.scheduled, A.start_inspection): S.in_progress,
    (S.scheduled, A.reschedule): S.assigned,
    (S.scheduled, A.request_reschedule): S.rescheduling,
    (S.scheduled, A.mark_no_show): S.rescheduling,
    (S.rescheduling, A.schedule): S.scheduled,
    (S.in_progress, A.conclude): S.drafted,
    (S.in_progress, A.request_rectification): S.rectification_requested,
    (S.in_progress, A.reschedule): S.assigned,
    (S.in_progress, A.request_reschedule): S.rescheduling,
    (S.offline_pending, A.schedule): S.scheduled,
    (S.offline_pending, A.start_inspection): S.in_progress,
    (S.rectification_requested, A.submit_rectification): S.rectification_submitted,
    (S.rectification_requested, A.conclude): S.drafted,
    (S.rectification_submitted, A.verify_rectification): S.drafted,
    (S.rectification_submitted, A.reject_rectification): S.rectification_requested,
    (S.drafted, A.submit_draft): S.awaiting_cosign,
    (S.awaiting_cosign, A.co_sign): S.under_review,
    (S.awaiting_cosign, A.decline_cosign): S.drafted,
    (S.under_review, A.approve): S.issued,
    (S.under_review, A.send_back): S.drafted,
    (S.issued, A.close): S.closed,
}


def _build_transitions() -> Mapping[tuple[CaseState, CaseAction], CaseState]:
    table = dict(_FLOW)
    table.update({(s, A.replace_inspector): s for s in _REPLACEABLE})
    table.update({(s, A.switch_offline): S.offline_pending for s in _OFFLINE_FROM})
    table.update({(s, A.cancel): S.cancelled for s in _CANCELLABLE})
    table.update({(s, A.withdraw): S.cancelled for s in _CANCELLABLE})
    return MappingProxyType(table)


TRANSITIONS: Mapping[tuple[CaseState, CaseAction], CaseState] = _build_transitions()
"""The one table of legal moves: (current state, action) → next state."""

STATE_LABELS: Mapping[CaseState, Label] = MappingProxyType(
    {
        S.received: Label("已受理", "application received"),
        S.assigned: Label("已分派", "inspectors assigned"),
        S.scheduled: Label("已预约", "inspection booked"),
        S.rescheduling: Label("待申请人改约", "waiting for the applicant to rebook"),
        S.in_progress: Label("踏勘中", "inspection in progress"),
        S.offline_pending: Label("待线下踏勘", "on-site inspection pending"),
        S.rectification_requested: Label("待补齐补正", "rectification requested"),
        S.rectification_submitted: Label("补正待核验", "rectification submitted"),
        S.drafted: Label("意见起草", "opinion being drafted"),
        S.awaiting_cosign: Label("待会签", "awaiting co-signature"),
        S.under_review: Label("待审核", "under review"),
        S.issued: Label("已出具意见", "opinion issued"),
        S.closed: Label("已办结", "case closed"),
        S.cancelled: Label("已撤销", "cancelled or withdrawn"),
    }
)

ACTION_LABELS: Mapping[CaseAction, Label] = MappingProxyType(
    {
        A.assign: Label("分派踏勘人员", "assign inspectors"),
        A.schedule: Label("确认预约时间", "confirm an appointment"),
        A.reschedule: Label("改约（局方）", "reschedule (bureau side)"),
        A.request_reschedule: Label("申请人申请改约", "applicant asks to reschedule"),
        A.mark_no_show: Label("记录申请人未到场", "record applicant no-show"),
        A.start_inspection: Label("开始踏勘", "start the inspection"),
        A.conclude: Label("作出踏勘结论", "conclude the inspection"),
        A.request_rectification: Label("要求补齐补正", "request rectification"),
        A.submit_rectification: Label("提交补正材料", "submit rectification"),
        A.verify_rectification: Label("补正核验通过", "accept rectification"),
        A.reject_rectification: Label("补正核验不通过", "reject rectification"),
        A.switch_offline: Label("转线下踏勘", "switch to on-site inspection"),
        A.submit_draft: Label("提交意见书会签", "submit the draft for co-signing"),
        A.co_sign: Label("会签", "co-sign"),
        A.decline_cosign: Label("退回起草人", "return to the drafter"),
        A.approve: Label("审核通过", "approve the opinion"),
        A.send_back: Label("退回修改", "send back for changes"),
        A.close: Label("办结", "close the case"),
        A.replace_inspector: Label("更换踏勘人员", "replace an inspector"),
        A.cancel: Label("撤销", "cancel the case"),
        A.withdraw: Label("申请人撤回申请", "the applicant withdraws the application"),
    }
)


def allowed_actions(current: CaseState) -> tuple[CaseAction, ...]:
    """Actions legal from ``current``, in the declaration order of ``CaseAction``."""
    return tuple(a for a in CaseAction if (current, a) in TRANSITIONS)


def refusal(current: CaseState, action: CaseAction) -> InvalidState:
    """The 409 for ``action`` in ``current``, in words: the state, the step and what can be
    done now (the identifiers only in the machine-readable fields)."""
    allowed = allowed_actions(current)
    state, step = STATE_LABELS[current], ACTION_LABELS[action]
    now_zh = "、".join(f"“{ACTION_LABELS[a].zh}”" for a in allowed) or "无（案件已结束）"
    now_en = (
        ", ".join(f"'{ACTION_LABELS[a].en}'" for a in allowed) or "nothing (the case has ended)"
    )
    return InvalidState(
        f"本案当前为“{state.zh}”，不能办理“{step.zh}”。此时可以办理：{now_zh}。",
        f"The case is at the stage '{state.en}', so '{step.en}' cannot be done now. "
        f"What can be done now: {now_en}.",
        current=current.value,
        attempted=action.value,
        allowed=[a.value for a in allowed],
    )


def require_allowed(current: CaseState | str, action: CaseAction) -> None:
    """Refuse (409, in words) an action the state machine does not allow from ``current``."""
    next_state(CaseState(current), action)


def next_state(current: CaseState, action: CaseAction) -> CaseState:
    """The state ``action`` leads to, or ``InvalidState`` (409) saying in words what is allowed."""
    try:
        return TRANSITIONS[(current, action)]
    except KeyError:
        raise refusal(current, action) from None


def is_terminal(state: CaseState) -> bool:
    return state in TERMINAL_STATES


def is_joinable(state: str) -> bool:
    """True if the case's live call may be joined in ``state`` (an unknown state: never)."""
    return state in CALL_STATES


def waits_on_applicant(state: CaseState) -> bool:
    """True while the case waits on the applicant, so its SLA clock is paused (暂停计时)."""
    return state in APPLICANT_WAIT_STATES
