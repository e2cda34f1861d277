"""Special procedures (特别程序): approved by a named head or admin, they suspend the case's SLA
clock with their reason until they end; the board lists the cases in one."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from server.auth.models import Role
from server.sla.models import SlaClockRow
from tests.fixtures.app import Api
from tests.flows import Journey, assign, reschedule, schedule, start_inspection, start_journey
from tests.rectification.steps import FIXABLE, mark_both, requested_and_submitted

BOARD = "/api/v1/board"


def _procedures(journey: Journey) -> str:
    return f"/api/v1/cases/{journey.case_id}/special-procedures"


async def _clock(api: Api, journey: Journey) -> dict[str, Any]:
    response = await api.client.get(
        f"/api/v1/cases/{journey.case_id}/clock", headers=journey.dispatcher
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def _board_special(api: Api, headers: dict[str, str]) -> dict[str, Any]:
    response = await api.client.get(BOARD, headers=headers)
    assert response.status_code == 200, response.text
    special: dict[str, Any] = response.json()["special_procedures"]
    return special


async def _request(
    api: Api, journey: Journey, headers: dict[str, str], approver_id: str, **changes: Any
) -> Any:
    body = {"kind": "expert_review", "reason": "燃气管道需专家评审", "approver_id": approver_id}
    body.update(changes)
    return await api.client.post(_procedures(journey), json=body, headers=headers)


async def _pauses(api: Api, case_id: str) -> list[list[str | None]]:
    async with api.ctx.sessionmaker() as session:
        row = await session.scalar(
            select(SlaClockRow).where(SlaClockRow.case_id == case_id, SlaClockRow.active)
        )
        assert row is not None
        return list(row.pauses)


async def test_an_approved_procedure_suspends_the_clock_until_it_ends(api: Api) -> None:
    journey = await start_journey(api)
    await assign(journey)
    head, head_headers = await api.staff_headers(Role.head)
    lead = journey.inspector_headers(0)
    asked = await _request(api, journey, lead, head.id)
    assert asked.status_code == 201, asked.text
    procedure = asked.json()
    assert (procedure["status"], procedure["kind_zh"]) == ("requested", "专家评审")
    assert (await _clock(api, journey))["paused"] is False  # not before it is approved
    feed = (await api.client.get("/api/v1/feed", headers=head_headers)).json()
    assert [m["template"] for m in feed] == ["special_procedure_requested"]

    url = f"/api/v1/special-procedures/{procedure['id']}"
    approved = await api.client.post(f"{url}/approve", json={}, headers=head_headers)
    assert approved.status_code == 200, approved.text
    assert approved.json()["status"] == "active"
    clock = await _clock(api, journey)
    assert (clock["paused"], clock["held_by"], clock["due_at"]) == (True, procedure["id"], None)
    assert "特别程序" in clock["message_zh"]
    [*_, last] = await _pauses(api, journey.case_id)
    assert last[1] is None
    assert "燃气管道需专家评审" in str(last[2])
    special = await _board_special(api, journey.dispatcher)
    assert special["total"] == 1
    [listed] = special["cases"]
    assert (listed["case_number"], listed["kind_zh"]) == (journey.case["number"], "专家评审")

    ended = await api.client.post(f"{url}/end", json={"outcome": "专家意见：合格"}, headers=lead)
    assert ended.status_code == 200, ended.text
    assert ended.json()["status"] == "ended"
    clock = await _clock(api, journey)
    assert (clock["paused"], clock["held_by"]) == (False, None)
    assert clock["due_at"] is not None
    assert (await _board_special(api, journey.dispatcher))["total"] == 0


async def test_the_applicants_wait_ending_does_not_resume_a_held_clock(api: Api) -> None:
    journey = await start_journey(api)
    await schedule(journey)
    admin, admin_headers = await api.staff_headers(Role.admin)
    asked = await _request(api, journey, journey.dispatcher, admin.id, kind="hearing")
    url = f"/api/v1/special-procedures/{asked.json()['id']}"
    assert (await api.client.post(f"{url}/approve", json={}, headers=admin_headers)).is_success
    await reschedule(journey)  # the applicant asks for another time, then a slot is agreed
    assert (await _clock(api, journey))["paused"] is True
    ended = await api.client.post(f"{url}/end", json={}, headers=journey.dispatcher)
    assert ended.status_code == 200, ended.text
    assert (await _clock(api, journey))["paused"] is False


async def test_a_suspension_needs_a_named_approver_who_is_not_the_requester(api: Api) -> None:
    journey = await start_journey(api)
    await assign(journey)
    lead = journey.inspector_headers(0)
    missing = await _request(api, journey, lead, "")
    assert missing.status_code == 422, missing.text
    assert (missing.json()["field"], "审批人" in missing.json()["detail"]) == ("approver_id", True)
    admin, admin_headers = await api.staff_headers(Role.admin)
    own = await _request(api, journey, admin_headers, admin.id)
    assert own.status_code == 422, own.text
    assert "不能是申请人本人" in own.json()["detail"]
    dispatcher, _ = await api.staff_headers(Role.dispatcher)
    not_approver = await _request(api, journey, lead, dispatcher.id)
    assert not_approver.status_code == 422, not_approver.text
    second = await _request(api, journey, journey.inspector_headers(1), admin.id)
    assert second.status_code == 403, second.text
    listed = await api.client.get(_procedures(journey), headers=journey.dispatcher)
    assert listed.json() == []
    assert (await _clock(api, journey))["paused"] is False


async def test_only_the_named_approver_decides_and_a_procedure_ends_once(api: Api) -> None:
    journey = await start_journey(api)
    await assign(journey)
    head, head_headers = await api.staff_headers(Role.head)
    _, other_head = await api.staff_headers(Role.head)
    asked = await _request(api, journey, journey.dispatcher, head.id, kind="site_survey")
    url = f"/api/v1/special-procedures/{asked.json()['id']}"
    again = await _request(api, journey, journey.dispatcher, head.id)
    assert again.status_code == 409, again.text
    assert again.json()["reason"] == "procedure_open"
    early = await api.client.post(f"{url}/end", json={}, headers=journey.dispatcher)
    assert early.status_code == 409, early.text
    assert early.json()["reason"] == "not_active"
    for headers in (other_head, journey.dispatcher):
        refused = await api.client.post(f"{url}/approve", json={}, headers=headers)
        assert refused.status_code == 403, refused.text
    assert (await _clock(api, journey))["paused"] is False
    assert (await api.client.post(f"{url}/approve", json={}, headers=head_headers)).is_success
    twice = await api.client.post(f"{url}/approve", json={}, headers=head_headers)
    assert twice.status_code == 409, twice.text
    assert (await api.client.post(f"{url}/end", json={}, headers=journey.dispatcher)).is_success
    pauses = await _pauses(api, journey.case_id)
    ended_twice = await api.client.post(f"{url}/end", json={}, headers=journey.dispatcher)
    assert ended_twice.status_code == 409, ended_twice.text
    assert ended_twice.json()["reason"] == "already_ended"
    assert "已经结束" in ended_twice.json()["detail"]
    assert await _pauses(api, journey.case_id) == pauses
    unknown = await api.client.post(
        "/api/v1/special-procedures/nope/end", json={}, headers=journey.dispatcher
    )
    assert unknown.status_code == 404, unknown.text


async def test_a_re_inspection_clock_started_during_a_procedure_stays_held(api: Api) -> None:
    journey = await start_journey(api)
    await start_inspection(journey)
    await mark_both(journey, FIXABLE, "fail")
    head, head_headers = await api.staff_headers(Role.head)
    asked = await _request(api, journey, journey.inspector_headers(0), head.id)
    url = f"/api/v1/special-procedures/{asked.json()['id']}"
    assert (await api.client.post(f"{url}/approve", json={}, headers=head_headers)).is_success
    await requested_and_submitted(journey)  # the applicant's photos start a re-inspection clock
    clock = await _clock(api, journey)
    assert (clock["phase"], clock["paused"], clock["held_by"]) == (
        "reinspection",
        True,
        asked.json()["id"],
    )
    assert (await api.client.post(f"{url}/end", json={}, headers=head_headers)).is_success
    assert (await _clock(api, journey))["paused"] is False
