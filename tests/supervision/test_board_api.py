"""The supervision board through the API, over real cases opened by intake."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from typing import Any

from sqlalchemy import select

from server.auth.models import Role
from server.cases.models import Case
from server.db import utcnow
from server.platform.time import CHINA_TZ
from server.sla.models import SlaClockRow
from server.supervision.repository import case_timings
from tests.fixtures.app import Api
from tests.fixtures.clock import AppClock
from tests.flows import (
    Journey,
    close,
    issue_opinion,
    log_in_again,
    schedule,
    start_inspection,
    start_journey,
)
from tests.flows import open_case as open_journey_case
from tests.supervision import BOARD, open_case, sh


async def _board(api: Api, headers: dict[str, str], **params: str) -> dict[str, Any]:
    response = await api.client.get(BOARD, params=params, headers=headers)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def test_supervisors_and_reviewers_read_the_board_and_others_are_refused(api: Api) -> None:
    _, dispatcher = await api.staff_headers(Role.dispatcher)
    _, applicant = await open_case(api, dispatcher, "BD-ROLES")
    for role in (Role.admin, Role.dispatcher, Role.reviewer):
        _, headers = await api.staff_headers(role)
        assert (await api.client.get(BOARD, headers=headers)).status_code == 200, role
    for role in (Role.inspector, Role.window):
        _, headers = await api.staff_headers(role)
        assert (await api.client.get(BOARD, headers=headers)).status_code == 403, role
    assert (await api.client.get(BOARD, headers=applicant)).status_code == 403
    assert (await api.client.get(BOARD)).status_code == 401


async def _failed_and_long_overdue(api: Api, clock: AppClock) -> tuple[Journey, str, str]:
    """On Monday 2026-03-02 10:00 a case whose draw fails (nobody in the pool yet), then one
    taken in and scheduled (due Tuesday 10:00, long past); then the clock is back at the real
    time and the same staff log in again. Returns the journey, the failed and the late case."""
    clock.at(sh(2026, 3, 2, 10))
    journey = await start_journey(api)
    failed, _ = await open_case(api, journey.dispatcher, "BD-NOPOOL")
    draw = await api.client.post(f"/api/v1/cases/{failed}/draw", headers=journey.dispatcher)
    assert draw.status_code < 500, draw.text
    late = (await open_journey_case(journey, "BD-LATE"))["id"]
    await schedule(journey)
    clock.ahead(timedelta(0))
    await log_in_again(journey)
    return replace(journey, case={}, applicant={}), failed, late


async def test_the_board_counts_real_cases_by_state_card_mode_and_lists_the_late_and_waiting(
    api: Api, clock: AppClock
) -> None:
    journey, failed, late = await _failed_and_long_overdue(api, clock)
    dispatcher = journey.dispatcher
    waiting, _ = await open_case(api, dispatcher, "BD-WAIT")
    closed = (await open_journey_case(journey, "BD-DONE"))["id"]
    await close(journey)
    await open_journey_case(
        journey, "BD-ONSITE", mode="offline_onsite", override_reason="需现场核验"
    )
    await start_inspection(journey)

    board = await _board(api, dispatcher)

    states = {s["state"]: s for s in board["states"]}
    assert board["total_cases"] == 5
    assert (states["received"]["total"], states["received"]["label_zh"]) == (2, "已受理")
    assert (states["closed"]["total"], states["in_progress"]["total"]) == (1, 1)
    assert (states["scheduled"]["total"], states["scheduled"]["red"]) == (1, 1)
    assert board["cards"]["red"] >= 1
    assert board["overdue_total"] == 2  # both cases from March: the one still without a pair too
    overdue = {o["case_id"]: o for o in board["overdue"]}
    assert (overdue[late]["state_zh"], overdue[failed]["state_zh"]) == ("已预约", "已受理")
    assert overdue[late]["due_at_local"] == "2026-03-03T10:00:00+08:00"
    assert overdue[late]["overdue_minutes"] > 0
    assert board["generated_at_local"].endswith("+08:00")

    async with api.ctx.sessionmaker() as session:
        modes = dict((await session.execute(select(Case.id, Case.mode))).all())
    remote = 1 if modes[closed] in ("online_video", "rectification") else 0
    assert board["inspection_mode"]["inspected"] == 2
    assert board["inspection_mode"]["on_site"] == 2 - remote
    assert board["inspection_mode"]["remote"] == remote

    assert board["unassigned_total"] == 2
    unassigned = {u["case_id"]: u for u in board["unassigned"]}
    assert unassigned[failed]["draw_failed"] is True
    assert unassigned[failed]["reason_zh"]
    assert (unassigned[waiting]["draw_failed"], unassigned[waiting]["reason_zh"]) == (
        False,
        "等待抽取踏勘人员",
    )

    assert sum(g["cases"] for g in board["elapsed_by_class"]) == 5
    assert sum(g["open"] for g in board["elapsed_by_class"]) == 4
    matter = api.ctx.catalogue.matters[0]
    (by_matter,) = board["elapsed_by_matter"]
    assert (by_matter["key"], by_matter["label_zh"]) == (matter.code, matter.name)
    assert by_matter["median_minutes"] >= 0
    assert board["ratings"] == {
        "count": 0,
        "average_score": None,
        "bad": 0,
        "open_follow_ups": 0,
    }


async def test_a_bad_rating_shows_on_the_board(api: Api) -> None:
    journey = await start_journey(api)
    await open_journey_case(journey, "BD-RATED")
    await close(journey)
    rating = await api.client.post(
        f"/api/v1/cases/{journey.case_id}/rating",
        json={"score": 1, "reasons": ["slow"], "comment": "很不满意"},
        headers=journey.applicant,
    )
    assert rating.status_code == 201
    ratings = (await _board(api, journey.dispatcher))["ratings"]
    assert ratings == {"count": 1, "average_score": 1.0, "bad": 1, "open_follow_ups": 1}


async def test_since_limits_counts_and_times_to_cases_created_from_that_day(api: Api) -> None:
    _, reviewer = await api.staff_headers(Role.reviewer)
    _, dispatcher = await api.staff_headers(Role.dispatcher)
    await open_case(api, dispatcher, "BD-SINCE")
    today = utcnow().astimezone(CHINA_TZ).date()
    assert (await _board(api, reviewer, since=today.isoformat()))["total_cases"] == 1
    later = await _board(api, reviewer, since=(today + timedelta(days=1)).isoformat())
    assert (later["total_cases"], later["elapsed_by_class"], later["since"]) == (
        0,
        [],
        (today + timedelta(days=1)).isoformat(),
    )
    assert later["unassigned_total"] == 1  # a to-do list, not a statistic: never filtered


async def test_a_finished_case_is_timed_to_the_issue_of_its_opinion(api: Api) -> None:
    journey = await start_journey(api)
    case_id = (await open_journey_case(journey, "BD-ISSUED"))["id"]
    await issue_opinion(journey)
    async with api.ctx.sessionmaker() as session:
        (clock,) = await session.scalars(
            select(SlaClockRow).where(SlaClockRow.case_id == case_id, SlaClockRow.active.is_(False))
        )
        issued_at = clock.stopped_at
    assert issued_at is not None
    await close(journey)
    async with api.ctx.sessionmaker() as session:
        case = await session.get(Case, case_id)
        assert case is not None
        (timing,) = await case_timings(session, None)
    assert timing.finished_at == issued_at
    assert issued_at < case.updated_at  # closing came later and does not count
