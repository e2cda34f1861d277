"""The licensing decision (审批决定) on an issued case closes it (办结), once."""

from __future__ import annotations

import asyncio
from typing import Any

from sqlalchemy import select

from server.auth.models import Role
from server.notifications.models import Notification
from tests.auth.clients import bearer, make_client
from tests.closure import beijing_today, closings, decision_url, issued_case, stored_decisions
from tests.fixtures.app import Api
from tests.flows import (
    decision_body,
    open_case,
    refresh,
    start_inspection,
    start_journey,
)


async def test_window_staff_record_the_decision_and_the_case_closes(api: Api) -> None:
    journey = await issued_case(api, "CL-WIN")
    url = decision_url(journey.case_id)
    window_staff, window = await api.staff_headers(Role.window)
    early = await api.client.get(url, headers=window)
    assert early.status_code == 404
    assert early.json()["reason"] == "not_decided"

    body = decision_body(note="  申请人已到窗口领取决定书 ")
    response = await api.client.post(url, json=body, headers=window)
    assert response.status_code == 201, response.text
    decision = response.json()
    assert (decision["outcome"], decision["outcome_zh"]) == ("granted", "准予许可")
    assert decision["decision_no"] == body["decision_no"]
    assert decision["decided_on"] == body["decided_on"]
    assert decision["note"] == "申请人已到窗口领取决定书"
    assert (decision["recorded_by_kind"], decision["recorded_by_id"]) == ("staff", window_staff.id)
    assert decision["recorded_at_local"].endswith("+08:00")
    assert decision["case_state"] == "closed"
    assert (await refresh(journey))["state"] == "closed"

    (closing,) = await closings(api, journey.case_id)
    assert (closing.actor_kind, closing.actor_id) == ("staff", window_staff.id)
    assert (closing.detail["from"], closing.detail["to"]) == ("issued", "closed")
    assert closing.detail["decision_no"] == body["decision_no"]
    clock = await api.client.get(f"/api/v1/cases/{journey.case_id}/clock", headers=window)
    assert clock.status_code == 200, clock.text
    assert clock.json()["active"] is False

    for reader in (journey.applicant, journey.dispatcher, window):
        read = await api.client.get(url, headers=reader)
        assert read.status_code == 200, read.text
        assert read.json() == decision


async def test_the_applicant_is_told_and_may_then_rate(api: Api) -> None:
    journey = await issued_case(api, "CL-TELL")
    _, window = await api.staff_headers(Role.window)
    body = decision_body("refused", decision_no="闽审批不许字〔2026〕第7号")
    response = await api.client.post(decision_url(journey.case_id), json=body, headers=window)
    assert response.status_code == 201, response.text
    async with api.ctx.sessionmaker() as session:
        rows = (
            await session.scalars(
                select(Notification).where(
                    Notification.case_id == journey.case_id, Notification.template == "case_closed"
                )
            )
        ).all()
    assert {(n.audience, n.channel) for n in rows} == {("applicant", "feed")}
    (told,) = rows
    assert "已办结：不予许可（决定书编号闽审批不许字〔2026〕第7号）" in told.text_zh
    assert "评价" in told.text_zh
    assert "licence refused" in told.text_en
    assert "rate" in told.text_en
    feed = await api.client.get("/api/v1/feed", headers=journey.applicant)
    assert any("已办结" in item["text_zh"] for item in feed.json()), feed.text
    rated = await api.client.post(
        f"/api/v1/cases/{journey.case_id}/rating", json={"score": 5}, headers=journey.applicant
    )
    assert rated.status_code == 201, rated.text


async def test_the_approval_system_records_it_with_its_own_key(api: Api) -> None:
    journey = await issued_case(api, "CL-API")
    decider = await make_client(api, journey.admin, ["decisions:write"])
    url = decision_url(journey.case_id)
    response = await api.client.post(url, json=decision_body(), headers=bearer(decider["key"]))
    assert response.status_code == 201, response.text
    assert (response.json()["recorded_by_kind"], response.json()["recorded_by_id"]) == (
        "client",
        decider["id"],
    )
    (closing,) = await closings(api, journey.case_id)
    assert (closing.actor_kind, closing.actor_id) == ("client", decider["id"])
    unread = await api.client.get(url, headers=bearer(decider["key"]))
    assert unread.status_code == 403  # reading results is another scope
    reader = await make_client(api, journey.admin, ["cases:read_results"])
    read = await api.client.get(url, headers=bearer(reader["key"]))
    assert read.status_code == 200, read.text
    assert read.json()["decision_no"] == response.json()["decision_no"]
    written = await api.client.post(url, json=decision_body(), headers=bearer(reader["key"]))
    assert written.status_code == 403
    assert "decisions:write" in written.json()["detail_en"]


async def test_the_same_decision_again_answers_the_stored_one_and_another_is_refused(
    api: Api,
) -> None:
    journey = await issued_case(api, "CL-TWICE")
    _, window = await api.staff_headers(Role.window)
    url, body = decision_url(journey.case_id), decision_body()
    first = await api.client.post(url, json=body, headers=window)
    assert first.status_code == 201, first.text
    _, other_window = await api.staff_headers(Role.window)
    again = await api.client.post(url, json=body, headers=other_window)
    assert again.status_code == 200, again.text
    assert again.json() == first.json()
    changed: list[dict[str, Any]] = [
        decision_body("refused"),
        decision_body(decision_no="闽审批许字〔2026〕第0002号"),
        decision_body(note="另一个说明"),
    ]
    for other in changed:
        refused = await api.client.post(url, json=other, headers=window)
        assert refused.status_code == 409, other
        problem = refused.json()
        assert problem["reason"] == "already_decided"
        assert "本案已办结" in problem["detail"]
        assert "准予许可" in problem["detail"]
    assert await stored_decisions(api) == 1
    assert len(await closings(api, journey.case_id)) == 1


async def test_callers_other_than_window_staff_and_the_approval_system_are_refused(
    api: Api,
) -> None:
    journey = await issued_case(api, "CL-WHO")
    url, body = decision_url(journey.case_id), decision_body()
    _, reviewer = await api.staff_headers(Role.reviewer)
    refused_by_role = {
        "admin": journey.admin,
        "dispatcher": journey.dispatcher,
        "inspector": journey.inspector_headers(0),
        "reviewer": reviewer,
        "applicant": journey.applicant,
    }
    for who, headers in refused_by_role.items():
        response = await api.client.post(url, json=body, headers=headers)
        assert response.status_code == 403, who
    other = await start_journey(api)
    await open_case(other, "CL-WHO-2")
    foreign = await api.client.post(url, json=body, headers=other.applicant)
    assert foreign.status_code == 404
    assert (await api.client.post(url, json=body)).status_code == 401
    assert await stored_decisions(api) == 0
    assert (await refresh(journey))["state"] == "issued"


async def test_a_case_not_yet_issued_cannot_be_closed(api: Api) -> None:
    journey = await start_journey(api)
    await open_case(journey, "CL-EARLY")
    await start_inspection(journey)
    url, body = decision_url(journey.case_id), decision_body()
    both = await make_client(api, journey.admin, ["cases:read_results", "decisions:write"])
    response = await api.client.post(url, json=body, headers=bearer(both["key"]))
    assert response.status_code == 409, response.text
    problem = response.json()
    assert (problem["code"], problem["current"]) == ("invalid_state", "in_progress")
    assert "踏勘中" in problem["detail"]  # the state in words, never its internal name
    assert "in_progress" not in problem["detail"]
    # Window staff and a deciding-only client see issued cases only: not this one.
    _, window = await api.staff_headers(Role.window)
    assert (await api.client.post(url, json=body, headers=window)).status_code == 404
    decider = await make_client(api, journey.admin, ["decisions:write"])
    hidden = await api.client.post(url, json=body, headers=bearer(decider["key"]))
    assert hidden.status_code == 404
    assert await stored_decisions(api) == 0


async def test_bad_input_is_refused_and_changes_nothing(api: Api) -> None:
    journey = await issued_case(api, "CL-BAD")
    _, window = await api.staff_headers(Role.window)
    url = decision_url(journey.case_id)
    bodies: list[Any] = [
        decision_body(decided_on=beijing_today(1).isoformat()),  # tomorrow
        decision_body(decided_on=beijing_today(-1).isoformat()),  # before the opinion
        decision_body(decided_on="2026-13-01"),
        decision_body(decided_on="1999-12-31"),
        decision_body(outcome="approved"),
        decision_body(decision_no=""),
        decision_body(decision_no="   "),
        decision_body(decision_no="号" * 65),
        decision_body(note="长" * 501),
        decision_body(extra="x"),
        {"outcome": "granted", "decision_no": "No. 1"},
        "not an object",
    ]
    for body in bodies:
        response = await api.client.post(url, json=body, headers=window)
        assert response.status_code == 422, (body, response.text)
        assert response.json()["code"] == "bad_input"
    future = await api.client.post(
        url, json=decision_body(decided_on=beijing_today(1).isoformat()), headers=window
    )
    assert future.json()["field"] == "decided_on"
    assert "晚于今天" in future.json()["detail"]
    assert await stored_decisions(api) == 0
    assert await closings(api, journey.case_id) == []
    assert (await refresh(journey))["state"] == "issued"


async def test_two_simultaneous_decisions_store_exactly_one(api: Api) -> None:
    journey = await issued_case(api, "CL-RACE")
    _, window = await api.staff_headers(Role.window)
    url = decision_url(journey.case_id)
    responses = await asyncio.gather(
        *(
            api.client.post(url, json=decision_body(outcome), headers=window)
            for outcome in ("granted", "refused")
        )
    )
    assert sorted(r.status_code for r in responses) == [201, 409], [r.text for r in responses]
    assert await stored_decisions(api) == 1
    assert len(await closings(api, journey.case_id)) == 1
