"""The applicant's rating (好差评): after closing, once per case, and follow-ups of bad ones."""

from __future__ import annotations

import asyncio
from typing import Any

from sqlalchemy import func, select

from server.auth.models import Role
from server.notifications.models import Notification
from server.supervision.models import FollowUp, Rating
from tests.fixtures.app import Api
from tests.flows import Journey, close, issue_opinion, start_journey
from tests.flows import open_case as open_journey_case
from tests.supervision import FOLLOW_UPS, audit_count, open_case


async def _count(api: Api, model: Any) -> int:
    async with api.ctx.sessionmaker() as session:
        return int(await session.scalar(select(func.count()).select_from(model)) or 0)


async def _closed_case(
    api: Api, number: str, journey: Journey | None = None
) -> tuple[str, dict[str, str], dict[str, str]]:
    """A closed case (of ``journey``, a new one when None): its id, the applicant's headers and
    a dispatcher's headers."""
    journey = journey or await start_journey(api)
    await open_journey_case(journey, number)
    await close(journey)
    return journey.case_id, journey.applicant, journey.dispatcher


def _rating_url(case_id: str) -> str:
    return f"/api/v1/cases/{case_id}/rating"


async def test_rating_before_the_case_is_closed_is_refused(api: Api) -> None:
    journey = await start_journey(api)
    case_id = (await open_journey_case(journey, "RT-EARLY"))["id"]
    await issue_opinion(journey)
    response = await api.client.post(
        _rating_url(case_id), json={"score": 5}, headers=journey.applicant
    )
    assert response.status_code == 409
    problem = response.json()
    assert (problem["reason"], problem["state"]) == ("not_closed", "issued")
    assert "办结后才能评价" in problem["detail"]
    assert await _count(api, Rating) == 0


async def test_the_applicant_rates_a_closed_case_once(api: Api) -> None:
    case_id, applicant, dispatcher = await _closed_case(api, "RT-ONCE")
    body = {"score": 5, "comment": "  视频踏勘很方便，省了跑一趟。 "}
    response = await api.client.post(_rating_url(case_id), json=body, headers=applicant)
    assert response.status_code == 201, response.text
    rating = response.json()
    assert (rating["score"], rating["comment"]) == (5, "视频踏勘很方便，省了跑一趟。")
    assert rating["follow_up_id"] is None
    assert rating["created_at_local"].endswith("+08:00")
    again = await api.client.post(
        _rating_url(case_id), json={"score": 1, "reasons": ["slow"]}, headers=applicant
    )
    assert again.status_code == 409
    assert again.json()["reason"] == "already_rated"
    assert "已评价过" in again.json()["detail"]
    status = (await api.client.get(_rating_url(case_id), headers=dispatcher)).json()
    assert (status["rated"], status["can_rate"]) == (True, False)
    assert status["rating"]["id"] == rating["id"]
    assert await _count(api, Rating) == 1
    assert await audit_count(api, "case.rated") == 1


async def test_two_simultaneous_ratings_store_exactly_one(api: Api) -> None:
    case_id, applicant, _ = await _closed_case(api, "RT-RACE")
    responses = await asyncio.gather(
        *(
            api.client.post(_rating_url(case_id), json={"score": s}, headers=applicant)
            for s in (4, 5)
        )
    )
    assert sorted(r.status_code for r in responses) == [201, 409]
    assert await _count(api, Rating) == 1
    assert await audit_count(api, "case.rated") == 1


async def test_a_score_outside_one_to_five_is_refused(api: Api) -> None:
    case_id, applicant, _ = await _closed_case(api, "RT-BAD")
    bodies: list[dict[str, Any]] = [
        {"score": 0},
        {"score": 6},
        {"score": "5"},
        {"score": 4.5},
        {"score": True},
        {"comment": "没有评分"},
        {"score": 5, "comment": "长" * 501},
    ]
    for body in bodies:
        response = await api.client.post(_rating_url(case_id), json=body, headers=applicant)
        assert response.status_code == 422, body
        assert response.json()["code"] == "bad_input"
    assert await _count(api, Rating) == 0


async def test_only_the_case_applicant_may_rate(api: Api) -> None:
    case_id, _, dispatcher = await _closed_case(api, "RT-WHO")
    _, other_applicant = await open_case(api, dispatcher, "RT-OTHER")
    _, admin = await api.staff_headers(Role.admin)
    url, body = _rating_url(case_id), {"score": 5}
    assert (await api.client.post(url, json=body, headers=dispatcher)).status_code == 403
    assert (await api.client.post(url, json=body, headers=admin)).status_code == 403
    assert (await api.client.post(url, json=body, headers=other_applicant)).status_code == 404
    assert (await api.client.post(url, json=body)).status_code == 401
    assert await _count(api, Rating) == 0


async def test_the_applicant_sees_whether_they_can_rate(api: Api) -> None:
    journey = await start_journey(api)
    case_id = (await open_journey_case(journey, "RT-SEE"))["id"]
    applicant = journey.applicant
    status = (await api.client.get(_rating_url(case_id), headers=applicant)).json()
    assert (status["rated"], status["can_rate"], status["rating"]) == (False, False, None)
    await close(journey)
    status = (await api.client.get(_rating_url(case_id), headers=applicant)).json()
    assert (status["rated"], status["can_rate"]) == (False, True)


async def test_a_bad_rating_opens_a_follow_up_and_a_good_one_does_not(api: Api) -> None:
    journey = await start_journey(api)  # one journey: every drawn inspector is one of its own
    bad_case, bad_applicant, dispatcher = await _closed_case(api, "RT-SAD", journey)
    good_case, good_applicant, _ = await _closed_case(api, "RT-GLAD", journey)
    body = {"score": 2, "reasons": ["appointment"], "comment": "等了很久才预约上"}
    bad = await api.client.post(_rating_url(bad_case), json=body, headers=bad_applicant)
    good = await api.client.post(_rating_url(good_case), json={"score": 3}, headers=good_applicant)
    assert (bad.status_code, good.status_code) == (201, 201)
    assert bad.json()["follow_up_id"] is not None
    assert good.json()["follow_up_id"] is None
    listed = await api.client.get(FOLLOW_UPS, params={"status": "open"}, headers=dispatcher)
    assert listed.status_code == 200
    (follow_up,) = listed.json()
    assert follow_up["id"] == bad.json()["follow_up_id"]
    assert (follow_up["case_id"], follow_up["score"]) == (bad_case, 2)
    assert (follow_up["comment"], follow_up["status"]) == (body["comment"], "open")
    assert follow_up["opened_at_local"].endswith("+08:00")


async def test_a_bad_rating_tells_the_supervisors(api: Api) -> None:
    case_id, applicant, _ = await _closed_case(api, "RT-TELL")
    body = {"score": 1, "reasons": ["attitude"]}
    response = await api.client.post(_rating_url(case_id), json=body, headers=applicant)
    assert response.status_code == 201
    async with api.ctx.sessionmaker() as session:
        rows = (await session.scalars(select(Notification))).all()
    assert {(n.audience, n.recipient) for n in rows if n.case_id == case_id} >= {
        ("role", "admin"),
        ("role", "dispatcher"),
    }


async def _open_follow_up(api: Api, number: str) -> tuple[str, dict[str, str]]:
    case_id, applicant, dispatcher = await _closed_case(api, number)
    body = {"score": 1, "reasons": ["slow"]}
    response = await api.client.post(_rating_url(case_id), json=body, headers=applicant)
    follow_up_id: str = response.json()["follow_up_id"]
    answer = {"answer": "已约谈踏勘人员，调整预约排期", "answered_by": "审批科 李四"}
    answered = await api.client.post(
        f"{FOLLOW_UPS}/{follow_up_id}/answer", json=answer, headers=dispatcher
    )
    assert answered.status_code == 200, answered.text
    return follow_up_id, dispatcher


async def test_closing_a_follow_up_needs_a_note_and_works_once(api: Api) -> None:
    follow_up_id, dispatcher = await _open_follow_up(api, "RT-CLOSE")
    url = f"{FOLLOW_UPS}/{follow_up_id}/close"
    for body in ({}, {"note": "   "}):
        refused = await api.client.post(url, json=body, headers=dispatcher)
        assert refused.status_code == 422
        assert (refused.json()["field"], refused.json()["code"]) == ("note", "bad_input")
    note = "已电话回访申请人，说明预约排期原因并致歉，申请人表示理解。"
    closed = await api.client.post(url, json={"note": note}, headers=dispatcher)
    assert closed.status_code == 200, closed.text
    assert (closed.json()["status"], closed.json()["note"]) == ("closed", note)
    assert closed.json()["closed_at_local"].endswith("+08:00")
    again = await api.client.post(url, json={"note": "再次办结"}, headers=dispatcher)
    assert again.status_code == 409
    assert again.json()["reason"] == "already_closed"
    async with api.ctx.sessionmaker() as session:
        stored = await session.get(FollowUp, follow_up_id)
    assert stored is not None
    assert stored.note == note
    assert await audit_count(api, "follow_up.closed") == 1
    assert (
        await api.client.get(FOLLOW_UPS, params={"status": "open"}, headers=dispatcher)
    ).json() == []
    (listed,) = (
        await api.client.get(FOLLOW_UPS, params={"status": "closed"}, headers=dispatcher)
    ).json()
    assert listed["id"] == follow_up_id


async def test_two_simultaneous_closes_succeed_once(api: Api) -> None:
    follow_up_id, dispatcher = await _open_follow_up(api, "RT-RACE-CLOSE")
    url = f"{FOLLOW_UPS}/{follow_up_id}/close"
    responses = await asyncio.gather(
        *(api.client.post(url, json={"note": f"回访{n}"}, headers=dispatcher) for n in (1, 2))
    )
    assert sorted(r.status_code for r in responses) == [200, 409]
    assert await audit_count(api, "follow_up.closed") == 1


async def test_only_supervisors_close_follow_ups(api: Api) -> None:
    follow_up_id, _ = await _open_follow_up(api, "RT-SUP")
    url, body = f"{FOLLOW_UPS}/{follow_up_id}/close", {"note": "已回访"}
    for role in (Role.reviewer, Role.inspector, Role.window):
        _, headers = await api.staff_headers(role)
        assert (await api.client.post(url, json=body, headers=headers)).status_code == 403
    _, admin = await api.staff_headers(Role.admin)
    missing = await api.client.post(f"{FOLLOW_UPS}/{'0' * 32}/close", json=body, headers=admin)
    assert missing.status_code == 404
    assert (await api.client.post(url, json=body, headers=admin)).status_code == 200
