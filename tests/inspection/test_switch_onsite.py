"""Switching a case to an on-site visit (转线下踏勘) by decision: a dispatcher or the lead, with a
reason, any time from the assignment until the opinion is submitted; the visit then runs to an
issued opinion with the same console."""

from __future__ import annotations

from typing import Any

import httpx
from sqlalchemy import select

from server.audit.models import AuditRecord
from server.notifications.models import Notification
from tests.fixtures.app import Api
from tests.flows import (
    Journey,
    callers,
    conclude,
    issue_onsite,
    pass_every_item,
    refresh,
    schedule,
    start_inspection,
    start_journey,
    switch_onsite,
)

REASON = "面积和间距需要现场量尺核对"


async def post_switch(journey: Journey, headers: dict[str, str], reason: str) -> httpx.Response:
    return await journey.api.client.post(
        f"/api/v1/cases/{journey.case_id}/switch-onsite", json={"reason": reason}, headers=headers
    )


async def clock(journey: Journey) -> dict[str, Any]:
    response = await journey.api.client.get(
        f"/api/v1/cases/{journey.case_id}/clock", headers=journey.dispatcher
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def told(api: Api, case_id: str) -> list[Notification]:
    async with api.ctx.sessionmaker() as session:
        rows = await session.scalars(
            select(Notification).where(
                Notification.case_id == case_id, Notification.template == "switched_onsite"
            )
        )
        return list(rows.all())


async def switches(api: Api, case_id: str) -> list[dict[str, Any]]:
    async with api.ctx.sessionmaker() as session:
        rows = await session.scalars(
            select(AuditRecord).where(
                AuditRecord.case_id == case_id, AuditRecord.action == "case.transition"
            )
        )
        return [r.detail for r in rows.all() if r.detail.get("action") == "switch_offline"]


async def test_dispatcher_switch_ends_the_booking_and_the_visit_runs_to_an_issued_opinion(
    api: Api,
) -> None:
    journey = await start_journey(api)
    await schedule(journey)
    await switch_onsite(journey, REASON)
    booking = await api.client.get(
        f"/api/v1/cases/{journey.case_id}/appointment", headers=journey.applicant
    )
    assert (booking.json()["appointment"], booking.json()["open_slots"]) == (None, [])
    assert (await clock(journey))["sla_class"] == "complex"
    [audited] = await switches(api, journey.case_id)
    assert (audited["reason"], audited["from"], audited["by"]) == (REASON, "scheduled", "decision")
    notices = await told(api, journey.case_id)
    assert notices, "the applicant is told"
    assert {n.audience for n in notices} == {"applicant"}
    applicant = notices
    assert REASON in applicant[0].text_zh
    assert "visiting the site" in applicant[0].text_en
    issued = await issue_onsite(journey)
    assert (issued["state"], issued["mode"]) == ("issued", "offline_onsite")
    opinion = await api.client.get(
        f"/api/v1/cases/{journey.case_id}/opinion", headers=journey.dispatcher
    )
    assert opinion.json()["content"]["mode"] == "offline_onsite", opinion.text


async def test_lead_switches_while_drafting_and_the_visit_drafts_again(api: Api) -> None:
    journey = await start_journey(api)
    await start_inspection(journey)
    await pass_every_item(journey)
    await conclude(api, journey.case_id, journey.inspector_headers(0))
    drafted = await api.client.post(
        f"/api/v1/cases/{journey.case_id}/opinion/draft", headers=journey.inspector_headers(0)
    )
    assert drafted.status_code == 200, drafted.text
    await switch_onsite(journey, "照片看不清排水沟，需上门核实", by=journey.inspector_headers(0))
    issued = await issue_onsite(journey)
    assert issued["state"] == "issued"


async def refused(
    journey: Journey, headers: dict[str, str], status: int, reason: str = REASON
) -> dict[str, Any]:
    before = await refresh(journey)
    response = await post_switch(journey, headers, reason)
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    after = await refresh(journey)
    assert (after["state"], after["mode"], after["updated_at"]) == (
        before["state"],
        before["mode"],
        before["updated_at"],
    )
    body: dict[str, Any] = response.json()
    return body


async def test_who_may_switch_and_without_a_reason_nothing_changes(api: Api) -> None:
    journey = await start_journey(api)
    who = await callers(journey)
    await refused(journey, journey.dispatcher, 422, reason="")
    blank = await refused(journey, journey.dispatcher, 422, reason="   ")
    assert "理由" in blank["title"] + blank.get("detail", "")
    second = await refused(journey, journey.inspector_headers(1), 403)
    assert "主办踏勘人员" in str(second)
    await refused(journey, who["applicant"], 403)
    assert await told(api, journey.case_id) == []
    assert await switches(api, journey.case_id) == []


async def test_twice_or_after_the_opinion_is_submitted_is_refused(api: Api) -> None:
    journey = await start_journey(api)
    await schedule(journey)
    await switch_onsite(journey)
    again = await refused(journey, journey.dispatcher, 409)
    assert "已经是现场踏勘" in str(again)
    await issue_onsite(journey)
    late = await refused(journey, journey.inspector_headers(0), 409)
    assert "意见书提交会签之前" in str(late)


async def test_after_submitting_the_opinion_is_refused(api: Api) -> None:
    journey = await start_journey(api)
    await start_inspection(journey)
    await pass_every_item(journey)
    await conclude(api, journey.case_id, journey.inspector_headers(0))
    for step in ("draft", "submit"):
        done = await api.client.post(
            f"/api/v1/cases/{journey.case_id}/opinion/{step}",
            headers=journey.inspector_headers(0),
        )
        assert done.status_code == 200, done.text
    assert (await refresh(journey))["state"] == "awaiting_cosign"
    await refused(journey, journey.dispatcher, 409)
