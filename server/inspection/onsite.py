"""Switching a case to an on-site inspection (转线下踏勘): the one way a case goes on site.

Two roads lead here: the video inspection ends with items that could not be verified over
video (``conclude_inspection``), or a dispatcher or the lead inspector decides so, with a
reason, at any point before the opinion is submitted (``switch_onsite``). Both set the mode,
move the case with ``switch_offline`` and restart the SLA clock on the on-site allowance.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from server.appointments.service import end_bookings
from server.audit.service import Actor
from server.auth.principal import Principal
from server.cases.access import CaseView
from server.cases.models import Case
from server.cases.permissions import ONSITE_MODE
from server.cases.states import STATE_LABELS, CaseAction, CaseState, allowed_actions
from server.cases.workflow import transition
from server.config import Settings
from server.errors import BadInput, Conflict
from server.notifications import events
from server.sla import service as sla
from server.sla.clock import SlaPolicy

ONSITE_PHASE = "onsite"
ONSITE_CLASS = "complex"  # on site: the complex class (3 working days)


async def go_onsite(
    session: AsyncSession,
    actor: Actor,
    case: Case,
    *,
    now: datetime,
    policy: SlaPolicy,
    reason: str = "",
    detail: dict[str, Any] | None = None,
) -> CaseState:
    """Set the on-site mode, move the case on (audited) and restart its clock for the visit."""
    case.mode = ONSITE_MODE
    state = await transition(
        session, actor, case, CaseAction.switch_offline, reason=reason, detail=detail, now=now
    )
    await sla.restart_for_case(
        session, case, now=now, policy=policy, phase=ONSITE_PHASE, sla_class=ONSITE_CLASS
    )
    return state


def _require_switchable(case: Case) -> None:
    state = CaseState(case.state)
    allowed = CaseAction.switch_offline in allowed_actions(state)
    if case.mode == ONSITE_MODE and (allowed or state is CaseState.offline_pending):
        raise Conflict(
            "本案已经是现场踏勘，无需再转。",
            "This case is already inspected on site; there is nothing to switch.",
            current=case.state,
        )
    if not allowed:
        label = STATE_LABELS[state]
        raise Conflict(
            f"案件当前状态为“{label.zh}”，只有在分派踏勘人员之后、意见书提交会签之前"
            "（且不在等待申请人补正期间）才能转为现场踏勘。",
            f"The case is '{label.en}'; it can be switched to an on-site visit only after "
            "inspectors are assigned and before the opinion is submitted (and not while the "
            "applicant is working on a rectification).",
            current=case.state,
            attempted=CaseAction.switch_offline.value,
        )


async def switch_onsite(
    session: AsyncSession,
    settings: Settings,
    principal: Principal,
    view: CaseView,
    reason: str,
    *,
    now: datetime,
    policy: SlaPolicy,
) -> CaseState:
    """A dispatcher or the lead inspector sends the case on site, with a reason (who may:
    ``server.cases.permissions``, checked by the endpoint).

    Offered slots are withdrawn and a booked video appointment ends; the applicant is told.
    """
    reason = reason.strip()
    if not reason:
        raise BadInput(
            "转为现场踏勘需要说明理由。",
            "Give a reason to switch to an on-site visit.",
            field="reason",
        )
    case = view.case
    _require_switchable(case)
    previous_mode = case.mode
    await end_bookings(session, principal.actor, case, reason)
    state = await go_onsite(
        session,
        principal.actor,
        case,
        now=now,
        policy=policy,
        reason=reason,
        detail={"by": "decision", "from_mode": previous_mode},
    )
    await events.switched_onsite(session, settings, case, reason)
    return state
