"""Working days and working time (工作日与工作时间) for SLA clocks, in Asia/Shanghai time.

Which days are working days, in order of precedence:

1. an admin's ``CalendarOverride`` for that date (a holiday or 调休 workday the package does not
   know yet, or a local closure);
2. China's official calendar from ``chinese-calendar``, including swapped workdays (调休). The
   package knows a year only once the State Council has published it (1.11 covers 2004–2026);
3. otherwise Monday–Friday. Such a day is *provisional*, and any due time that depends on it is
   marked provisional so the board can say so.

Working time is what falls inside the bureau's ``WorkingHours`` on working days (default
09:00–12:00 and 13:30–17:30, seven hours; a case that arrives at 11:30 with one hour left is due
at 14:00, after the lunch break). Allowances are in working minutes or working days, and
**N working days = N × the length of one working day of working time**: a clock started at
10:00 on a working day with one working day is due at 10:00 on the next working day. A clock
started outside working hours starts at the next opening, and a due time that uses up a period
exactly is reported at that period's end (Friday 17:30, not Monday 09:00).

Inputs and outputs are aware datetimes (stored as UTC); the arithmetic is on local wall time.
"""

from __future__ import annotations

import functools
import itertools
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from types import MappingProxyType

import chinese_calendar

from server.errors import BadInput
from server.platform.time import CHINA_TZ

# No real calendar has a year without working days; this bound only stops a runaway loop
# when overrides have turned every day off.
_MAX_DAYS_SCANNED = 3 * 366


class DaySource(StrEnum):
    override = "override"  # an admin's entry
    official = "official"  # chinese-calendar, from the State Council's notice
    fallback = "fallback"  # Monday–Friday guess for a year not yet published: provisional


class AllowanceUnit(StrEnum):
    minutes = "minutes"
    working_days = "working_days"


@dataclass(frozen=True)
class Allowance:
    """How much working time a step may take: working minutes or whole working days."""

    amount: int
    unit: AllowanceUnit

    def __post_init__(self) -> None:
        if self.amount <= 0:
            raise BadInput("时限必须大于零。", "An SLA allowance must be positive.")

    @classmethod
    def minutes(cls, amount: int) -> Allowance:
        return cls(amount, AllowanceUnit.minutes)

    @classmethod
    def hours(cls, amount: int) -> Allowance:
        return cls(amount * 60, AllowanceUnit.minutes)

    @classmethod
    def working_days(cls, amount: int) -> Allowance:
        return cls(amount, AllowanceUnit.working_days)


@dataclass(frozen=True)
class CalendarOverride:
    """An admin's ruling on one date; wins over the official calendar and the fallback."""

    date: date
    is_workday: bool
    note: str = ""


@dataclass(frozen=True)
class DayInfo:
    date: date
    is_workday: bool
    source: DaySource
    note: str = ""

    @property
    def provisional(self) -> bool:
        return self.source is DaySource.fallback


@dataclass(frozen=True)
class WorkingHours:
    """The bureau's opening periods on a working day, in local wall time, in order."""

    periods: tuple[tuple[time, time], ...] = ((time(9), time(12)), (time(13, 30), time(17, 30)))

    def __post_init__(self) -> None:
        if not self.periods:
            raise BadInput("至少需要一个工作时段。", "At least one working period is required.")
        bounds = [t for period in self.periods for t in period]
        if any(b <= a for a, b in itertools.pairwise(bounds)):
            raise BadInput(
                "工作时段必须按时间先后排列且互不重叠。",
                "Working periods must be in order and must not overlap.",
            )

    @property
    def day_length(self) -> timedelta:
        return sum((_span(a, b) for a, b in self.periods), timedelta())

    def on(self, day: date) -> Iterator[tuple[datetime, datetime]]:
        """The periods of ``day`` as aware local datetimes."""
        for start, end in self.periods:
            yield (
                datetime.combine(day, start, tzinfo=CHINA_TZ),
                datetime.combine(day, end, tzinfo=CHINA_TZ),
            )


@dataclass(frozen=True)
class DueTime:
    due_utc: datetime
    provisional: bool  # depends on a day the official calendar does not cover yet


class WorkCalendar:
    """Working days (official calendar + overrides + fallback) and working-time arithmetic."""

    def __init__(
        self, overrides: Iterable[CalendarOverride] = (), hours: WorkingHours | None = None
    ) -> None:
        by_date: dict[date, CalendarOverride] = {}
        for override in overrides:
            if override.date in by_date:
                raise BadInput(
                    f"{override.date} 有重复的日历设置。",
                    f"{override.date} is overridden more than once.",
                )
            by_date[override.date] = override
        self.overrides = MappingProxyType(by_date)
        self.hours = hours or WorkingHours()

    # ── days ──

    def day(self, day: date) -> DayInfo:
        override = self.overrides.get(day)
        if override is not None:
            return DayInfo(day, override.is_workday, DaySource.override, override.note)
        if self.is_known(day):
            return DayInfo(day, bool(chinese_calendar.is_workday(day)), DaySource.official)
        return DayInfo(day, day.weekday() < 5, DaySource.fallback)

    def is_workday(self, day: date) -> bool:
        return self.day(day).is_workday

    def is_known(self, day: date) -> bool:
        """Whether the official calendar (chinese-calendar) covers ``day``'s year."""
        return _official_year_known(day.year)

    def is_provisional(self, day: date) -> bool:
        return self.day(day).provisional

    def any_provisional(self, first: date, last: date) -> bool:
        return any(self.is_provisional(d) for d in _days(first, last))

    # ── working time ──

    def duration(self, allowance: Allowance) -> timedelta:
        """An allowance as working time: working days count ``hours.day_length`` each."""
        if allowance.unit is AllowanceUnit.working_days:
            return allowance.amount * self.hours.day_length
        return timedelta(minutes=allowance.amount)

    def add_working_time(self, start: datetime, allowance: Allowance | timedelta) -> DueTime:
        """The earliest instant by which ``allowance`` of working time has passed since start."""
        remaining = allowance if isinstance(allowance, timedelta) else self.duration(allowance)
        local_start = _local(start)
        due = self._advance(local_start, remaining)
        provisional = self.any_provisional(local_start.date(), due.date())
        return DueTime(due.astimezone(UTC), provisional)

    def working_time_between(self, start: datetime, end: datetime) -> timedelta:
        """Working time inside [start, end); zero when end is not after start."""
        a, b = _local(start), _local(end)
        total = timedelta()
        if b <= a:
            return total
        for day in _days(a.date(), b.date()):
            if not self.is_workday(day):
                continue
            for p_start, p_end in self.hours.on(day):
                total += max(timedelta(), min(b, p_end) - max(a, p_start))
        return total

    def _advance(self, cursor: datetime, remaining: timedelta) -> datetime:
        if remaining < timedelta():
            raise BadInput("时限不能为负数。", "An allowance must not be negative.")
        if remaining == timedelta():
            return cursor
        day = cursor.date()
        for _ in range(_MAX_DAYS_SCANNED):
            if self.is_workday(day):
                for p_start, p_end in self.hours.on(day):
                    begin = max(p_start, cursor)
                    if begin >= p_end:
                        continue
                    if remaining <= p_end - begin:
                        return begin + remaining
                    remaining -= p_end - begin
            day += timedelta(days=1)
        raise BadInput(
            "日历设置中找不到足够的工作日。", "The calendar has no working days left to count."
        )


@functools.cache
def _official_year_known(year: int) -> bool:
    # chinese-calendar raises NotImplementedError outside the years it has data for; asking
    # is the only public way to learn its range.
    try:
        chinese_calendar.is_workday(date(year, 1, 1))
    except NotImplementedError:
        return False
    return True


def _local(moment: datetime) -> datetime:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise BadInput("时间必须带时区。", "Times must be timezone-aware.")
    return moment.astimezone(CHINA_TZ)


def _days(first: date, last: date) -> Iterator[date]:
    day = first
    while day <= last:
        yield day
        day += timedelta(days=1)


def _span(start: time, end: time) -> timedelta:
    anchor = date(2000, 1, 1)
    return datetime.combine(anchor, end) - datetime.combine(anchor, start)
