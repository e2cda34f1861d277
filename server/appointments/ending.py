"""Cases that end otherwise than by closure: cancelled by the bureau (撤销) or withdrawn by the
applicant (撤回申请). Both need a reason; the open slots and the appointment end with the case,
its SLA clock stops (``server.sla`` follows the transition) and its links run on only for the
rating window (``server.cases.links``)."""

from __future__ import annotations

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from server.appointments.models import Appointment, Slot
from server.audit.service import Actor
from server.cases.models import Case
from server.cases.states import STATE_LABELS, CaseAction, CaseState, allowed_actions
from server.cases.workflow import transition
from server.config import Settings
from server.errors import BadInput, Conflict
from server.notifications import events

MIN_REASON = 2


async def _end_bookings(session: AsyncSession, case: Case, actor: Actor, reason: str) -> None:
    """Withdraw the case's open slots and end its agreed appointment, if any."""
    await session.execute(
        update(Slot)
        .where(Slot.case_id == case.id, Slot.status == "open")
        .values(status="withdrawn")
    )
    await session.execute(
        update(Appointment)
        .where(Appointment.case_id == case.id, Appointment.status == "scheduled")
        .values(status="cancelled", closed_reason=reason, closed_by=actor.id)
    )


def _ends_with(case: Case, action: CaseAction, who_zh: str, who_en: str) -> None:
    allowed = allowed_actions(CaseState(case.state))
    if action in allowed:
        return
    label = STATE_LABELS[CaseState(case.state)]
    raise Conflict(
        f"本案当前为“{label.zh}”，{who_zh}。",
        f"The case is '{label.en}'; {who_en}.",
        reason="cannot_end",
        current=case.state,
        attempted=action.value,
        allowed=[a.value for a in allowed],
    )


async def cancel_case(session: AsyncSession, actor: Actor, case: Case, reason: str) -> CaseState:
    """The bureau cancels the case (撤销) with a reason."""
    if len(reason.strip()) < MIN_REASON:
        raise BadInput("撤销案件需要说明理由。", "A reason is required to cancel the case.")
    _ends_with(
        case,
        CaseAction.cancel,
        "已不能撤销（意见已出具的案件只能办结）",
        "it can no longer be cancelled (a case with an issued opinion can only be closed)",
    )
    await _end_bookings(session, case, actor, reason)
    return await transition(session, actor, case, CaseAction.cancel, reason=reason)


async def withdraw_case(
    session: AsyncSession, settings: Settings, actor: Actor, case: Case, reason: str
) -> CaseState:
    """The applicant withdraws the application (撤回申请) before the opinion is issued; the
    case's inspectors and the dispatchers are told."""
    if len(reason.strip()) < MIN_REASON:
        raise BadInput(
            "请写明撤回申请的原因（至少 2 个字）。",
            "Please say why you withdraw the application (at least 2 characters).",
            field="reason",
        )
    _ends_with(
        case,
        CaseAction.withdraw,
        "踏勘意见已出具或案件已结束，申请不能再撤回；如需放弃许可申请，请联系受理窗口",
        "the opinion is already issued or the case has ended, so the application can no longer "
        "be withdrawn; contact the service window to give up the licence application",
    )
    await _end_bookings(session, case, actor, reason.strip())
    state = await transition(session, actor, case, CaseAction.withdraw, reason=reason.strip())
    await events.case_withdrawn(session, settings, case, reason.strip())
    return state
