"""The case lists the actions its caller may take (``actions``), and the endpoints agree: a listed
action is accepted, an unlisted one refused (403/409) in words, never with an internal state or
action name. States are reached through the endpoints (``tests.flows``) only."""

from __future__ import annotations

import pytest

from server.cases.permissions import ACTIONS_BY_PARTY, Party
from server.cases.states import STATE_LABELS, CaseAction, CaseState, allowed_actions
from tests.cases.action_doors import callers, door, knock, listed, raw_names
from tests.fixtures.app import Api
from tests.flows import (
    SIGNED,
    Journey,
    assign,
    book,
    open_case,
    pass_every_item,
    refresh,
    schedule,
    start_inspection,
    start_journey,
    switch_onsite,
)

A = CaseAction


async def _probe_unlisted(journey: Journey) -> dict[str, list[str]]:
    """Every caller's listed actions; each action they do not list that their party could take
    elsewhere, or that the state allows someone, is refused (403/409) in words."""
    state = CaseState((await refresh(journey))["state"])
    lead_id = (journey.case["inspector_ids"] or ["nobody"])[0]
    seen: dict[str, list[str]] = {}
    for name, headers in (await callers(journey)).items():
        actions = await listed(journey, headers)
        if actions is None:  # cannot see the case: nothing to do on it
            continue
        seen[name] = actions
        party = ACTIONS_BY_PARTY[Party(name)]
        for action in CaseAction:
            found = door(action, name, lead_id)
            interesting = action in allowed_actions(state) or action in party
            if found is None or action.value in actions or not interesting:
                continue
            refused = await knock(journey, headers, found)
            assert refused.status_code in (403, 409), (state, name, action, refused.text)
            assert not raw_names(refused.json()), (state, name, action, refused.json())
    assert (await refresh(journey))["state"] == state, "a refused action changed the case"
    return seen


async def _opinion(journey: Journey, step: str, position: int) -> None:
    body = SIGNED if step == "cosign" else None
    done = await journey.api.client.post(
        f"/api/v1/cases/{journey.case_id}/opinion/{step}",
        json=body,
        headers=journey.inspector_headers(position),
    )
    assert done.status_code == 200, done.text


async def test_each_caller_sees_the_actions_the_endpoints_accept_along_the_journey(
    api: Api,
) -> None:
    journey = await start_journey(api)
    await open_case(journey)
    seen = await _probe_unlisted(journey)
    assert seen["dispatcher"] == ["assign", "cancel"]
    assert seen["applicant"] == ["withdraw"]
    assert seen["head"] == []
    await assign(journey)  # the dispatcher draws: listed above

    seen = await _probe_unlisted(journey)
    assert "schedule" in seen["lead"]
    assert "schedule" in seen["applicant"]
    assert seen["dispatcher"] == ["switch_offline", "replace_inspector", "cancel"]
    assert seen["admin"] == ["switch_offline", "replace_inspector", "cancel"]
    await schedule(journey)  # the lead offers, the applicant books

    seen = await _probe_unlisted(journey)
    assert "start_inspection" in seen["lead"]
    assert "start_inspection" in seen["second"]
    assert "request_reschedule" in seen["applicant"]
    assert "reschedule" in seen["dispatcher"]
    await start_inspection(journey)

    seen = await _probe_unlisted(journey)
    assert "conclude" in seen["lead"]
    assert "conclude" not in seen["second"]
    await pass_every_item(journey)
    concluded = await api.client.post(
        f"/api/v1/cases/{journey.case_id}/inspection/conclude", headers=journey.inspector_headers(0)
    )
    assert concluded.status_code == 200, concluded.text

    seen = await _probe_unlisted(journey)
    assert "submit_draft" in seen["lead"]
    assert "submit_draft" not in seen["second"]
    await _opinion(journey, "draft", 0)
    await _opinion(journey, "submit", 0)

    seen = await _probe_unlisted(journey)
    assert seen["second"] == ["co_sign", "decline_cosign"]
    assert seen["lead"] == []
    await _opinion(journey, "cosign", 1)

    seen = await _probe_unlisted(journey)
    assert seen["reviewer"] == ["approve", "send_back"]
    approved = await api.client.post(
        f"/api/v1/cases/{journey.case_id}/opinion/approve",
        json=SIGNED,
        headers=(await callers(journey))["reviewer"],
    )
    assert approved.status_code == 200, approved.text

    seen = await _probe_unlisted(journey)
    assert seen["window"] == ["close"]
    assert seen["dispatcher"] == []
    assert seen["applicant"] == []


async def test_the_applicant_progress_lists_booking_withdrawal_and_complaint(api: Api) -> None:
    journey = await start_journey(api)
    await assign(journey)
    progress = await api.client.get(
        f"/api/v1/cases/{journey.case_id}/progress", headers=journey.applicant
    )
    assert progress.status_code == 200, progress.text
    assert progress.json()["actions"] == ["schedule", "withdraw", "complain"]
    staff = await api.client.get(
        f"/api/v1/cases/{journey.case_id}/progress", headers=journey.dispatcher
    )
    assert "complain" not in staff.json()["actions"]


@pytest.mark.parametrize(
    ("caller", "action"),
    [
        ("dispatcher", A.cancel),
        ("applicant", A.withdraw),
        ("lead", A.switch_offline),
        ("admin", A.replace_inspector),
        ("second", A.reschedule),
        ("applicant", A.request_reschedule),
    ],
)
async def test_a_listed_action_is_accepted(api: Api, caller: str, action: CaseAction) -> None:
    journey = await start_journey(api)
    await schedule(journey)
    headers = (await callers(journey))[caller]
    assert action.value in (await listed(journey, headers) or [])
    found = door(action, caller, journey.case["inspector_ids"][0])
    assert found is not None
    done = await knock(journey, headers, found)
    assert done.status_code == 200, done.text


async def test_illegal_moves_are_refused_in_words(api: Api) -> None:
    journey = await start_journey(api)
    await assign(journey)
    lead_id = journey.case["inspector_ids"][0]
    attempts = [
        ("lead", A.start_inspection),  # nothing booked yet
        ("dispatcher", A.assign),  # drawn already
        ("applicant", A.submit_rectification),
        ("second", A.co_sign),
        ("lead", A.submit_draft),
        ("lead", A.conclude),
    ]
    who = await callers(journey)
    for caller, action in attempts:
        found = door(action, caller, lead_id)
        assert found is not None
        refused = await knock(journey, who[caller], found)
        problem = refused.json()
        assert (refused.status_code, problem["current"]) == (409, "assigned"), problem
        assert STATE_LABELS[CaseState.assigned].zh in problem["detail"], problem
        assert not raw_names(problem), problem


async def test_a_party_that_may_not_take_an_action_is_told_who_may(api: Api) -> None:
    journey = await start_journey(api)
    await schedule(journey)
    found = door(A.switch_offline, "second", journey.case["inspector_ids"][0])
    assert found is not None
    refused = await knock(journey, journey.inspector_headers(1), found)
    problem = refused.json()
    assert refused.status_code == 403, problem
    assert "转线下踏勘" in problem["detail"], problem
    assert "主办踏勘人员" in problem["detail"], problem
    assert not raw_names(problem), problem


async def test_a_case_already_on_site_does_not_offer_the_switch_on_site(api: Api) -> None:
    journey = await start_journey(api)
    await assign(journey)
    await switch_onsite(journey)
    await book(journey)  # the visit is booked: the state would allow a switch, the mode not
    assert (await refresh(journey))["state"] == "scheduled"
    actions = await listed(journey, journey.dispatcher)
    assert actions is not None
    assert "switch_offline" not in actions
    assert "cancel" in actions
    found = door(A.switch_offline, "dispatcher", journey.case["inspector_ids"][0])
    assert found is not None
    refused = await knock(journey, journey.dispatcher, found)
    assert refused.status_code == 409, refused.text
    assert not raw_names(refused.json()), refused.json()
