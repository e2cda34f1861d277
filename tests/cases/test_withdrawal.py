"""The applicant withdraws the application (撤回申请) through the link before the opinion is
issued: the case ends with the reason, its clock stops, its slots and appointment end, staff hear
of it. And no case can be left in a state that no user action leaves."""

from __future__ import annotations

from fastapi import FastAPI

from server.auth.models import Role
from server.cases.states import TERMINAL_STATES, TRANSITIONS, CaseAction, CaseState
from tests.cases.exits import DOORS, JOB_ONLY
from tests.cases.links import audited
from tests.fixtures.app import Api
from tests.flows import (
    Journey,
    assign,
    close,
    issue_opinion,
    open_case,
    refresh,
    schedule,
    slot,
    start_journey,
    withdraw,
)


async def _state(journey: Journey) -> str:
    return str((await refresh(journey))["state"])


async def test_the_applicant_withdraws_a_scheduled_case_and_everything_ends(api: Api) -> None:
    journey = await start_journey(api)
    await schedule(journey)
    case = f"/api/v1/cases/{journey.case_id}"
    done = await withdraw(journey, "  店铺不再经营  ")
    assert done.status_code == 200, done.text
    assert done.json()["state"] == "cancelled"
    booking = await api.client.get(f"{case}/appointment", headers=journey.applicant)
    assert booking.status_code == 200, booking.text  # the link still reads the outcome
    assert booking.json()["appointment"] is None
    assert booking.json()["open_slots"] == []
    clock = await api.client.get(f"{case}/clock", headers=journey.dispatcher)
    assert clock.json()["active"] is False
    (moved,) = [
        r
        for r in await audited(api, journey.case_id, "case.transition")
        if r.detail["action"] == "withdraw"
    ]
    assert moved.actor_kind == "applicant"
    assert moved.detail["reason"] == "店铺不再经营"
    record = await api.client.get(f"{case}/notifications", headers=journey.dispatcher)
    told = {r["recipient"] for r in record.json() if r["template"] == "case_withdrawn"}
    assert Role.dispatcher.value in told
    assert set(journey.case["inspector_ids"]) <= told


async def test_withdrawing_ends_the_open_slots(api: Api) -> None:
    journey = await start_journey(api)
    await assign(journey)
    case = f"/api/v1/cases/{journey.case_id}"
    offered = await api.client.post(
        f"{case}/slots", json={"slots": [slot(2)]}, headers=journey.inspector_headers(0)
    )
    assert offered.status_code == 201, offered.text
    assert (await withdraw(journey)).status_code == 200
    booking = await api.client.get(f"{case}/appointment", headers=journey.dispatcher)
    assert booking.json()["open_slots"] == []
    late = await api.client.post(
        f"{case}/appointment", json={"slot_id": offered.json()[0]["id"]}, headers=journey.applicant
    )
    assert late.status_code == 409


async def test_a_withdrawal_without_a_reason_is_refused_in_words(api: Api) -> None:
    journey = await start_journey(api)
    await open_case(journey)
    for body in ({}, {"reason": ""}, {"reason": "   "}, {"reason": "走"}):
        refused = await api.client.post(
            f"/api/v1/cases/{journey.case_id}/withdraw", json=body, headers=journey.applicant
        )
        assert refused.status_code == 422, refused.text
        assert "撤回申请的原因" in refused.json()["detail"]
    assert await _state(journey) == "received"


async def test_after_the_opinion_is_issued_the_application_cannot_be_withdrawn(api: Api) -> None:
    journey = await start_journey(api)
    await issue_opinion(journey)
    refused = await withdraw(journey)
    assert refused.status_code == 409, refused.text
    assert "不能再撤回" in refused.json()["detail"]
    assert "已出具意见" in refused.json()["detail"]
    assert await _state(journey) == "issued"
    await close(journey)
    assert (await withdraw(journey)).status_code == 409


async def test_another_case_s_link_or_staff_cannot_withdraw_it(api: Api) -> None:
    journey = await start_journey(api)
    await open_case(journey, "SQ-MINE")
    mine = journey.case_id
    await open_case(journey, "SQ-OTHER")  # journey.applicant is now the other case's link
    for caller in (journey.applicant, journey.dispatcher, journey.admin):
        refused = await api.client.post(
            f"/api/v1/cases/{mine}/withdraw", json={"reason": "不想办了"}, headers=caller
        )
        assert refused.status_code in (403, 404), refused.text
        assert refused.json()["detail"]
    seen = await api.client.get(f"/api/v1/cases/{mine}", headers=journey.dispatcher)
    assert seen.json()["state"] == "received"


def test_every_action_a_person_takes_has_an_endpoint(app: FastAPI) -> None:
    served = {
        (method.upper(), path)
        for path, operations in app.openapi()["paths"].items()
        for method in operations
    }
    callers = {r.value for r in Role} | {"applicant", "api_client"}
    for action in CaseAction:
        if action in JOB_ONLY:
            continue
        door = DOORS[action]  # a new action must say which endpoint carries it
        assert (door.method, door.path) in served, (action, door)
        assert set(door.callers) <= callers, (action, door)


def test_every_open_state_has_a_way_out_some_person_can_take() -> None:
    stuck = []
    for state in CaseState:
        if state in TERMINAL_STATES:
            continue
        exits = [
            action
            for (src, action), dst in TRANSITIONS.items()
            if src is state and dst is not state and action in DOORS
        ]
        if not exits:
            stuck.append(state)
    assert stuck == []
