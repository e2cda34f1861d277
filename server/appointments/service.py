"""Appointments (预约): inspectors offer slots, the applicant picks one; reschedules, no-shows."""

from __future__ import annotations

import itertools
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from server.appointments.booking_rules import (
    LateWarning,
    booking_limits,
    check_due_time,
    check_working_days,
)
from server.appointments.models import Appointment, Slot
from server.audit.service import Actor, append
from server.cases.models import Case
from server.cases.states import CaseAction, CaseState, allowed_actions, require_allowed
from server.cases.workflow import transition
from server.config import Settings
from server.errors import BadInput, Conflict, not_found
from server.notifications import events

MAX_SLOTS = 5
MIN_LENGTH, MAX_LENGTH = timedelta(minutes=15), timedelta(hours=4)
MIN_NOTICE = timedelta(minutes=10)


def check_slots(slots: list[tuple[datetime, datetime]], now: datetime) -> None:
    """Pure checks on offered times: in the future, sensible length, no overlaps."""
    if not 1 <= len(slots) <= MAX_SLOTS:
        raise BadInput(f"每次请提供 1 至 {MAX_SLOTS} 个时段。", f"Offer 1 to {MAX_SLOTS} slots.")
    for start, end in slots:
        if start < now + MIN_NOTICE:
            raise BadInput(
                "预约时段必须在至少 10 分钟之后。", "Slots must start at least 10 minutes from now."
            )
        if not MIN_LENGTH <= end - start <= MAX_LENGTH:
            raise BadInput(
                "每个时段应为 15 分钟到 4 小时。", "Each slot must last 15 minutes to 4 hours."
            )
    ordered = sorted(slots)
    for (_, end), (start, _) in itertools.pairwise(ordered):
        if start < end:
            raise BadInput("提供的时段互相重叠。", "The offered slots overlap.")


def _require_action(case: Case, action: CaseAction) -> None:
    require_allowed(case.state, action)


async def propose_slots(
    session: AsyncSession,
    settings: Settings,
    actor: Actor,
    case: Case,
    slots: list[tuple[datetime, datetime]],
    now: datetime,
) -> tuple[list[Slot], LateWarning | None]:
    """Offer slots on working days before the due time (``booking_rules``); a warning when
    the case is already past it."""
    _require_action(case, CaseAction.schedule)
    check_slots(slots, now)
    limits = await booking_limits(session, case.id, now)
    check_working_days(slots, limits.calendar)
    late = check_due_time(slots, limits, by_applicant=False)
    rows = [Slot(case_id=case.id, starts_at=s, ends_at=e, proposed_by=actor.id) for s, e in slots]
    session.add_all(rows)
    await session.flush()
    await append(
        session,
        actor,
        "appointment.slots_proposed",
        case_id=case.id,
        detail={"slots": [[s.isoformat(), e.isoformat()] for s, e in slots], "late": bool(late)},
    )
    first = min(rows, key=lambda r: r.starts_at)
    await events.slots_proposed(session, settings, case, first.starts_at, first.id)
    return rows, late


async def open_slots(session: AsyncSession, case_id: str, now: datetime) -> list[Slot]:
    return list(
        await session.scalars(
            select(Slot)
            .where(Slot.case_id == case_id, Slot.status == "open", Slot.starts_at > now)
            .order_by(Slot.starts_at)
        )
    )


async def current_appointment(session: AsyncSession, case_id: str) -> Appointment | None:
    appointment: Appointment | None = await session.scalar(
        select(Appointment).where(Appointment.case_id == case_id, Appointment.status == "scheduled")
    )
    return appointment


async def accept_slot(
    session: AsyncSession, settings: Settings, actor: Actor, case: Case, slot_id: str, now: datetime
) -> tuple[Appointment, LateWarning | None]:
    """The applicant picks a slot; the other open slots are withdrawn; both sides are told.
    The booking rules are checked again: the calendar or the due time may have moved."""
    _require_action(case, CaseAction.schedule)
    slot = await session.get(Slot, slot_id)
    if slot is None or slot.case_id != case.id:
        raise not_found("该预约时段", "Slot")
    if slot.status != "open" or slot.starts_at <= now:
        raise Conflict(
            "该时段已不可选，请选择其他时段。", "That slot is no longer available; pick another."
        )
    limits = await booking_limits(session, case.id, now)
    check_working_days([(slot.starts_at, slot.ends_at)], limits.calendar)
    late = check_due_time([(slot.starts_at, slot.ends_at)], limits, by_applicant=True)
    await session.execute(
        update(Slot)
        .where(Slot.case_id == case.id, Slot.status == "open")
        .values(status="withdrawn")
    )
    slot.status = "taken"
    appointment = Appointment(
        case_id=case.id, slot_id=slot.id, starts_at=slot.starts_at, ends_at=slot.ends_at
    )
    session.add(appointment)
    await session.flush()
    await transition(
        session,
        actor,
        case,
        CaseAction.schedule,
        detail={
            "appointment": appointment.id,
            "starts_at": slot.starts_at.isoformat(),
            "late": bool(late),
        },
    )
    await events.appointment_confirmed(
        session, settings, case, appointment.starts_at, appointment.id
    )
    return appointment, late


async def _close_current(
    session: AsyncSession, case: Case, status: str, actor: Actor, reason: str
) -> None:
    appointment = await current_appointment(session, case.id)
    if appointment is not None:
        appointment.status, appointment.closed_reason, appointment.closed_by = (
            status,
            reason,
            actor.id,
        )


async def reschedule(
    session: AsyncSession, actor: Actor, case: Case, *, by_applicant: bool, reason: str
) -> CaseState:
    """Move the appointment. At the applicant's request the SLA clock pauses meanwhile."""
    if not reason.strip():
        raise BadInput("改约需要说明理由。", "A reason is required to reschedule.")
    action = CaseAction.request_reschedule if by_applicant else CaseAction.reschedule
    _require_action(case, action)
    await _close_current(session, case, "rescheduled", actor, reason)
    return await transition(session, actor, case, action, reason=reason)


async def end_bookings(session: AsyncSession, actor: Actor, case: Case, reason: str) -> None:
    """The case leaves the video path: offered slots are withdrawn, the appointment ends."""
    await session.execute(
        update(Slot)
        .where(Slot.case_id == case.id, Slot.status == "open")
        .values(status="withdrawn")
    )
    await _close_current(session, case, "moved_onsite", actor, reason)


async def record_applicant_joined(session: AsyncSession, case_id: str, at: datetime) -> None:
    """Called when the applicant's phone joins the call; stops the no-show rule."""
    await session.execute(
        update(Appointment)
        .where(
            Appointment.case_id == case_id,
            Appointment.status == "scheduled",
            Appointment.applicant_joined_at.is_(None),
        )
        .values(applicant_joined_at=at)
    )


OnNoShow = Callable[[AsyncSession, Case, Appointment], Awaitable[None]]


async def mark_no_shows(
    sessionmaker: async_sessionmaker[AsyncSession],
    *,
    no_show_after: timedelta,
    now: datetime,
    on_no_show: OnNoShow | None = None,
) -> int:
    """The no-show rule: not joined ``no_show_after`` past the start → recorded, clock paused."""
    async with sessionmaker() as session:
        due = list(
            await session.scalars(
                select(Appointment.id).where(
                    Appointment.status == "scheduled",
                    Appointment.applicant_joined_at.is_(None),
                    Appointment.starts_at <= now - no_show_after,
                )
            )
        )
    marked = 0
    for appointment_id in due:
        marked += await _mark_one(sessionmaker, appointment_id, no_show_after, now, on_no_show)
    return marked


async def _mark_one(
    sessionmaker: async_sessionmaker[AsyncSession],
    appointment_id: str,
    no_show_after: timedelta,
    now: datetime,
    on_no_show: OnNoShow | None,
) -> int:
    actor = Actor.system("no-show-rule")
    async with sessionmaker() as session:
        claimed = await session.execute(
            update(Appointment)
            .where(
                Appointment.id == appointment_id,
                Appointment.status == "scheduled",
                Appointment.applicant_joined_at.is_(None),
            )
            .values(
                status="no_show",
                closed_by=actor.id,
                closed_reason=f"申请人在预约开始 {no_show_after.seconds // 60} 分钟后仍未进入",
            )
        )
        if claimed.rowcount != 1:  # type: ignore[attr-defined]
            return 0  # joined meanwhile, or another process marked it
        appointment = await session.get(Appointment, appointment_id)
        assert appointment is not None
        case = await session.get(Case, appointment.case_id)
        if case is None or CaseAction.mark_no_show not in allowed_actions(CaseState(case.state)):
            # The case moved on (call started, cancelled…): the appointment just lapses.
            appointment.status = "lapsed"
            await session.commit()
            return 0
        await transition(
            session,
            actor,
            case,
            CaseAction.mark_no_show,
            now=now,
            detail={"appointment": appointment_id},
        )
        if on_no_show is not None:
            await on_no_show(session, case, appointment)
        await session.commit()
    return 1
