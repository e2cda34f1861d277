"""Working days and working time: weekends, holidays, 调休 workdays, unpublished years."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

import pytest

from server.errors import BadInput
from server.platform.time import CHINA_TZ
from server.sla.calendar import Allowance, CalendarOverride, DaySource, WorkCalendar, WorkingHours

ONE_HOUR = Allowance.hours(1)
ONE_DAY = Allowance.working_days(1)
THREE_DAYS = Allowance.working_days(3)


def sh(y: int, m: int, d: int, hour: int = 0, minute: int = 0) -> datetime:
    """A Shanghai wall time as the UTC instant the database stores."""
    return datetime(y, m, d, hour, minute, tzinfo=CHINA_TZ).astimezone(UTC)


CAL = WorkCalendar()


def test_official_calendar_covers_2026_but_not_2027() -> None:
    assert CAL.is_known(date(2026, 12, 31))
    assert not CAL.is_known(date(2027, 1, 1))
    assert CAL.day(date(2026, 10, 1)).source is DaySource.official
    assert CAL.day(date(2027, 3, 1)).source is DaySource.fallback


def test_official_holidays_and_swapped_workdays_2026() -> None:
    national_day = [date(2026, 10, d) for d in range(1, 8)]
    assert not any(CAL.is_workday(d) for d in national_day)
    assert CAL.is_workday(date(2026, 10, 8))
    # 调休: Sunday 20 September and Saturday 10 October 2026 are working days
    assert date(2026, 9, 20).weekday() == 6
    assert CAL.is_workday(date(2026, 9, 20))
    assert date(2026, 10, 10).weekday() == 5
    assert CAL.is_workday(date(2026, 10, 10))
    assert not CAL.is_workday(date(2026, 9, 19))  # an ordinary Saturday


def test_one_hour_across_a_weekend() -> None:
    # Friday 17:00 leaves 30 minutes; the other 30 run from Monday 09:00
    due = CAL.add_working_time(sh(2026, 3, 6, 17), ONE_HOUR)
    assert due.due_utc == sh(2026, 3, 9, 9, 30)
    assert not due.provisional


def test_one_hour_across_the_lunch_break() -> None:
    assert CAL.add_working_time(sh(2026, 3, 9, 11, 30), ONE_HOUR).due_utc == sh(2026, 3, 9, 14)


def test_clock_started_before_opening_counts_from_opening() -> None:
    assert CAL.add_working_time(sh(2026, 3, 9, 7, 15), ONE_HOUR).due_utc == sh(2026, 3, 9, 10)


def test_one_working_day_is_the_same_time_on_the_next_working_day() -> None:
    assert CAL.add_working_time(sh(2026, 3, 6, 15), ONE_DAY).due_utc == sh(2026, 3, 9, 15)
    assert CAL.add_working_time(sh(2026, 3, 9, 10), ONE_DAY).due_utc == sh(2026, 3, 10, 10)


def test_one_working_day_from_a_weekend_ends_with_the_next_working_day() -> None:
    assert CAL.add_working_time(sh(2026, 3, 7, 20), ONE_DAY).due_utc == sh(2026, 3, 9, 17, 30)


def test_one_working_day_across_national_day() -> None:
    due = CAL.add_working_time(sh(2026, 9, 30, 10), ONE_DAY)
    assert due.due_utc == sh(2026, 10, 8, 10)
    assert not due.provisional


def test_three_working_days_across_mid_autumn() -> None:
    # 25–27 September 2026 (Fri–Sun) are the Mid-autumn holiday
    due = CAL.add_working_time(sh(2026, 9, 24, 10), THREE_DAYS)
    assert due.due_utc == sh(2026, 9, 30, 10)


def test_three_working_days_across_national_day_into_the_swapped_saturday() -> None:
    # 30 Sep, 8 Oct, 9 Oct → due Friday 9 October at the same time
    assert CAL.add_working_time(sh(2026, 9, 29, 14), THREE_DAYS).due_utc == sh(2026, 10, 9, 14)
    # from Friday 9 October the next working day is the 调休 Saturday
    assert CAL.add_working_time(sh(2026, 10, 9, 10), ONE_DAY).due_utc == sh(2026, 10, 10, 10)


def test_swapped_sunday_is_a_working_day() -> None:
    # Friday 18 September → Saturday 19 off → Sunday 20 September is a 调休 workday
    assert CAL.add_working_time(sh(2026, 9, 18, 10), ONE_DAY).due_utc == sh(2026, 9, 20, 10)


def test_unpublished_year_falls_back_to_weekdays_and_is_provisional() -> None:
    due = CAL.add_working_time(sh(2026, 12, 31, 10), ONE_DAY)
    assert due.due_utc == sh(2027, 1, 1, 10)  # a Friday, counted as a weekday
    assert due.provisional


def test_admin_override_makes_new_year_2027_a_holiday() -> None:
    calendar = WorkCalendar([CalendarOverride(date(2027, 1, 1), False, "元旦")])
    assert calendar.day(date(2027, 1, 1)).source is DaySource.override
    due = calendar.add_working_time(sh(2026, 12, 31, 10), ONE_DAY)
    assert due.due_utc == sh(2027, 1, 4, 10)
    assert due.provisional  # Monday 4 January is still a guess


def test_due_time_inside_the_published_year_is_not_provisional() -> None:
    assert not CAL.add_working_time(sh(2026, 12, 30, 10), ONE_DAY).provisional


def test_admin_override_can_add_a_swapped_workday_to_an_unpublished_year() -> None:
    calendar = WorkCalendar([CalendarOverride(date(2027, 1, 9), True, "调休上班")])
    # Friday 8 January 2027 → Saturday 9 January is declared a workday
    assert calendar.add_working_time(sh(2027, 1, 8, 10), ONE_DAY).due_utc == sh(2027, 1, 9, 10)


def test_override_wins_over_the_official_calendar() -> None:
    calendar = WorkCalendar([CalendarOverride(date(2026, 3, 9), False, "台风停工")])
    assert calendar.add_working_time(sh(2026, 3, 6, 15), ONE_DAY).due_utc == sh(2026, 3, 10, 15)


def test_working_time_between_skips_nights_weekends_and_lunch() -> None:
    assert CAL.working_time_between(sh(2026, 3, 6, 16), sh(2026, 3, 9, 10)) == timedelta(
        hours=2, minutes=30
    )
    assert CAL.working_time_between(sh(2026, 3, 9, 11), sh(2026, 3, 9, 14)) == timedelta(
        hours=1, minutes=30
    )
    assert CAL.working_time_between(sh(2026, 3, 9, 14), sh(2026, 3, 9, 11)) == timedelta()


@pytest.mark.parametrize(
    "start",
    [sh(2026, 3, 6, 17), sh(2026, 9, 24, 10), sh(2026, 9, 29, 14), sh(2026, 10, 9, 12, 10)],
)
def test_working_time_to_the_due_time_equals_the_allowance(start: datetime) -> None:
    for allowance in (ONE_HOUR, ONE_DAY, THREE_DAYS, Allowance.minutes(95)):
        due = CAL.add_working_time(start, allowance).due_utc
        assert CAL.working_time_between(start, due) == CAL.duration(allowance)


def test_custom_working_hours_change_the_length_of_a_day() -> None:
    calendar = WorkCalendar(hours=WorkingHours(((time(9), time(17)),)))
    assert calendar.duration(ONE_DAY) == timedelta(hours=8)
    assert calendar.add_working_time(sh(2026, 3, 9, 16), ONE_HOUR).due_utc == sh(2026, 3, 9, 17)


def test_default_working_day_is_seven_hours() -> None:
    assert CAL.duration(ONE_DAY) == timedelta(hours=7)
    assert CAL.duration(THREE_DAYS) == timedelta(hours=21)


def test_bad_calendar_input_is_refused() -> None:
    with pytest.raises(BadInput):
        CAL.add_working_time(datetime(2026, 3, 9, 10), ONE_HOUR)  # naive
    with pytest.raises(BadInput):
        WorkCalendar(
            [CalendarOverride(date(2027, 1, 1), False), CalendarOverride(date(2027, 1, 1), True)]
        )
    with pytest.raises(BadInput):
        WorkingHours(((time(9), time(13)), (time(12), time(17))))
    with pytest.raises(BadInput):
        Allowance.hours(0)


def test_calendar_with_no_working_days_left_is_refused() -> None:
    start = date(2027, 1, 1)
    closed = WorkCalendar([CalendarOverride(start + timedelta(days=n), False) for n in range(1200)])
    with pytest.raises(BadInput):
        closed.add_working_time(sh(2027, 1, 1, 10), ONE_HOUR)
