"""SLA clocks of cases driven through the endpoints at chosen moments: due times at intake,
pauses while the applicant is waited on, re-inspection clocks, the stop, the clock view."""

from __future__ import annotations

import datetime as dt
from dataclasses import replace

from server.platform.time import CHINA_TZ
from tests.fixtures.app import Api
from tests.fixtures.clock import AppClock
from tests.flows import (
    ask_for_another_time,
    book,
    cancel,
    close,
    intake_body,
    issue_opinion,
    reject_rectification,
    request_rectification,
    schedule,
    start_inspection,
    submit_rectification,
)
from tests.sla import audit_count, get_clock, now_at, opened_at, sh, stored_clocks

MONDAY = sh(2026, 3, 9, 10)  # 2026-03-09 10:00 Beijing, a working Monday


async def test_intake_stores_the_due_time_of_the_case_class(api: Api, clock: AppClock) -> None:
    journey = await opened_at(api, clock, MONDAY, "general")
    [row] = await stored_clocks(api, journey.case_id)
    assert (row.phase, row.sla_class, row.allowance_unit, row.allowance_amount) == (
        "initial",
        "general",
        "working_days",
        1,
    )
    assert row.due_at == sh(2026, 3, 10, 10)  # one working day later
    assert row.provisional is False
    assert row.next_check_at == sh(2026, 3, 9, 16, 45)  # 75 % of seven working hours
    assert (row.active, row.card) == (True, "none")
    async with api.ctx.sessionmaker() as session:
        assert await audit_count(session, "sla.clock_started", journey.case_id) == 1


async def test_the_same_intake_again_keeps_the_running_clock(api: Api, clock: AppClock) -> None:
    journey = await opened_at(api, clock, MONDAY, "simple")
    await now_at(clock, sh(2026, 3, 9, 11), journey)
    body = intake_body(api, "SQ-SLA-1", sla_class="simple", override_reason="按申请情况调整时限")
    again = await api.client.post("/api/v1/cases", json=body, headers=journey.dispatcher)
    assert again.status_code < 300, again.text
    assert again.json()["id"] == journey.case_id
    [row] = await stored_clocks(api, journey.case_id)
    assert (row.started_at, row.due_at) == (MONDAY, sh(2026, 3, 9, 11))


async def test_waiting_on_the_applicant_pauses_and_leaving_resumes(
    api: Api, clock: AppClock
) -> None:
    journey = await opened_at(api, clock, MONDAY, "general")
    await schedule(journey)
    await now_at(clock, sh(2026, 3, 9, 10, 30), journey)
    await ask_for_another_time(journey)  # 改约: waits on the applicant
    [row] = await stored_clocks(api, journey.case_id)
    assert (row.due_at, row.next_check_at) == (None, None)
    assert row.pauses == [[sh(2026, 3, 9, 10, 30).isoformat(), None]]
    await now_at(clock, sh(2026, 3, 10, 9), journey)
    await book(journey)  # a new time agreed: the clock runs again
    [row] = await stored_clocks(api, journey.case_id)
    assert row.due_at == sh(2026, 3, 10, 17)  # 390 of 420 working minutes were left
    assert row.next_check_at == sh(2026, 3, 10, 15, 15)
    assert row.pauses[0][1] == sh(2026, 3, 10, 9).isoformat()


async def test_a_clock_set_back_keeps_the_order_of_the_moments(api: Api, clock: AppClock) -> None:
    journey = await opened_at(api, clock, MONDAY, "general")
    await schedule(journey)
    await now_at(clock, sh(2026, 3, 9, 9), journey)  # the server's clock was set back an hour
    await ask_for_another_time(journey)
    [row] = await stored_clocks(api, journey.case_id)
    assert row.pauses == [[MONDAY.isoformat(), None]]


async def test_rectification_submission_starts_a_reinspection_clock(
    api: Api, clock: AppClock
) -> None:
    journey = await opened_at(api, clock, MONDAY, "general")
    await start_inspection(journey)
    await now_at(clock, sh(2026, 3, 9, 11), journey)
    await request_rectification(journey)
    await now_at(clock, sh(2026, 3, 11, 10), journey)
    await submit_rectification(journey)
    initial, reinspection = await stored_clocks(api, journey.case_id)
    assert (initial.active, initial.stopped_at) == (False, sh(2026, 3, 11, 10))
    assert initial.next_check_at is None
    assert (reinspection.phase, reinspection.sla_class) == ("reinspection", "reinspection")
    assert (reinspection.active, reinspection.started_at) == (True, sh(2026, 3, 11, 10))
    assert reinspection.due_at == sh(2026, 3, 11, 12)  # two working hours
    # rejected, then submitted again: a new round on a new re-inspection clock
    await now_at(clock, sh(2026, 3, 11, 11), journey)
    await reject_rectification(journey)
    assert (await stored_clocks(api, journey.case_id))[1].due_at is None
    await now_at(clock, sh(2026, 3, 12, 10), journey)
    await submit_rectification(journey)
    clocks = await stored_clocks(api, journey.case_id)
    assert [c.active for c in clocks] == [False, False, True]
    assert clocks[2].due_at == sh(2026, 3, 12, 12)


async def test_issued_and_cancelled_stop_the_clock(api: Api, clock: AppClock) -> None:
    issued = await opened_at(api, clock, MONDAY, "general", number="SQ-SLA-ISSUED")
    cancelled = await opened_at(  # the same staff: inspectors drawn for either are known
        api, clock, MONDAY, "general", journey=replace(issued), number="SQ-SLA-CANCELLED"
    )
    await start_inspection(issued)
    await ask_for_another_time(cancelled)
    await now_at(clock, sh(2026, 3, 9, 10, 50), issued)
    await issue_opinion(issued)
    await now_at(clock, sh(2026, 3, 9, 11), cancelled)
    await cancel(cancelled)  # while waiting on the applicant
    for journey, stopped_at in ((issued, (10, 50)), (cancelled, (11, 0))):
        [row] = await stored_clocks(api, journey.case_id)
        assert (row.active, row.stopped_at) == (False, sh(2026, 3, 9, *stopped_at))
        assert row.next_check_at is None
    # closing the issued case later finds no running clock and is fine
    await now_at(clock, sh(2026, 3, 9, 12), issued)
    await close(issued)
    [row] = await stored_clocks(api, issued.case_id)
    assert row.stopped_at == sh(2026, 3, 9, 10, 50)


async def test_the_clock_gives_the_due_time_in_utc_and_shanghai(api: Api, clock: AppClock) -> None:
    journey = await opened_at(api, clock, MONDAY, "general")
    await now_at(clock, sh(2026, 3, 9, 14), journey)
    view = await get_clock(api, journey.case_id, journey.dispatcher)
    assert view["due_at"] == "2026-03-10T02:00:00Z"
    assert view["due_at_local"] == "2026-03-10T10:00:00+08:00"
    assert (view["used_minutes"], view["remaining_minutes"]) == (150, 270)
    assert view["used_share"] == round(150 / 420, 4)
    assert (view["card"], view["paused"], view["provisional"]) == ("none", False, False)
    assert view["message_zh"] == "正常"


async def test_a_2027_due_time_is_provisional(api: Api, clock: AppClock) -> None:
    journey = await opened_at(api, clock, sh(2027, 3, 8, 10), "general")
    [row] = await stored_clocks(api, journey.case_id)
    assert (row.due_at, row.provisional) == (sh(2027, 3, 9, 10), True)
    await now_at(clock, sh(2027, 3, 8, 11), journey)
    view = await get_clock(api, journey.case_id, journey.dispatcher)
    assert view["provisional"] is True
    assert "可能调整" in view["message_zh"]
    assert "may change" in view["message_en"]


async def test_an_admin_override_moves_the_due_time(api: Api, clock: AppClock) -> None:
    journey = await opened_at(api, clock, MONDAY, "general")
    tuesday = "/api/v1/calendar/overrides/2026-03-10"
    note = {"is_workday": False, "note": "台风停工"}
    set_ = await api.client.put(tuesday, json=note, headers=journey.admin)
    assert (set_.status_code, set_.json()["clocks_refreshed"]) == (200, 1), set_.text
    [row] = await stored_clocks(api, journey.case_id)
    assert row.due_at == sh(2026, 3, 11, 10)  # Tuesday is off now
    await now_at(clock, sh(2026, 3, 9, 11), journey)
    view = await get_clock(api, journey.case_id, journey.dispatcher)
    assert dt.datetime.fromisoformat(view["due_at_local"]) == dt.datetime(
        2026, 3, 11, 10, tzinfo=CHINA_TZ
    )
    assert (await api.client.delete(tuesday, headers=journey.admin)).status_code == 204
    [row] = await stored_clocks(api, journey.case_id)
    assert row.due_at == sh(2026, 3, 10, 10)
    async with api.ctx.sessionmaker() as session:
        assert await audit_count(session, "calendar.override_set") == 1
        assert await audit_count(session, "calendar.override_removed") == 1


async def test_a_2027_override_moves_a_provisional_due_time(api: Api, clock: AppClock) -> None:
    journey = await opened_at(api, clock, sh(2027, 3, 8, 10), "general")
    note = {"is_workday": False, "note": "调休"}
    response = await api.client.put(
        "/api/v1/calendar/overrides/2027-03-09", json=note, headers=journey.admin
    )
    assert response.status_code == 200, response.text
    [row] = await stored_clocks(api, journey.case_id)
    assert (row.due_at, row.provisional) == (sh(2027, 3, 10, 10), True)
