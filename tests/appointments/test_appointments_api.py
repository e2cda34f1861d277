"""Appointments: inspectors offer slots, the applicant picks one, reschedules, no-shows."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select

from server.appointments.models import Appointment
from server.appointments.service import mark_no_shows, record_applicant_joined
from server.db import utcnow
from server.platform.time import CHINA_TZ
from tests.fixtures.app import Api
from tests.flows import assign, refresh, schedule, slot, start_journey


async def test_applicant_picks_an_offered_slot_and_the_case_is_scheduled(api: Api) -> None:
    journey = await start_journey(api)
    await assign(journey)
    url = f"/api/v1/cases/{journey.case_id}"
    offered = await api.client.post(
        f"{url}/slots", json={"slots": [slot(3), slot(4.5)]}, headers=journey.inspector_headers(1)
    )
    assert offered.status_code == 201, offered.text
    seen = await api.client.get(f"{url}/appointment", headers=journey.applicant)
    assert [s["id"] for s in seen.json()["open_slots"]] == [s["id"] for s in offered.json()]
    chosen = offered.json()[1]["id"]
    accepted = await api.client.post(
        f"{url}/appointment", json={"slot_id": chosen}, headers=journey.applicant
    )
    assert accepted.status_code == 200, accepted.text
    after = await api.client.get(f"{url}/appointment", headers=journey.applicant)
    assert after.json()["open_slots"] == []
    assert after.json()["appointment"]["starts_at"] == offered.json()[1]["starts_at"]
    assert (await refresh(journey))["state"] == "scheduled"


async def test_bad_slots_are_refused_with_a_reason(api: Api) -> None:
    journey = await start_journey(api)
    await assign(journey)
    url = f"/api/v1/cases/{journey.case_id}/slots"
    lead = journey.inspector_headers(0)
    past = await api.client.post(url, json={"slots": [slot(-1)]}, headers=lead)
    assert past.status_code == 422
    assert "10 分钟" in past.json()["detail"]
    overlap = await api.client.post(url, json={"slots": [slot(2), slot(2.5)]}, headers=lead)
    assert overlap.status_code == 422
    long_ago = await api.client.post(
        url,
        json={"slots": [{"starts_at": "0001-01-01T09:00", "ends_at": "0001-01-01T10:00"}]},
        headers=lead,
    )
    assert long_ago.status_code == 422
    assert "starts_at" in long_ago.json()["detail"]


async def test_a_slot_without_an_offset_is_beijing_time(api: Api) -> None:
    journey = await start_journey(api)
    await assign(journey)
    start = datetime.fromisoformat(slot(3)["starts_at"]).astimezone(CHINA_TZ)
    start = start.replace(microsecond=0)  # a working day, before the due time
    naive = {
        "starts_at": start.replace(tzinfo=None).isoformat(),
        "ends_at": (start + timedelta(hours=1)).replace(tzinfo=None).isoformat(),
    }

    offered = await api.client.post(
        f"/api/v1/cases/{journey.case_id}/slots",
        json={"slots": [naive]},
        headers=journey.inspector_headers(0),
    )

    assert offered.status_code == 201, offered.text
    (made,) = offered.json()
    assert datetime.fromisoformat(made["starts_at"]) == start


async def test_only_the_case_inspectors_offer_and_only_the_applicant_accepts(api: Api) -> None:
    journey = await start_journey(api)
    await assign(journey, pool=3)
    url = f"/api/v1/cases/{journey.case_id}"
    outsider = next(s for s in journey.inspectors if s.id not in journey.case["inspector_ids"])
    refused = await api.client.post(
        f"{url}/slots", json={"slots": [slot(2)]}, headers=journey.headers[outsider.id]
    )
    assert refused.status_code == 404  # the case is not theirs to see
    by_dispatcher = await api.client.post(
        f"{url}/slots", json={"slots": [slot(2)]}, headers=journey.dispatcher
    )
    assert by_dispatcher.status_code == 403
    offered = await api.client.post(
        f"{url}/slots", json={"slots": [slot(2)]}, headers=journey.inspector_headers(0)
    )
    by_inspector = await api.client.post(
        f"{url}/appointment",
        json={"slot_id": offered.json()[0]["id"]},
        headers=journey.inspector_headers(0),
    )
    assert by_inspector.status_code == 403


async def test_applicant_reschedule_pauses_and_bureau_reschedule_reopens(api: Api) -> None:
    journey = await start_journey(api)
    await schedule(journey)
    url = f"/api/v1/cases/{journey.case_id}/appointment/reschedule"
    no_reason = await api.client.post(url, json={"reason": ""}, headers=journey.applicant)
    assert no_reason.status_code == 422
    asked = await api.client.post(url, json={"reason": "店里装修延期"}, headers=journey.applicant)
    assert asked.status_code == 200
    assert asked.json()["state"] == "rescheduling"
    clock = await api.client.get(
        f"/api/v1/cases/{journey.case_id}/clock", headers=journey.dispatcher
    )
    assert clock.json()["paused"] is True


async def test_no_show_is_recorded_unless_the_applicant_joined(api: Api) -> None:
    journey = await start_journey(api)
    await schedule(journey)
    async with api.ctx.sessionmaker() as session:
        appointment = await session.scalar(select(Appointment))
    assert appointment is not None
    too_early = appointment.starts_at + timedelta(minutes=10)
    late = appointment.starts_at + timedelta(minutes=16)
    rule = timedelta(minutes=15)
    assert await mark_no_shows(api.ctx.sessionmaker, no_show_after=rule, now=too_early) == 0
    assert await mark_no_shows(api.ctx.sessionmaker, no_show_after=rule, now=late) == 1
    assert await mark_no_shows(api.ctx.sessionmaker, no_show_after=rule, now=late) == 0
    case = await refresh(journey)
    assert case["state"] == "rescheduling"
    async with api.ctx.sessionmaker() as session:
        stored = await session.get(Appointment, appointment.id)
    assert stored is not None
    assert stored.status == "no_show"


async def test_joined_applicant_is_not_a_no_show(api: Api) -> None:
    journey = await start_journey(api)
    await schedule(journey)
    async with api.ctx.sessionmaker() as session:
        appointment = await session.scalar(select(Appointment))
        assert appointment is not None
        await record_applicant_joined(session, journey.case_id, utcnow())
        await session.commit()
    late = appointment.starts_at + timedelta(hours=1)
    assert (
        await mark_no_shows(api.ctx.sessionmaker, no_show_after=timedelta(minutes=15), now=late)
        == 0
    )
    assert (await refresh(journey))["state"] == "scheduled"


async def test_cancel_needs_a_reason_and_then_nothing_more_is_allowed(api: Api) -> None:
    journey = await start_journey(api)
    await schedule(journey)
    url = f"/api/v1/cases/{journey.case_id}/cancel"
    assert (
        await api.client.post(url, json={"reason": ""}, headers=journey.dispatcher)
    ).status_code == 422
    cancelled = await api.client.post(
        url, json={"reason": "申请人撤回申请"}, headers=journey.dispatcher
    )
    assert cancelled.status_code == 200
    assert cancelled.json()["state"] == "cancelled"
    again = await api.client.post(url, json={"reason": "再次撤销"}, headers=journey.dispatcher)
    assert again.status_code == 409
    assert again.json()["current"] == "cancelled"
    assert again.json()["allowed"] == []
