"""SLA clocks (办理时限): due times that skip non-working time and pauses, and the cards.

A clock is plain data (``ClockState``) that the service stores and a scheduler tick reads; every
function here is pure and takes ``now``. The allowance is copied from the ``SlaPolicy`` when the
clock starts, so changing the policy later does not move the due time of running cases.

While the case waits on the applicant (补正、申请人改约) the clock is paused; the due time moves
out by the working time the pause covered. A yellow card (黄牌预警) shows once a share of the
allowance (default 75 %) is used, a red card (红牌) once the due time has passed.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from enum import StrEnum

from server.errors import BadInput, InvalidState
from server.platform.time import CHINA_TZ
from server.sla.calendar import Allowance, DueTime, WorkCalendar


class SlaClass(StrEnum):
    """办理时限类别. Offline on-site inspections use ``complex``."""

    simple = "simple"  # 简易: 1 working hour
    general = "general"  # 一般: 1 working day
    reinspection = "reinspection"  # 复核: "immediate", a short configurable limit
    complex = "complex"  # 复杂/线下: 3 working days


class Card(StrEnum):
    none = "none"
    yellow = "yellow"
    red = "red"


_ONE_HOUR = Allowance.hours(1)
_TWO_HOURS = Allowance.hours(2)
_ONE_DAY = Allowance.working_days(1)
_THREE_DAYS = Allowance.working_days(3)


@dataclass(frozen=True)
class SlaPolicy:
    """Allowances per class and the yellow-card threshold; configurable by admins."""

    simple: Allowance = _ONE_HOUR
    general: Allowance = _ONE_DAY
    reinspection: Allowance = _TWO_HOURS
    complex: Allowance = _THREE_DAYS
    yellow_share: float = 0.75

    def __post_init__(self) -> None:
        if not 0 < self.yellow_share < 1:
            raise BadInput(
                "黄牌预警比例必须在 0 与 1 之间。", "The yellow-card share must be between 0 and 1."
            )

    def allowance(self, sla_class: SlaClass) -> Allowance:
        allowance: Allowance = getattr(self, sla_class.value)
        return allowance


@dataclass(frozen=True)
class Pause:
    paused_at: datetime
    resumed_at: datetime | None = None
    reason: str = ""  # empty: the applicant's wait; else why (e.g. a special procedure)


@dataclass(frozen=True)
class ClockState:
    """One case's clock: when it started, its allowance, and its pauses (the last may be open)."""

    sla_class: SlaClass
    allowance: Allowance
    started_at: datetime
    pauses: tuple[Pause, ...] = ()

    def __post_init__(self) -> None:
        moments = [self.started_at]
        for i, p in enumerate(self.pauses):
            is_last = i == len(self.pauses) - 1
            if p.resumed_at is None and not is_last:
                raise BadInput("只有最后一次暂停可以未恢复。", "Only the last pause may be open.")
            moments += [p.paused_at] if p.resumed_at is None else [p.paused_at, p.resumed_at]
        if any(m.tzinfo is None or m.utcoffset() is None for m in moments):
            raise BadInput("时间必须带时区。", "Times must be timezone-aware.")
        if any(b < a for a, b in itertools.pairwise(moments)):
            raise BadInput(
                "计时的开始、暂停、恢复时间必须按先后顺序。",
                "Start, pause and resume times must be in order.",
            )

    @property
    def paused(self) -> bool:
        return bool(self.pauses) and self.pauses[-1].resumed_at is None


@dataclass(frozen=True)
class ClockStatus:
    """What the board shows for one clock at ``now``."""

    due: DueTime | None  # None while paused with allowance left: the due time is open
    used: timedelta
    remaining: timedelta
    used_share: float
    paused: bool
    card: Card


def start_clock(sla_class: SlaClass, policy: SlaPolicy, started_at: datetime) -> ClockState:
    return ClockState(sla_class, policy.allowance(sla_class), started_at)


def pause(clock: ClockState, at: datetime, reason: str = "") -> ClockState:
    """Stop the clock while the case waits on the applicant, or for ``reason``."""
    if clock.paused:
        raise InvalidState(
            "时限计时已经暂停，不能再次暂停。",
            "The time limit clock is already paused.",
            current="paused",
            attempted="pause",
            allowed=["resume"],
        )
    return replace(clock, pauses=(*clock.pauses, Pause(at, reason=reason)))


def resume(clock: ClockState, at: datetime) -> ClockState:
    if not clock.paused:
        raise InvalidState(
            "时限计时没有暂停，无需恢复。",
            "The time limit clock is running; there is nothing to resume.",
            current="running",
            attempted="resume",
            allowed=["pause"],
        )
    last = replace(clock.pauses[-1], resumed_at=at)
    return replace(clock, pauses=(*clock.pauses[:-1], last))


def due_time(clock: ClockState, *, calendar: WorkCalendar) -> DueTime | None:
    """When the allowance runs out, counting only working time outside pauses."""
    remaining = calendar.duration(clock.allowance)
    for start, end in _running_spans(clock):
        if end is not None:
            span = calendar.working_time_between(start, end)
            if span < remaining:
                remaining -= span
                continue
        due = calendar.add_working_time(start, remaining).due_utc
        # provisional if any day since the start is, not only those of the last span
        first_day = clock.started_at.astimezone(CHINA_TZ).date()
        last_day = due.astimezone(CHINA_TZ).date()
        return DueTime(due, calendar.any_provisional(first_day, last_day))
    return None  # paused before the allowance ran out


def used_time(clock: ClockState, now: datetime, *, calendar: WorkCalendar) -> timedelta:
    """Working time the clock has run up to ``now``, pauses excluded."""
    used = timedelta()
    for start, end in _running_spans(clock):
        stop = now if end is None else min(end, now)
        used += calendar.working_time_between(start, stop)
    return used


def used_share(clock: ClockState, now: datetime, *, calendar: WorkCalendar) -> float:
    return used_time(clock, now, calendar=calendar) / calendar.duration(clock.allowance)


def clock_status(
    clock: ClockState, now: datetime, *, calendar: WorkCalendar, policy: SlaPolicy
) -> ClockStatus:
    allowance = calendar.duration(clock.allowance)
    used = used_time(clock, now, calendar=calendar)
    due = due_time(clock, calendar=calendar)
    share = used / allowance
    if due is not None and now > due.due_utc:
        card_ = Card.red
    elif share >= policy.yellow_share:
        card_ = Card.yellow
    else:
        card_ = Card.none
    return ClockStatus(due, used, max(allowance - used, timedelta()), share, clock.paused, card_)


def card(clock: ClockState, now: datetime, *, calendar: WorkCalendar, policy: SlaPolicy) -> Card:
    """Red once the due time has passed, yellow once ``policy.yellow_share`` is used."""
    return clock_status(clock, now, calendar=calendar, policy=policy).card


def _running_spans(clock: ClockState) -> Iterator[tuple[datetime, datetime | None]]:
    """The spans the clock ran: start → first pause, resume → next pause, …, last → open."""
    start = clock.started_at
    for p in clock.pauses:
        yield start, p.paused_at
        if p.resumed_at is None:
            return
        start = p.resumed_at
    yield start, None
