"""一事一评 phone follow-up: closed cases to call (all or a stable share), each call's outcome,
and a dissatisfied applicant opens a follow-up."""

from __future__ import annotations

import asyncio

from server.auth.models import Role
from server.supervision.feedback import in_sample
from server.supervision.models import FollowUp, PhoneCall
from tests.fixtures.app import Api
from tests.flows import issue_opinion, start_journey
from tests.flows import open_case as open_journey_case
from tests.supervision import FOLLOW_UPS, audit_count
from tests.supervision.feedback import PHONE_LIST, call_url, closed_journey, count


def test_the_sample_is_stable_and_near_its_share() -> None:
    ids = [f"{n:032x}" for n in range(2000)]
    half = [i for i in ids if in_sample(i, 0.5)]
    assert half == [i for i in ids if in_sample(i, 0.5)]
    assert 850 < len(half) < 1150
    assert all(in_sample(i, 1) for i in ids)
    assert not any(in_sample(i, 0) for i in ids)
    assert {i for i in ids if in_sample(i, 0.2)} <= set(half)  # a larger share adds cases


async def test_calls_are_listed_recorded_and_a_dissatisfied_one_opens_a_follow_up(
    api: Api,
) -> None:
    journey = await closed_journey(api, "PF-1")
    case_id, dispatcher = journey.case_id, journey.dispatcher
    listed = await api.client.get(PHONE_LIST, headers=dispatcher)
    assert listed.status_code == 200, listed.text
    (row,) = listed.json()["cases"]
    assert (row["case_id"], row["status"], row["status_zh"], row["attempts"]) == (
        case_id,
        "to_call",
        "待回访",
        0,
    )
    assert (row["applicant_phone"], row["outcome_zh"]) == ("13800138000", "准予许可")

    missed = await api.client.post(call_url(case_id), json={"reached": False}, headers=dispatcher)
    assert missed.status_code == 201, missed.text
    (row,) = (await api.client.get(PHONE_LIST, headers=dispatcher)).json()["cases"]
    assert (row["status"], row["attempts"]) == ("not_reached", 1)

    words = "等了三天才约上，希望能快一点"
    body = {"reached": True, "satisfied": False, "words": words}
    called = await api.client.post(call_url(case_id), json=body, headers=dispatcher)
    assert called.status_code == 201, called.text
    follow_up_id = called.json()["follow_up_id"]
    assert follow_up_id is not None
    (open_one,) = (
        await api.client.get(FOLLOW_UPS, params={"status": "open"}, headers=dispatcher)
    ).json()
    assert (open_one["id"], open_one["source"], open_one["comment"]) == (
        follow_up_id,
        "phone",
        words,
    )
    done = await api.client.get(PHONE_LIST, params={"status": "done"}, headers=dispatcher)
    (row,) = done.json()["cases"]
    assert (row["attempts"], row["last_call"]["satisfied"]) == (2, False)
    assert (
        await api.client.get(PHONE_LIST, params={"status": "to_call"}, headers=dispatcher)
    ).json()["cases"] == []

    again = await api.client.post(call_url(case_id), json=body, headers=dispatcher)
    assert (again.status_code, again.json()["reason"]) == (409, "already_called")
    assert await count(api, PhoneCall) == 2
    assert await audit_count(api, "case.follow_up_called") == 2


async def test_bad_call_outcomes_are_refused_and_change_nothing(api: Api) -> None:
    journey = await start_journey(api)
    await open_journey_case(journey, "PF-OPEN")
    await issue_opinion(journey)  # issued, not closed
    url, dispatcher = call_url(journey.case_id), journey.dispatcher
    early = await api.client.post(
        url, json={"reached": True, "satisfied": True}, headers=dispatcher
    )
    assert (early.status_code, early.json()["reason"]) == (409, "not_closed")
    assert "办结后才能电话回访" in early.json()["detail"]
    for body, field in (
        ({"reached": True}, "satisfied"),
        ({"reached": False, "satisfied": True}, "satisfied"),
        ({"reached": True, "satisfied": False}, "words"),
        ({"reached": "yes"}, "reached"),
        ({"satisfied": True}, "reached"),
    ):
        refused = await api.client.post(url, json=body, headers=dispatcher)
        assert refused.status_code == 422, body
        assert field in refused.text, body
    for role in (Role.reviewer, Role.window):
        _, headers = await api.staff_headers(role)
        assert (await api.client.get(PHONE_LIST, headers=headers)).status_code == 403
    assert (
        await api.client.post(url, json={"reached": False}, headers=journey.applicant)
    ).status_code == 403
    assert (await count(api, PhoneCall), await count(api, FollowUp)) == (0, 0)
    assert (await api.client.get(PHONE_LIST, headers=dispatcher)).json()["cases"] == []


async def test_the_list_holds_the_configured_share_of_closed_cases(api: Api) -> None:
    journey = await closed_journey(api, "PF-SHARE")
    dispatcher = journey.dispatcher
    api.ctx.settings.phone_follow_up_share = 0
    none = (await api.client.get(PHONE_LIST, headers=dispatcher)).json()
    assert (none["share"], none["cases"]) == (0, [])
    api.ctx.settings.phone_follow_up_share = 0.5
    half = (await api.client.get(PHONE_LIST, headers=dispatcher)).json()
    listed = [c["case_id"] for c in half["cases"]]
    assert listed == ([journey.case_id] if in_sample(journey.case_id, 0.5) else [])
    assert (await api.client.get(PHONE_LIST, headers=dispatcher)).json() == half


async def test_two_simultaneous_reached_calls_store_exactly_one(api: Api) -> None:
    journey = await closed_journey(api, "PF-RACE")
    body = {"reached": True, "satisfied": True, "words": "挺好的"}
    responses = await asyncio.gather(
        *(
            api.client.post(call_url(journey.case_id), json=body, headers=journey.dispatcher)
            for _ in range(2)
        )
    )
    assert sorted(r.status_code for r in responses) == [201, 409]
    assert await count(api, PhoneCall) == 1
    assert await audit_count(api, "case.follow_up_called") == 1
