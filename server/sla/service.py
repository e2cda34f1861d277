"""SLA clocks of cases (办理时限): start at intake, follow the case's transitions, show the board.

The rules live in ``calendar.py`` and ``clock.py``; this module stores clocks in ``sla_clocks``
and keeps three caches per row that the tick relies on: ``due_at``, ``provisional`` and
``next_check_at`` (the first moment the card can change). Services only flush. The policy
comes from the session (``policy.py``); admins' calendar overrides are in ``overrides.py``,
the tick that raises cards in ``jobs.py``.

How transitions move the clock (see ``on_transition``):

* entering a state that waits on the applicant (改约、补齐补正) pauses it, leaving one resumes it;
* the opinion issued (已出具), the case closed or cancelled stops it;
* the applicant submitting a rectification (补正提交) ends the running clock at that moment and
  starts a fresh ``reinspection``-class clock: the paused wait is over, and the verification
  is "immediate" (复核), measured on its own short allowance. Each further submission after a
  rejected one starts a new re-inspection clock; that clock runs until the opinion is issued.
* while a special procedure (特别程序) holds the clock (``held_by``, see ``suspension.py``) it
  stays paused: the end of a wait on the applicant does not resume it, and a new clock started
  meanwhile starts paused.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime, timedelta
from fractions import Fraction
from typing import Any, Protocol

from pydantic import BaseModel
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from server.audit.service import Actor, append
from server.cases.models import Case
from server.cases.states import APPLICANT_WAIT_STATES, CaseState
from server.errors import Conflict, not_found
from server.platform.time import CHINA_TZ
from server.sla.calendar import Allowance, AllowanceUnit, CalendarOverride, DueTime, WorkCalendar
from server.sla.clock import (
    Card,
    ClockState,
    ClockStatus,
    Pause,
    SlaClass,
    SlaPolicy,
    clock_status,
    due_time,
    pause,
    resume,
    start_clock,
)
from server.sla.models import CalendarOverrideRow, SlaClockRow
from server.sla.policy import session_policy

SYSTEM = Actor.system("sla")
INITIAL = "initial"
REINSPECTION = "reinspection"
STOP_STATES = frozenset({CaseState.issued, CaseState.closed, CaseState.cancelled})
CARD_ORDER = (Card.none, Card.yellow, Card.red)
# The red card is due once the due time has *passed*: the first instant after it.
_INSTANT = timedelta(microseconds=1)


async def load_calendar(session: AsyncSession) -> WorkCalendar:
    """The working-day calendar with the admins' overrides from the database."""
    rows = await session.scalars(select(CalendarOverrideRow))
    return WorkCalendar(CalendarOverride(r.date, r.is_workday, r.note) for r in rows)


# ── rows ↔ pure clock state ──


class ClockFields(Protocol):
    """What a stored clock (ORM row or Core row) offers to rebuild its ``ClockState``."""

    @property
    def sla_class(self) -> str: ...
    @property
    def allowance_unit(self) -> str: ...
    @property
    def allowance_amount(self) -> int: ...
    @property
    def started_at(self) -> datetime: ...
    @property
    def pauses(self) -> list[list[str | None]]: ...


def clock_state(row: ClockFields) -> ClockState:
    pauses = tuple(
        Pause(
            datetime.fromisoformat(str(p)),
            None if r is None else datetime.fromisoformat(r),
            str(rest[0] or "") if rest else "",
        )
        for p, r, *rest in row.pauses
    )
    allowance = Allowance(row.allowance_amount, AllowanceUnit(row.allowance_unit))
    return ClockState(SlaClass(row.sla_class), allowance, row.started_at, pauses)


def pauses_json(pauses: Sequence[Pause]) -> list[list[str | None]]:
    return [
        [p.paused_at.isoformat(), None if p.resumed_at is None else p.resumed_at.isoformat()]
        + ([p.reason] if p.reason else [])
        for p in pauses
    ]


# ── when the card can next change (pure) ──


def yellow_allowance(clock: ClockState, policy: SlaPolicy, calendar: WorkCalendar) -> Allowance:
    """The yellow threshold as whole minutes, rounded up so the card is yellow once reached."""
    total_us = calendar.duration(clock.allowance) // _INSTANT
    minutes = math.ceil(Fraction(policy.yellow_share) * total_us / 60_000_000)
    return Allowance.minutes(max(minutes, 1))


def next_check(
    clock: ClockState, card: Card, *, calendar: WorkCalendar, policy: SlaPolicy
) -> datetime | None:
    """The moment the card can next rise above ``card``; None if not before a resume, or red."""
    if card is Card.red:
        return None
    if card is Card.none:
        threshold = replace(clock, allowance=yellow_allowance(clock, policy, calendar))
        yellow = due_time(threshold, calendar=calendar)
        return None if yellow is None else yellow.due_utc
    return red_check(due_time(clock, calendar=calendar))


def red_check(due: DueTime | None) -> datetime | None:
    """The red card is due once the due time has passed: the first instant after it."""
    return None if due is None else due.due_utc + _INSTANT


def refresh(
    row: SlaClockRow, clock: ClockState, *, calendar: WorkCalendar, policy: SlaPolicy
) -> None:
    """Store ``clock`` in ``row`` and recompute its cached due time and next check."""
    row.pauses = pauses_json(clock.pauses)
    due = due_time(clock, calendar=calendar)
    row.due_at = None if due is None else due.due_utc
    row.provisional = False if due is None else due.provisional
    card = Card(row.card)
    row.next_check_at = (
        next_check(clock, card, calendar=calendar, policy=policy) if row.active else None
    )


def higher_card(a: Card, b: Card) -> Card:
    return a if CARD_ORDER.index(a) >= CARD_ORDER.index(b) else b


# ── starting, pausing, stopping ──


async def active_clock(session: AsyncSession, case_id: str) -> SlaClockRow | None:
    query = select(SlaClockRow).where(SlaClockRow.case_id == case_id, SlaClockRow.active)
    # Locked so a concurrent tick skips it rather than writing caches from the old state.
    result: SlaClockRow | None = await session.scalar(query.with_for_update())
    return result


async def start_for_case(
    session: AsyncSession,
    case: Case,
    *,
    now: datetime,
    policy: SlaPolicy,
    phase: str = INITIAL,
    sla_class: str | None = None,
    calendar: WorkCalendar | None = None,
) -> SlaClockRow:
    """Start the case's clock of its class; a running clock of the same phase is kept."""
    running = await active_clock(session, case.id)
    if running is not None and running.phase == phase:
        return running
    return await _start(
        session,
        case,
        running,
        now=now,
        policy=policy,
        phase=phase,
        sla_class=sla_class,
        calendar=calendar,
    )


async def restart_for_case(
    session: AsyncSession,
    case: Case,
    *,
    now: datetime,
    policy: SlaPolicy,
    phase: str,
    sla_class: str | None = None,
    calendar: WorkCalendar | None = None,
) -> SlaClockRow:
    """Stop the running clock (if any) at ``now`` and start a new one: one running per case."""
    running = await active_clock(session, case.id)
    return await _start(
        session,
        case,
        running,
        now=now,
        policy=policy,
        phase=phase,
        sla_class=sla_class,
        calendar=calendar,
    )


async def _start(
    session: AsyncSession,
    case: Case,
    running: SlaClockRow | None,
    *,
    now: datetime,
    policy: SlaPolicy,
    phase: str,
    sla_class: str | None,
    calendar: WorkCalendar | None,
) -> SlaClockRow:
    if running is not None:
        _stop(running, now)
        await session.flush()
    calendar = calendar or await load_calendar(session)
    clock = start_clock(SlaClass(sla_class or case.sla_class), policy, now)
    row = SlaClockRow(
        case_id=case.id,
        phase=phase,
        sla_class=clock.sla_class.value,
        allowance_unit=clock.allowance.unit.value,
        allowance_amount=clock.allowance.amount,
        started_at=now,
        pauses=[],
        active=True,
        card=Card.none.value,
    )
    if running is not None and running.held_by:  # a special procedure still holds the case
        row.held_by = running.held_by
        clock = pause(clock, now, _open_reason(running))
    refresh(row, clock, calendar=calendar, policy=policy)
    session.add(row)
    await _flush_new_clock(session)
    await append(session, SYSTEM, "sla.clock_started", case_id=case.id, detail=_start_detail(row))
    return row


async def _flush_new_clock(session: AsyncSession) -> None:
    try:
        await session.flush()
    except IntegrityError as exc:  # the partial unique index: one running clock per case
        raise Conflict(
            "该案件的办理时限正在被同时启动，请重试。",
            "This case's SLA clock is being started concurrently; retry.",
        ) from exc


def _open_reason(row: SlaClockRow) -> str:
    clock = clock_state(row)
    return clock.pauses[-1].reason if clock.paused else ""


def _start_detail(row: SlaClockRow) -> dict[str, Any]:
    return {
        "clock": row.id,
        "phase": row.phase,
        "sla_class": row.sla_class,
        "allowance": f"{row.allowance_amount} {row.allowance_unit}",
        "due_at": None if row.due_at is None else row.due_at.isoformat(),
        "provisional": row.provisional,
    }


def _stop(row: SlaClockRow, now: datetime) -> None:
    # An open pause stays open: the clock ended while waiting, it never resumed.
    row.active = False
    row.stopped_at = now
    row.next_check_at = None


async def on_transition(
    session: AsyncSession,
    case: Case,
    old: CaseState,
    new: CaseState,
    now: datetime,
) -> None:
    """Follow a case transition (see the module docstring) with the policy the session carries.
    A case without a clock is fine."""
    if old is new:
        return
    policy = session_policy(session)
    if new is CaseState.rectification_submitted:
        await restart_for_case(
            session, case, now=now, policy=policy, phase=REINSPECTION, sla_class=REINSPECTION
        )
        return
    row = await active_clock(session, case.id)
    if row is None:
        return
    if new in STOP_STATES:
        _stop(row, now)
    elif new in APPLICANT_WAIT_STATES and old not in APPLICANT_WAIT_STATES:
        await _move(session, row, now, policy, paused=True)
    elif old in APPLICANT_WAIT_STATES and new not in APPLICANT_WAIT_STATES:
        if not row.held_by:  # a special procedure keeps the clock paused until it ends
            await _move(session, row, now, policy, paused=False)
    await session.flush()


async def _move(
    session: AsyncSession, row: SlaClockRow, now: datetime, policy: SlaPolicy, *, paused: bool
) -> None:
    clock = clock_state(row)
    if clock.paused is paused:  # already there (a row written before this rule): leave it
        return
    # A clock's moments are in order; a caller's clock running behind must not break that.
    at = max(now, clock.started_at, *(m for p in clock.pauses for m in _moments(p)))
    clock = pause(clock, at) if paused else resume(clock, at)
    refresh(row, clock, calendar=await load_calendar(session), policy=policy)


def _moments(p: Pause) -> tuple[datetime, ...]:
    return (p.paused_at,) if p.resumed_at is None else (p.paused_at, p.resumed_at)


# ── the board's view of one case ──


class ClockView(BaseModel):
    """One case's current clock (the running one, else the last one) as the board shows it."""

    case_id: str
    clock_id: str
    phase: str
    sla_class: str
    allowance_amount: int
    allowance_unit: str
    started_at: datetime
    stopped_at: datetime | None
    active: bool
    paused: bool
    due_at: datetime | None  # UTC; None while paused with allowance left
    due_at_local: datetime | None  # the same instant in Asia/Shanghai
    provisional: bool  # depends on a holiday calendar not yet published
    used_share: float
    used_minutes: int
    remaining_minutes: int
    card: str
    yellow_at: datetime | None
    red_at: datetime | None
    held_by: str | None = None  # the special procedure (特别程序) suspending the clock
    message_zh: str
    message_en: str


async def current_clock(session: AsyncSession, case_id: str) -> SlaClockRow | None:
    query = (
        select(SlaClockRow)
        .where(SlaClockRow.case_id == case_id)
        .order_by(SlaClockRow.active.desc(), SlaClockRow.started_at.desc())
        .limit(1)
    )
    result: SlaClockRow | None = await session.scalar(query)
    return result


async def clock_view(
    session: AsyncSession, case_id: str, now: datetime, *, policy: SlaPolicy
) -> ClockView:
    row = await current_clock(session, case_id)
    if row is None:
        raise not_found("该案件的办理时限计时", "SLA clock of this case")
    clock = clock_state(row)
    at = now if row.stopped_at is None else min(now, row.stopped_at)
    status = clock_status(clock, at, calendar=await load_calendar(session), policy=policy)
    # The stored card is what was issued (and audited); show the live one if it is higher.
    card = higher_card(Card(row.card), status.card)
    due = None if status.due is None else status.due.due_utc
    provisional = _provisional(status)
    held = row.active and bool(row.held_by)
    zh, en = _message(
        card, paused=status.paused, active=row.active, provisional=provisional, held=held
    )
    return ClockView(
        case_id=case_id,
        clock_id=row.id,
        phase=row.phase,
        sla_class=row.sla_class,
        allowance_amount=row.allowance_amount,
        allowance_unit=row.allowance_unit,
        started_at=row.started_at,
        stopped_at=row.stopped_at,
        active=row.active,
        paused=status.paused,
        due_at=due,
        due_at_local=None if due is None else due.astimezone(CHINA_TZ),
        provisional=provisional,
        used_share=round(status.used_share, 4),
        used_minutes=int(status.used // timedelta(minutes=1)),
        remaining_minutes=math.ceil(status.remaining / timedelta(minutes=1)),
        card=card.value,
        yellow_at=row.yellow_at,
        red_at=row.red_at,
        held_by=row.held_by if held else None,
        message_zh=zh,
        message_en=en,
    )


def _provisional(status: ClockStatus) -> bool:
    return status.due is not None and bool(status.due.provisional)


_CARD_TEXT = {
    Card.none: ("正常", "On time"),
    Card.yellow: ("黄牌预警：办理时限将至", "Yellow card: due soon"),
    Card.red: ("红牌：已超过办理时限", "Red card: overdue"),
}


def _message(
    card: Card, *, paused: bool, active: bool, provisional: bool, held: bool = False
) -> tuple[str, str]:
    zh, en = _CARD_TEXT[card]
    if not active:
        zh, en = f"已停止计时（{zh}）", f"Clock stopped ({en})"
    elif held:
        zh, en = f"暂停计时，特别程序进行中（{zh}）", f"Paused for a special procedure ({en})"
    elif paused:
        zh, en = f"暂停计时，等待申请人（{zh}）", f"Paused, waiting for the applicant ({en})"
    if provisional:
        zh += "。截止时间按尚未公布的节假日安排推算，可能调整"
        en += ". The due time assumes a holiday calendar not yet published and may change"
    return zh, en
