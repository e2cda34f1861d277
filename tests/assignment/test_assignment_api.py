"""The draw of two inspectors (双随机) through the API: who can be drawn, replay, replacement."""

from __future__ import annotations

from sqlalchemy import select

from server.assignment.models import Draw
from server.audit.models import AuditRecord
from server.cases.models import CaseInspector
from tests.fixtures.app import Api
from tests.flows import add_inspector, assign, open_case, refresh, start_journey


async def test_draw_picks_two_eligible_inspectors_and_assigns_the_case(api: Api) -> None:
    journey = await start_journey(api)
    matter = api.ctx.catalogue.matters[0].code
    other = api.ctx.catalogue.matters[1].code
    eligible = [await add_inspector(journey, [matter]) for _ in range(3)]
    unqualified = await add_inspector(journey, [other])
    inactive = await add_inspector(journey, [matter], active=False)
    conflicted = await add_inspector(journey, [matter])
    await api.client.post(
        f"/api/v1/inspectors/{conflicted.id}/conflicts",
        json={"kind": "applicant", "value": "惠民便利店有限公司", "note": "亲属经营"},
        headers=journey.headers[conflicted.id],
    )
    await open_case(journey)
    response = await api.client.post(
        f"/api/v1/cases/{journey.case_id}/draw", headers=journey.dispatcher
    )
    assert response.status_code == 200, response.text
    pair = response.json()["pair"]
    assert len(set(pair)) == 2
    assert set(pair) <= {s.id for s in eligible}
    excluded = {e["inspector_id"]: e["reasons"] for e in response.json()["excluded"]}
    assert excluded[unqualified.id] == ["unqualified"]
    assert excluded[inactive.id] == ["inactive"]
    assert excluded[conflicted.id] == ["conflict"]
    case = await refresh(journey)
    assert case["state"] == "assigned"
    assert case["inspector_ids"] == pair


async def test_a_stored_draw_replays_to_the_same_pair(api: Api) -> None:
    journey = await start_journey(api)
    await assign(journey, pool=5)
    async with api.ctx.sessionmaker() as session:
        draw_id = await session.scalar(select(Draw.id))
    replay = await api.client.post(f"/api/v1/draws/{draw_id}/replay", headers=journey.dispatcher)
    assert replay.status_code == 200
    assert replay.json()["same"] is True
    assert replay.json()["replayed_pair"] == journey.case["inspector_ids"]


async def test_too_few_eligible_leaves_the_case_unassigned_with_a_reason(api: Api) -> None:
    journey = await start_journey(api)
    await add_inspector(journey, [api.ctx.catalogue.matters[0].code])
    await open_case(journey)
    response = await api.client.post(
        f"/api/v1/cases/{journey.case_id}/draw", headers=journey.dispatcher
    )
    assert response.status_code == 200
    assert response.json()["pair"] is None
    assert "1" in response.json()["reason_zh"]
    case = await refresh(journey)
    assert case["state"] == "received"
    assert case["inspector_ids"] == []


async def test_drawing_an_assigned_case_again_is_409_naming_the_state(api: Api) -> None:
    journey = await start_journey(api)
    await assign(journey)
    again = await api.client.post(
        f"/api/v1/cases/{journey.case_id}/draw", headers=journey.dispatcher
    )
    assert again.status_code == 409
    assert again.json()["current"] == "assigned"
    assert "schedule" in again.json()["allowed"]


async def test_replacing_an_inspector_needs_a_reason_and_keeps_the_position(api: Api) -> None:
    journey = await start_journey(api)
    await assign(journey, pool=4)
    lead, second = journey.case["inspector_ids"]
    url = f"/api/v1/cases/{journey.case_id}/replace-inspector"
    no_reason = await api.client.post(
        url, json={"leaving": lead, "reason": ""}, headers=journey.dispatcher
    )
    assert no_reason.status_code == 422
    replaced = await api.client.post(
        url, json={"leaving": lead, "reason": "临时出差"}, headers=journey.dispatcher
    )
    assert replaced.status_code == 200, replaced.text
    newcomer = replaced.json()["replacement"]
    assert newcomer not in (lead, second)
    case = await refresh(journey)
    assert case["inspector_ids"] == [newcomer, second]
    async with api.ctx.sessionmaker() as session:
        released = await session.scalar(select(CaseInspector).where(CaseInspector.staff_id == lead))
        audit = list(await session.scalars(select(AuditRecord.detail)))
    assert released is not None
    assert released.release_reason == "临时出差"
    assert any(
        d.get("action") == "replace_inspector" and d.get("reason") == "临时出差" for d in audit
    )


async def test_an_inspector_declares_only_their_own_conflicts(api: Api) -> None:
    journey = await start_journey(api)
    matter = api.ctx.catalogue.matters[0].code
    one, two = await add_inspector(journey, [matter]), await add_inspector(journey, [matter])
    body = {"kind": "address", "value": "福州市鼓楼区东街88号"}
    foreign = await api.client.post(
        f"/api/v1/inspectors/{two.id}/conflicts", json=body, headers=journey.headers[one.id]
    )
    assert foreign.status_code == 403
    own = await api.client.post(
        f"/api/v1/inspectors/{one.id}/conflicts", json=body, headers=journey.headers[one.id]
    )
    assert own.status_code == 201
    assert own.json()["key"] == "address:福州市鼓楼区东街88号"
    twice = await api.client.post(
        f"/api/v1/inspectors/{one.id}/conflicts", json=body, headers=journey.headers[one.id]
    )
    assert twice.status_code == 409


async def test_profile_with_an_unknown_matter_is_refused(api: Api) -> None:
    journey = await start_journey(api)
    staff = await add_inspector(journey, [api.ctx.catalogue.matters[0].code])
    response = await api.client.put(
        f"/api/v1/inspectors/{staff.id}/profile",
        json={"matters": ["teleportation"]},
        headers=journey.admin,
    )
    assert response.status_code == 422
    assert "teleportation" in response.json()["detail"]
