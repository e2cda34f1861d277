"""Dates and times as people and phones send them, checked at the edge (one rule, one place).

Every request field and query parameter that is a date or a time uses one of these types:

* :data:`BeijingDateTime` — an ISO 8601 time. With an offset (``+08:00``, ``Z``) it means what
  it says; without one it is Beijing time (Asia/Shanghai), as people here read clocks; a plain
  date (``2026-01-01``) is the start of that day in Beijing. Handed on aware, with the offset
  it came with (so a device's own offset stays on record).
* :data:`BeijingDate` — a calendar day (``2026-01-01``), as on the Beijing calendar.

Both must fall within :data:`EARLIEST` .. :data:`LATEST` (as read in Beijing); anything else
(year 0001, year 9999, garbage) is a 422 problem+json naming the field, never a crash deeper in.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Annotated

from pydantic import AfterValidator

from server.platform.time import CHINA_TZ

EARLIEST = date(2000, 1, 1)
LATEST = date(2100, 12, 31)
SLACK = timedelta(days=1)  # an offset moves a written date by less than this


def _outside(day: date) -> bool:
    return not EARLIEST <= day <= LATEST


def _window_error() -> ValueError:
    return ValueError(
        f"must be between {EARLIEST.isoformat()} and {LATEST.isoformat()} (Beijing time) / "
        f"须在 {EARLIEST.isoformat()} 至 {LATEST.isoformat()}（北京时间）之间"
    )


def beijing_datetime(value: datetime) -> datetime:
    """Naive → Beijing; then within the window as read in Beijing; returned aware.

    The written date is checked (a day either side) before any arithmetic, so year 1 or 9999
    with an offset cannot overflow on the way.
    """
    if not EARLIEST - SLACK <= value.date() <= LATEST + SLACK:
        raise _window_error()
    aware = value.replace(tzinfo=CHINA_TZ) if value.tzinfo is None else value
    if _outside(aware.astimezone(CHINA_TZ).date()):
        raise _window_error()
    return aware


def beijing_date(value: date) -> date:
    if _outside(value):
        raise _window_error()
    return value


def start_of_day(day: date) -> datetime:
    """The first instant of ``day`` in Beijing (as an aware UTC time)."""
    return datetime.combine(day, time(), tzinfo=CHINA_TZ).astimezone(UTC)


# pydantic's lax datetime parsing already takes a plain date as its midnight (naive), which
# beijing_datetime then reads as Beijing: "2026-01-01" is 2026-01-01T00:00+08:00.
BeijingDateTime = Annotated[datetime, AfterValidator(beijing_datetime)]
BeijingDate = Annotated[date, AfterValidator(beijing_date)]
