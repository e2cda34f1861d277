"""Reminders (提醒), one scheduler job: the day before and one hour before an agreed video
inspection, and one day before a rectification deadline. Each goes to the applicant.

A reminder is due once its point (start - 24 h, start - 1 h, deadline - 24 h) has passed and
the moment itself has not. A reminder whose point came before the appointment was booked (or
the round requested) is skipped: the confirmation the applicant just got already says it. Every
reminder has its own outbox event, so running the job again — or in two processes — adds
nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from server.appointments.models import Appointment
from server.cases.models import Case
from server.config import Settings
from server.notifications import repository
from server.notifications.service import configured_channels, notify
from server.platform.time import shanghai_time
from server.rectification.models import RectificationRound

DAY_BEFORE = timedelta(days=1)
HOUR_BEFORE = timedelta(hours=1)


@dataclass(frozen=True, slots=True)
class Due:
    """One reminder to enqueue."""

    case_id: str
    template: str
    event: str
    param: str  # "time" or "deadline"
    at: datetime


def _appointment_reminder(appointment: Appointment, now: datetime) -> Due | None:
    start = appointment.starts_at
    if now >= start:
        return None
    for lead, name in ((HOUR_BEFORE, "hour"), (DAY_BEFORE, "day")):
        point = start - lead
        if now >= point:
            if appointment.created_at >= point:
                return None
            event = f"reminder:{appointment.id}:{name}"
            return Due(appointment.case_id, "appointment_reminder", event, "time", start)
    return None


def _rectification_reminder(r: RectificationRound, now: datetime) -> Due | None:
    point = r.deadline - DAY_BEFORE
    if not point <= now < r.deadline or r.requested_at >= point:
        return None
    event = f"rectification_reminder:{r.id}"
    return Due(r.case_id, "rectification_reminder", event, "deadline", r.deadline)


async def due_reminders(session: AsyncSession, now: datetime) -> list[Due]:
    appointments = await repository.appointments_starting(session, now, DAY_BEFORE)
    rounds = await repository.open_rounds_due(session, now, DAY_BEFORE)
    found: Sequence[Due | None] = [_appointment_reminder(a, now) for a in appointments] + [
        _rectification_reminder(r, now) for r in rounds
    ]
    return [d for d in found if d is not None]


async def _enqueue(session: AsyncSession, settings: Settings, due: Due) -> bool:
    case = await session.get(Case, due.case_id)
    if case is None:
        return False
    added = await notify(
        session,
        template=due.template,
        params={"case_number": case.number, due.param: shanghai_time(due.at)},
        event=due.event,
        channels=configured_channels(settings),
        case_id=case.id,
        applicant=True,
    )
    return bool(added)


async def send_reminders(
    sessionmaker: async_sessionmaker[AsyncSession], settings: Settings, now: datetime
) -> int:
    """Enqueue the reminders due at ``now``; returns how many were new."""
    async with sessionmaker() as session:
        due = await due_reminders(session, now)
        sent = [await _enqueue(session, settings, d) for d in due]
        await session.commit()
    return sum(sent)
