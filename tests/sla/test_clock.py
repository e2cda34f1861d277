"""SLA clocks: due times, pause/resume, yellow and red cards."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from server.errors import BadInput, InvalidState
from server.platform.time import CHINA_TZ
from server.sla.calendar import Allowance, WorkCalendar
from server.sla.clock import (
    Card,
    ClockState,
    Pause,
    SlaClass,
    SlaPolicy,
    card,
    clock_status,
    due_time,
    pause,
    resume,
    start_clock,
    used_share,
)

CAL = WorkCalendar()
POLICY = SlaPolicy()


def sh(y: int, m: int, d: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(y, m, d, hour, minute, tzinfo=CHINA_TZ).astimezone(UTC)


def card_at(clock: ClockState, now: datetime) -> Card:
    return card(clock, now, calendar=CAL, policy=POLICY)


def test_default_policy_allowances() -> None:
    assert POLICY.allowance(SlaClass.simple) == Allowance.hours(1)
    assert POLICY.allowance(SlaClass.general) == Allowance.working_days(1)
    assert POLICY.allowance(SlaClass.reinspection) == Allowance.hours(2)
    assert POLICY.allowance(SlaClass.complex) == Allowance.working_days(3)
    assert POLICY.yellow_share == 0.75


def test_clock_keeps_the_allowance_it_started_with() -> None:
    clock = start_clock(
        SlaClass.reinspection, SlaPolicy(reinspection=Allowance.minutes(30)), sh(2026, 3, 9, 10)
    )
    assert clock.allowance == Allowance.minutes(30)
    assert due_time(clock, calendar=CAL) is not None


def test_general_case_due_the_next_working_day() -> None:
    clock = start_clock(SlaClass.general, POLICY, sh(2026, 3, 6, 10))
    due = due_time(clock, calendar=CAL)
    assert due is not None
    assert due.due_utc == sh(2026, 3, 9, 10)


def test_pause_extends_the_due_time_by_the_paused_working_time() -> None:
    clock = start_clock(SlaClass.simple, POLICY, sh(2026, 3, 9, 10))
    clock = pause(clock, sh(2026, 3, 9, 10, 20))  # 40 working minutes left
    clock = resume(clock, sh(2026, 3, 10, 9))
    due = due_time(clock, calendar=CAL)
    assert due is not None
    assert due.due_utc == sh(2026, 3, 10, 9, 40)


def test_two_pauses_across_a_holiday() -> None:
    clock = start_clock(SlaClass.general, POLICY, sh(2026, 9, 29, 10))
    clock = pause(clock, sh(2026, 9, 29, 11))  # 1 h used
    clock = resume(clock, sh(2026, 9, 30, 14))
    clock = pause(clock, sh(2026, 9, 30, 16))  # 2 h more used, 4 h left
    clock = resume(clock, sh(2026, 10, 8, 9))  # National Day in between
    due = due_time(clock, calendar=CAL)
    assert due is not None
    assert due.due_utc == sh(2026, 10, 8, 14, 30)


def test_due_time_is_open_while_paused_with_time_left() -> None:
    clock = pause(start_clock(SlaClass.simple, POLICY, sh(2026, 3, 9, 10)), sh(2026, 3, 9, 10, 20))
    assert due_time(clock, calendar=CAL) is None
    status = clock_status(clock, sh(2026, 3, 12, 10), calendar=CAL, policy=POLICY)
    assert status.paused
    assert status.used == timedelta(minutes=20)
    assert status.remaining == timedelta(minutes=40)
    assert status.card is Card.none


def test_used_share_stops_while_paused_and_resumes_after() -> None:
    clock = start_clock(SlaClass.simple, POLICY, sh(2026, 3, 9, 10))
    clock = pause(clock, sh(2026, 3, 9, 10, 30))
    assert used_share(clock, sh(2026, 3, 9, 16), calendar=CAL) == 0.5
    clock = resume(clock, sh(2026, 3, 9, 16))
    assert used_share(clock, sh(2026, 3, 9, 16, 15), calendar=CAL) == 0.75


def test_yellow_card_at_three_quarters_of_the_allowance() -> None:
    clock = start_clock(SlaClass.simple, POLICY, sh(2026, 3, 9, 10))
    assert card_at(clock, sh(2026, 3, 9, 10, 44)) is Card.none
    assert card_at(clock, sh(2026, 3, 9, 10, 45)) is Card.yellow
    assert card_at(clock, sh(2026, 3, 9, 11)) is Card.yellow  # due now, not yet overdue


def test_red_card_when_overdue() -> None:
    clock = start_clock(SlaClass.simple, POLICY, sh(2026, 3, 9, 10))
    assert card_at(clock, sh(2026, 3, 9, 11, 1)) is Card.red


def test_red_card_when_overdue_on_working_days() -> None:
    # 1 working day from Friday 10:00: the weekend uses nothing, Monday 10:00 is the limit
    clock = start_clock(SlaClass.general, POLICY, sh(2026, 3, 6, 10))
    assert card_at(clock, sh(2026, 3, 7, 12)) is Card.yellow  # 6 of 7 hours used
    assert card_at(clock, sh(2026, 3, 9, 9, 59)) is Card.yellow
    assert card_at(clock, sh(2026, 3, 9, 10, 1)) is Card.red


def test_red_card_stays_when_paused_after_the_due_time() -> None:
    clock = start_clock(SlaClass.simple, POLICY, sh(2026, 3, 9, 10))
    clock = pause(clock, sh(2026, 3, 9, 14))
    status = clock_status(clock, sh(2026, 3, 10, 10), calendar=CAL, policy=POLICY)
    assert status.due is not None
    assert status.due.due_utc == sh(2026, 3, 9, 11)
    assert status.card is Card.red
    assert status.remaining == timedelta()


def test_custom_yellow_share() -> None:
    policy = SlaPolicy(yellow_share=0.5)
    clock = start_clock(SlaClass.simple, policy, sh(2026, 3, 9, 10))
    assert card(clock, sh(2026, 3, 9, 10, 30), calendar=CAL, policy=policy) is Card.yellow


def test_due_time_reaching_into_2027_is_provisional() -> None:
    clock = start_clock(SlaClass.complex, POLICY, sh(2026, 12, 30, 10))
    due = due_time(clock, calendar=CAL)
    assert due is not None
    assert due.due_utc == sh(2027, 1, 4, 10)
    assert due.provisional


def test_pausing_twice_or_resuming_a_running_clock_is_refused() -> None:
    clock = start_clock(SlaClass.simple, POLICY, sh(2026, 3, 9, 10))
    with pytest.raises(InvalidState):
        resume(clock, sh(2026, 3, 9, 11))
    paused = pause(clock, sh(2026, 3, 9, 10, 10))
    with pytest.raises(InvalidState):
        pause(paused, sh(2026, 3, 9, 10, 20))


def test_clock_events_out_of_order_are_refused() -> None:
    clock = start_clock(SlaClass.simple, POLICY, sh(2026, 3, 9, 10))
    with pytest.raises(BadInput):
        pause(clock, sh(2026, 3, 9, 9))
    with pytest.raises(BadInput):
        ClockState(
            SlaClass.simple,
            Allowance.hours(1),
            sh(2026, 3, 9, 10),
            (Pause(sh(2026, 3, 9, 10, 10)), Pause(sh(2026, 3, 9, 10, 20), sh(2026, 3, 9, 11))),
        )


def test_bad_policy_is_refused() -> None:
    with pytest.raises(BadInput):
        SlaPolicy(yellow_share=1.0)
