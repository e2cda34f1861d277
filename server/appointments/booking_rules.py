"""When an inspection may be booked (预约规则): on a working day, and before the case's SLA due
time (办理时限).

* A slot on a rest day (weekend, public holiday, or a day the admins marked as one) is refused:
  the bureau does not work then, and the calendar with its overrides is the one the SLA uses.
* A slot starting after the due time is refused, naming the due time in Beijing time, both when
  the inspectors offer it and when the applicant picks it (the due time may have moved since).
* Once the case is already past its due time, every slot is late: refusing would leave the case
  with no way to be inspected, so the booking goes through with a warning (and is audited late).
* While the clock waits on the applicant (改约), the due time is taken as if the clock resumed
  now: booking resumes it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from server.errors import BadInput
from server.platform.time import CHINA_TZ, shanghai_time
from server.sla.calendar import WorkCalendar
from server.sla.policy import session_policy
from server.sla.service import clock_view, current_clock, load_calendar

WEEKDAYS_ZH = "一二三四五六日"
WEEKDAYS_EN = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")


@dataclass(frozen=True, slots=True)
class LateWarning:
    """A booking past an already missed due time: allowed, but said."""

    zh: str
    en: str


@dataclass(frozen=True, slots=True)
class BookingLimits:
    calendar: WorkCalendar
    due_at: datetime | None  # None: no running clock, no due-time rule
    now: datetime

    @property
    def overdue(self) -> bool:
        return self.due_at is not None and self.due_at <= self.now


async def booking_limits(session: AsyncSession, case_id: str, now: datetime) -> BookingLimits:
    """The calendar and the due time a booking of the case is checked against."""
    calendar = await load_calendar(session)
    if await current_clock(session, case_id) is None:
        return BookingLimits(calendar, None, now)
    view = await clock_view(session, case_id, now, policy=session_policy(session))
    due = view.due_at
    if view.active and view.paused:
        remaining = timedelta(minutes=max(view.remaining_minutes, 0))
        due = calendar.add_working_time(now, remaining).due_utc
    return BookingLimits(calendar, due if view.active else None, now)


def _day_words(moment: datetime) -> tuple[str, str]:
    local = moment.astimezone(CHINA_TZ)
    zh = f"{local:%Y-%m-%d}（星期{WEEKDAYS_ZH[local.weekday()]}）"
    return zh, f"{local:%Y-%m-%d} ({WEEKDAYS_EN[local.weekday()]})"


def check_working_days(slots: Iterable[tuple[datetime, datetime]], calendar: WorkCalendar) -> None:
    """Refuse a slot that starts on a rest day (Beijing calendar), saying which day."""
    for start, _ in slots:
        day = calendar.day(start.astimezone(CHINA_TZ).date())
        if day.is_workday:
            continue
        zh, en = _day_words(start)
        why_zh = f"（{day.note}）" if day.note else ""
        why_en = f" ({day.note})" if day.note else ""
        raise BadInput(
            f"{zh}是休息日{why_zh}，不安排视频踏勘，请选择工作日的时段。",
            f"{en} is a rest day{why_en}; no inspections are booked then. Choose a time "
            "on a working day.",
            reason="rest_day",
        )


def check_due_time(
    slots: Iterable[tuple[datetime, datetime]], limits: BookingLimits, *, by_applicant: bool
) -> LateWarning | None:
    """Refuse a slot starting after the due time; past an already missed one, warn instead."""
    if limits.due_at is None:
        return None
    due = shanghai_time(limits.due_at)
    if limits.overdue:
        return LateWarning(
            f"本案办理时限已于 {due}（北京时间）到期，预约已记录，请尽快完成踏勘。",
            f"This case was due on {due} (Beijing time); the booking is recorded, please "
            "inspect as soon as possible.",
        )
    late = [start for start, _ in slots if start > limits.due_at]
    if not late:
        return None
    when = shanghai_time(min(late))
    ask_zh, ask_en = (
        (
            "请选择更早的时段，或联系踏勘人员重新提供时间。",
            "Pick an earlier time or ask the inspectors for new ones.",
        )
        if by_applicant
        else ("请提供在此之前的时段。", "Offer times before then.")
    )
    raise BadInput(
        f"时段 {when} 晚于本案办理时限 {due}（北京时间）。{ask_zh}",
        f"The time {when} is after this case's due time, {due} (Beijing time). {ask_en}",
        reason="after_due_time",
        due_at=limits.due_at.isoformat(),
    )
