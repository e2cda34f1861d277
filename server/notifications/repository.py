"""Queries of the notifications module that take more than a line."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from server.appointments.models import Appointment
from server.rectification.models import RectificationRound


async def appointments_starting(
    session: AsyncSession, now: datetime, within: timedelta
) -> Sequence[Appointment]:
    """Agreed appointments that start after ``now`` and no later than ``now + within``."""
    rows = await session.scalars(
        select(Appointment).where(
            Appointment.status == "scheduled",
            Appointment.starts_at > now,
            Appointment.starts_at <= now + within,
        )
    )
    return rows.all()


async def open_rounds_due(
    session: AsyncSession, now: datetime, within: timedelta
) -> Sequence[RectificationRound]:
    """Open rectification rounds whose deadline falls after ``now``, within ``within``."""
    rows = await session.scalars(
        select(RectificationRound).where(
            RectificationRound.status == "open",
            RectificationRound.deadline > now,
            RectificationRound.deadline <= now + within,
        )
    )
    return rows.all()
