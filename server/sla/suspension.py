"""Special procedures (特别程序) suspend the SLA clock: held when one is approved, released when
it ends.

While a procedure holds the case's running clock (``held_by``) the clock stays paused, whatever
the case does meanwhile: a wait on the applicant that ends does not resume it, and a fresh
re-inspection clock starts paused (``service._start``). Ending the procedure resumes the clock,
unless the case is then waiting on the applicant (that wait's end resumes it). The pause keeps
the procedure's reason. Services only flush.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from server.audit.service import append
from server.cases.models import Case
from server.cases.states import APPLICANT_WAIT_STATES, CaseState
from server.errors import Conflict
from server.sla.clock import ClockState, Pause, pause, resume
from server.sla.models import SlaClockRow
from server.sla.policy import session_policy
from server.sla.service import SYSTEM, active_clock, clock_state, load_calendar, refresh


async def hold_clock(
    session: AsyncSession, case: Case, procedure_id: str, reason: str, now: datetime
) -> SlaClockRow | None:
    """Pause the case's running clock for the procedure; None when no clock runs."""
    row = await active_clock(session, case.id)
    if row is None:
        return None
    if row.held_by and row.held_by != procedure_id:
        raise Conflict(
            "该案件的办理时限已因另一项特别程序暂停。",
            "This case's SLA clock is already suspended by another special procedure.",
        )
    row.held_by = procedure_id
    clock = clock_state(row)
    if not clock.paused:
        clock = pause(clock, _after_last(row, now), reason)
    await _store(session, row, clock)
    await append(
        session,
        SYSTEM,
        "sla.clock_held",
        case_id=case.id,
        detail={"clock": row.id, "procedure": procedure_id, "reason": reason},
    )
    return row


async def release_clock(
    session: AsyncSession, case: Case, procedure_id: str, now: datetime
) -> SlaClockRow | None:
    """End the procedure's hold; the clock runs again unless the case waits on the applicant."""
    row = await active_clock(session, case.id)
    if row is None or row.held_by != procedure_id:
        return None
    row.held_by = None
    clock = clock_state(row)
    waiting = CaseState(case.state) in APPLICANT_WAIT_STATES
    if clock.paused and not waiting:
        clock = resume(clock, _after_last(row, now))
    await _store(session, row, clock)
    await append(
        session,
        SYSTEM,
        "sla.clock_released",
        case_id=case.id,
        detail={"clock": row.id, "procedure": procedure_id, "resumed": not clock.paused},
    )
    return row


async def _store(session: AsyncSession, row: SlaClockRow, clock: ClockState) -> None:
    policy = session_policy(session)
    refresh(row, clock, calendar=await load_calendar(session), policy=policy)
    await session.flush()


def _after_last(row: SlaClockRow, now: datetime) -> datetime:
    """``now``, or the clock's last moment if the caller's clock runs behind."""
    clock = clock_state(row)
    return max(now, clock.started_at, *(m for p in clock.pauses for m in _moments(p)))


def _moments(p: Pause) -> tuple[datetime, ...]:
    return (p.paused_at,) if p.resumed_at is None else (p.paused_at, p.resumed_at)
