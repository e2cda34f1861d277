"""Helpers of the feedback tests: closed cases, ratings, complaints, answers and calls."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select

from server.auth.models import Role
from tests.fixtures.app import Api
from tests.flows import Journey, close, start_journey
from tests.flows import open_case as open_journey_case
from tests.supervision import FOLLOW_UPS

PHONE_LIST = "/api/v1/phone-follow-ups"
ANSWER = {"answer": "已约谈踏勘人员并改进预约安排", "answered_by": "审批科 李四"}


def rating_url(case_id: str) -> str:
    return f"/api/v1/cases/{case_id}/rating"


def progress_url(case_id: str) -> str:
    return f"/api/v1/cases/{case_id}/progress"


def complaints_url(case_id: str) -> str:
    return f"/api/v1/cases/{case_id}/complaints"


def call_url(case_id: str) -> str:
    return f"/api/v1/cases/{case_id}/phone-follow-up"


async def closed_journey(api: Api, number: str, journey: Journey | None = None) -> Journey:
    """A journey whose case is closed (a new journey when None)."""
    journey = journey or await start_journey(api)
    await open_journey_case(journey, number)
    await close(journey)
    return journey


async def count(api: Api, model: Any) -> int:
    async with api.ctx.sessionmaker() as session:
        return int(await session.scalar(select(func.count()).select_from(model)) or 0)


async def follow_up_of(api: Api, headers: dict[str, str], follow_up_id: str) -> dict[str, Any]:
    listed = await api.client.get(FOLLOW_UPS, headers=headers)
    assert listed.status_code == 200, listed.text
    (found,) = [f for f in listed.json() if f["id"] == follow_up_id]
    return dict(found)


async def set_badge(api: Api, staff_id: str, badge: str, phone: str) -> dict[str, Any]:
    """The admin records an inspector's badge number (执法证号) and work phone."""
    _, admin = await api.staff_headers(Role.admin)
    response = await api.client.patch(
        f"/api/v1/staff/{staff_id}", json={"badge_number": badge, "phone": phone}, headers=admin
    )
    assert response.status_code == 200, response.text
    return dict(response.json())
