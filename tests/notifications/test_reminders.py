"""Reminders (提醒): the day before and an hour before the agreed video inspection, and a day
before a rectification deadline — one scheduler job, run here with a chosen ``now``.

Cases reach their state through the endpoints; the job is called as the scheduler calls it.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from server.db import utcnow
from server.notifications.reminders import send_reminders
from tests.fixtures.app import Api
from tests.flows import Journey, assign, open_case, slot, start_journey
from tests.notifications.feeds import feed, templates
from tests.rectification.steps import FIXABLE, request, rounds


async def booked(api: Api, hours_ahead: float) -> tuple[Journey, datetime]:
    """An assigned case whose applicant took a slot ``hours_ahead`` from now."""
    journey = await start_journey(api)
    # A complex case (several working days to its due time), so a slot a day ahead is bookable.
    await open_case(journey, sla_class="complex", override_reason="需多部门联合踏勘")
    await assign(journey)
    offered = await api.client.post(
        f"/api/v1/cases/{journey.case_id}/slots",
        json={"slots": [slot(hours_ahead), slot(hours_ahead + 3)]},
        headers=journey.inspector_headers(0),
    )
    assert offered.status_code == 201, offered.text
    accepted = await api.client.post(
        f"/api/v1/cases/{journey.case_id}/appointment",
        json={"slot_id": offered.json()[0]["id"]},
        headers=journey.applicant,
    )
    assert accepted.status_code == 200, accepted.text
    return journey, datetime.fromisoformat(offered.json()[0]["starts_at"])


async def remind(api: Api, now: datetime) -> int:
    return await send_reminders(api.ctx.sessionmaker, api.ctx.settings, now)


async def test_the_day_before_and_the_hour_before_once_each(api: Api) -> None:
    journey, starts = await booked(api, 30)

    assert await remind(api, utcnow()) == 0  # 30 h ahead: nothing yet
    assert await remind(api, starts - timedelta(hours=23)) == 1
    assert await remind(api, starts - timedelta(hours=22)) == 0  # idempotent
    assert await remind(api, starts - timedelta(minutes=50)) == 1
    assert await remind(api, starts - timedelta(minutes=10)) == 0
    assert await remind(api, starts + timedelta(minutes=1)) == 0  # it has begun

    reminders = [
        i for i in await feed(api, journey.applicant) if i["template"] == "appointment_reminder"
    ]
    assert len(reminders) == 2
    assert "视频踏勘将于" in reminders[0]["text_zh"]


async def test_booked_within_the_day_gets_only_the_hour_reminder(api: Api) -> None:
    journey, starts = await booked(api, 2)

    assert await remind(api, utcnow()) == 0  # the confirmation has just said it
    assert await remind(api, starts - timedelta(minutes=30)) == 1

    assert (await templates(api, journey.applicant)).count("appointment_reminder") == 1


async def test_a_rescheduled_appointment_is_not_reminded(api: Api) -> None:
    journey, starts = await booked(api, 30)
    moved = await api.client.post(
        f"/api/v1/cases/{journey.case_id}/appointment/reschedule",
        json={"reason": "店里装修延期"},
        headers=journey.applicant,
    )
    assert moved.status_code == 200, moved.text

    assert await remind(api, starts - timedelta(hours=2)) == 0


async def test_the_day_before_the_rectification_deadline(api: Api, journey: Journey) -> None:
    assert (await request(journey, FIXABLE)).status_code == 201
    [current] = await rounds(journey, journey.applicant)
    deadline = datetime.fromisoformat(current["deadline"])

    assert await remind(api, deadline - timedelta(days=2)) == 0
    assert await remind(api, deadline - timedelta(hours=20)) == 1
    assert await remind(api, deadline - timedelta(hours=2)) == 0

    texts = [i["text_zh"] for i in await feed(api, journey.applicant)]
    assert sum("补齐补正材料将于" in t for t in texts) == 1
