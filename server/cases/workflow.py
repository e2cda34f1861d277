"""Applying a state transition to a stored case: the one door every state change goes through.

It checks the transition table, bumps the case version (optimistic locking), tells the hooks
wired at start-up (the SLA clock: ``server.cases.hooks``), and appends the audit record — so no
caller can forget one of them.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm.exc import StaleDataError

from server.audit.service import Actor, append
from server.cases.hooks import case_moved
from server.cases.models import Case
from server.cases.states import CaseAction, CaseState, is_terminal, next_state
from server.db import utcnow
from server.errors import Conflict


async def transition(
    session: AsyncSession,
    actor: Actor,
    case: Case,
    action: CaseAction,
    *,
    reason: str = "",
    detail: dict[str, Any] | None = None,
    now: datetime | None = None,
) -> CaseState:
    """Move ``case`` by ``action``; raises InvalidState (409) naming the allowed next steps."""
    now = now or utcnow()
    old = CaseState(case.state)
    new = next_state(old, action)
    case.state = new
    if is_terminal(new):
        case.ended_at = now  # the applicant's links run on for the rating window from here
    try:
        await session.flush()
    except StaleDataError as exc:
        raise Conflict(
            "案件刚被他人修改，请刷新后重试。",
            "The case was changed by someone else just now; reload and retry.",
        ) from exc
    await case_moved(session, case, old, new, now)
    await append(
        session,
        actor,
        "case.transition",
        case_id=case.id,
        detail={"action": action.value, "from": old.value, "to": new.value, "reason": reason}
        | (detail or {}),
    )
    return new
