"""Booking rules: no slot on a rest day, none after the case's SLA due time (named in Beijing
time); past an already missed due time a booking goes through with a warning."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

import pytest

from server.appointments.booking_rules import (
    BookingLimits,
    check_due_time,
    check_working_days,
)
from server.db import utcnow
from server.errors import BadInput
from server.platform.time import CHINA_TZ, shanghai_time
from server.sla.calendar import CalendarOverride, WorkCalendar
from tests.fixtures.app import Api
from tests.fixtures.clock import AppClock
from tests.flows import Journey, assign, log_in_again, slot, start_journey


def _next(weekday: int) -> date:
    """The next date (Beijing calendar, after today) falling on ``weekday`` (Monday 0)."""
    day = utcnow().astimezone(CHINA_TZ).date() + timedelta(days=1)
    while day.weekday() != weekday:
        day += timedelta(days=1)
    return day


def _at(day: date, hour: int) -> datetime:
    return datetime.combine(day, time(hour), tzinfo=CHINA_TZ)


def _span(start: datetime, minutes: int = 60) -> dict[str, str]:
    end = start + timedelta(minutes=minutes)
    return {"starts_at": start.isoformat(), "ends_at": end.isoformat()}


async def _assigned(api: Api) -> tuple[Journey, str]:
    journey = await start_journey(api)
    await assign(journey)
    return journey, f"/api/v1/cases/{journey.case_id}"


async def _nothing_offered(api: Api, journey: Journey, case: str) -> None:
    seen = await api.client.get(f"{case}/appointment", headers=journey.dispatcher)
    assert seen.json()["open_slots"] == []
    assert seen.json()["state"] == "assigned"


async def test_slots_on_a_sunday_are_refused_in_words(api: Api) -> None:
    journey, case = await _assigned(api)
    sunday = _next(6)
    refused = await api.client.post(
        f"{case}/slots",
        json={"slots": [slot(2), _span(_at(sunday, 10))]},
        headers=journey.inspector_headers(0),
    )
    assert refused.status_code == 422, refused.text
    assert refused.json()["reason"] == "rest_day"
    assert f"{sunday:%Y-%m-%d}（星期日）是休息日" in refused.json()["detail"]
    assert "Sunday" in refused.json()["detail_en"]
    await _nothing_offered(api, journey, case)


async def test_a_slot_after_the_due_time_is_refused_naming_it_in_beijing_time(api: Api) -> None:
    journey, case = await _assigned(api)
    clock = (await api.client.get(f"{case}/clock", headers=journey.dispatcher)).json()
    due = datetime.fromisoformat(clock["due_at"])
    refused = await api.client.post(
        f"{case}/slots",
        json={"slots": [_span(due + timedelta(minutes=30))]},
        headers=journey.inspector_headers(0),
    )
    assert refused.status_code == 422, refused.text
    assert refused.json()["reason"] == "after_due_time"
    assert f"办理时限 {shanghai_time(due)}（北京时间）" in refused.json()["detail"]
    await _nothing_offered(api, journey, case)


async def test_a_day_the_admins_closed_is_refused_when_the_applicant_picks_it(
    api: Api,
) -> None:
    journey, case = await _assigned(api)
    offered = await api.client.post(
        f"{case}/slots", json={"slots": [slot(2)]}, headers=journey.inspector_headers(0)
    )
    assert offered.status_code == 201, offered.text
    start = datetime.fromisoformat(offered.json()[0]["starts_at"]).astimezone(CHINA_TZ)
    closed = await api.client.put(
        f"/api/v1/calendar/overrides/{start.date().isoformat()}",
        json={"is_workday": False, "note": "办公楼停电"},
        headers=journey.admin,
    )
    assert closed.status_code == 200, closed.text
    refused = await api.client.post(
        f"{case}/appointment",
        json={"slot_id": offered.json()[0]["id"]},
        headers=journey.applicant,
    )
    assert refused.status_code == 422, refused.text
    assert "是休息日（办公楼停电）" in refused.json()["detail"]
    seen = await api.client.get(f"{case}/appointment", headers=journey.applicant)
    assert seen.json()["appointment"] is None
    assert seen.json()["state"] == "assigned"


async def test_past_a_missed_due_time_the_booking_goes_through_with_a_warning(
    api: Api, clock: AppClock
) -> None:
    journey, case = await _assigned(api)
    clock.ahead(timedelta(days=10))  # the case is long overdue by then
    await log_in_again(journey)
    offered = await api.client.post(
        f"{case}/slots", json={"slots": [slot(2)]}, headers=journey.inspector_headers(0)
    )
    assert offered.status_code == 201, offered.text
    assert "已于" in offered.json()[0]["warning_zh"]
    assert "due on" in offered.json()[0]["warning_en"]
    taken = await api.client.post(
        f"{case}/appointment", json={"slot_id": offered.json()[0]["id"]}, headers=journey.applicant
    )
    assert taken.status_code == 200, taken.text
    assert "请尽快完成踏勘" in taken.json()["warning_zh"]


async def test_a_slot_in_time_carries_no_warning(api: Api) -> None:
    journey, case = await _assigned(api)
    offered = await api.client.post(
        f"{case}/slots", json={"slots": [slot(2)]}, headers=journey.inspector_headers(0)
    )
    assert offered.status_code == 201, offered.text
    assert offered.json()[0]["warning_zh"] == ""


def test_a_working_saturday_may_be_booked_and_a_holiday_may_not() -> None:
    saturday = _next(5)
    calendar = WorkCalendar([CalendarOverride(saturday, True, "调休上班")])
    check_working_days([(_at(saturday, 10), _at(saturday, 11))], calendar)
    national_day = date(2026, 10, 1)
    with pytest.raises(BadInput) as refused:
        check_working_days([(_at(national_day, 10), _at(national_day, 11))], WorkCalendar())
    assert "2026-10-01（星期四）是休息日" in refused.value.message_zh


def test_the_applicant_picking_after_the_due_time_is_told_to_pick_earlier() -> None:
    now = _at(date(2026, 3, 2), 9)
    limits = BookingLimits(WorkCalendar(), _at(date(2026, 3, 3), 12), now)
    late = (_at(date(2026, 3, 3), 14), _at(date(2026, 3, 3), 15))
    with pytest.raises(BadInput) as refused:
        check_due_time([late], limits, by_applicant=True)
    assert "2026-03-03 14:00 晚于本案办理时限 2026-03-03 12:00（北京时间）" in (
        refused.value.message_zh
    )
    assert "请选择更早的时段" in refused.value.message_zh
    in_time = (_at(date(2026, 3, 3), 10), _at(date(2026, 3, 3), 11))
    assert check_due_time([in_time], limits, by_applicant=True) is None
    no_clock = BookingLimits(WorkCalendar(), None, now)
    assert check_due_time([late], no_clock, by_applicant=True) is None
