"""Calendar overrides (节假日调整): an admin declares a date a working day or a day off, and the
running clocks whose counted time can include that date have their due time recomputed."""

from __future__ import annotations

import datetime as dt
from datetime import datetime, time, timedelta

from sqlalchemy import or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from server.audit.service import Actor, append
from server.errors import BadInput, Conflict, not_found
from server.platform.time import CHINA_TZ
from server.sla.clock import SlaPolicy
from server.sla.models import CalendarOverrideRow, SlaClockRow
from server.sla.service import clock_state, load_calendar, refresh


async def list_overrides(
    session: AsyncSession, *, year: int | None = None
) -> list[CalendarOverrideRow]:
    query = select(CalendarOverrideRow).order_by(CalendarOverrideRow.date)
    if year is not None:
        query = query.where(
            CalendarOverrideRow.date >= dt.date(year, 1, 1),
            CalendarOverrideRow.date <= dt.date(year, 12, 31),
        )
    return list((await session.scalars(query)).all())


async def set_override(
    session: AsyncSession,
    actor: Actor,
    day: dt.date,
    *,
    is_workday: bool,
    note: str,
    policy: SlaPolicy,
) -> tuple[CalendarOverrideRow, int]:
    """Record an admin's ruling on ``day`` and move the due times of the clocks it touches."""
    note = note.strip()
    if not note:
        raise BadInput(
            "请填写调整原因（如：国务院办公厅放假通知、本局临时闭馆）。",
            "A note is required (e.g. the State Council's holiday notice, a local closure).",
            field="note",
        )
    row = await session.get(CalendarOverrideRow, day)
    previous = None if row is None else {"is_workday": row.is_workday, "note": row.note}
    if row is None:
        row = CalendarOverrideRow(date=day, is_workday=is_workday, note=note, created_by=actor.id)
        session.add(row)
    else:
        row.is_workday, row.note, row.created_by = is_workday, note, actor.id
    await _flush_override(session)
    moved = await refresh_clocks_covering(session, day, policy=policy)
    detail = {"date": day.isoformat(), "is_workday": is_workday, "note": note}
    await append(
        session,
        actor,
        "calendar.override_set",
        detail=detail | {"previous": previous, "clocks_refreshed": moved},
    )
    return row, moved


async def _flush_override(session: AsyncSession) -> None:
    try:
        await session.flush()
    except IntegrityError as exc:
        raise Conflict(
            "该日期正被他人同时设置，请刷新后重试。",
            "Someone else is setting this date right now; reload and retry.",
        ) from exc


async def remove_override(
    session: AsyncSession, actor: Actor, day: dt.date, *, policy: SlaPolicy
) -> int:
    row = await session.get(CalendarOverrideRow, day)
    if row is None:
        raise not_found(f"{day.isoformat()} 的日历调整", f"Calendar override for {day}")
    previous = {"is_workday": row.is_workday, "note": row.note}
    await session.delete(row)
    await session.flush()
    moved = await refresh_clocks_covering(session, day, policy=policy)
    await append(
        session,
        actor,
        "calendar.override_removed",
        detail={"date": day.isoformat(), "previous": previous, "clocks_refreshed": moved},
    )
    return moved


async def refresh_clocks_covering(session: AsyncSession, day: dt.date, *, policy: SlaPolicy) -> int:
    """Recompute the caches of running clocks whose counted time can include ``day``."""
    day_start = datetime.combine(day, time(), tzinfo=CHINA_TZ)
    day_end = day_start + timedelta(days=1)
    calendar = await load_calendar(session)
    rows = await session.scalars(
        select(SlaClockRow).where(
            SlaClockRow.active,
            SlaClockRow.started_at < day_end,
            or_(SlaClockRow.due_at.is_(None), SlaClockRow.due_at >= day_start),
        )
    )
    count = 0
    for row in rows:
        refresh(row, clock_state(row), calendar=calendar, policy=policy)
        count += 1
    await session.flush()
    return count
