"""The in-app feed (each caller sees their own messages) and a case's delivery record."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from server.auth.models import Role
from server.cases.models import Case
from server.db import utcnow
from server.notifications.models import Channel
from server.notifications.service import notify
from tests.fixtures.app import Api


@dataclass
class Scene:
    case_id: str
    applicant: dict[str, str]
    dispatcher: dict[str, str]
    inspector: dict[str, str]
    window: dict[str, str]


async def _open_case(api: Api) -> str:
    """Straight into the database: intake has its own tests."""
    case = Case(
        number="YTK0101",
        application_no="SQ-2026-0101",
        intake_fingerprint="0" * 64,
        applicant_kind="person",
        applicant_name="张三",
        applicant_phone="13800138000",
        site_address="福州市鼓楼区东街88号",
        matters=["food_retail"],
        mode="online_video",
        sla_class="simple",
        state="received",
    )
    async with api.ctx.sessionmaker() as session:
        session.add(case)
        await session.commit()
    return case.id


async def _applicant_headers(api: Api, case_id: str, headers: dict[str, str]) -> dict[str, str]:
    response = await api.client.post(f"/api/v1/cases/{case_id}/links", headers=headers)
    assert response.status_code == 201, response.text
    return {"Authorization": f"Bearer {response.json()['token']}"}


async def _notify(api: Api, **kwargs: Any) -> None:
    async with api.ctx.sessionmaker() as session:
        await notify(session, **kwargs)
        await session.commit()


async def _scene(api: Api) -> Scene:
    _, dispatcher = await api.staff_headers(Role.dispatcher)
    inspector_staff, inspector = await api.staff_headers(Role.inspector)
    _, window = await api.staff_headers(Role.window)
    case_id = await _open_case(api)
    applicant = await _applicant_headers(api, case_id, dispatcher)
    number = {"case_number": "YTK0101"}
    await _notify(
        api,
        template="case_assigned",
        params=number,
        event=f"assigned:{case_id}",
        case_id=case_id,
        applicant=True,
        channels={Channel.sms},
    )
    await _notify(
        api,
        template="inspector_assigned",
        params=number | {"position_zh": "主踏勘人", "position_en": "lead", "address": "东街88号"},
        event=f"inspector_assigned:{case_id}",
        case_id=case_id,
        staff_ids=[inspector_staff.id],
        channels=(),
    )
    await _notify(
        api,
        template="opinion_issued_window",
        params=number
        | {"applicant_name": "张三", "conclusion_zh": "通过", "conclusion_en": "passed"},
        event=f"opinion_issued:{case_id}",
        case_id=case_id,
        roles=[Role.window],
        channels=(),
    )
    return Scene(case_id, applicant, dispatcher, inspector, window)


async def _feed(api: Api, headers: dict[str, str], **params: str) -> list[dict[str, Any]]:
    response = await api.client.get("/api/v1/feed", headers=headers, params=params)
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()
    return items


async def test_each_caller_sees_only_their_own_messages(api: Api) -> None:
    scene = await _scene(api)
    [applicant] = await _feed(api, scene.applicant)
    assert applicant["template"] == "case_assigned"
    assert applicant["case_id"] == scene.case_id
    assert applicant["text_zh"].startswith("【云踏勘】")
    assert "YTK0101" in applicant["text_en"]
    assert [m["template"] for m in await _feed(api, scene.inspector)] == ["inspector_assigned"]
    assert [m["template"] for m in await _feed(api, scene.window)] == ["opinion_issued_window"]
    assert await _feed(api, scene.dispatcher) == []


async def test_since_returns_only_newer_messages(api: Api) -> None:
    scene = await _scene(api)
    later = (utcnow() + timedelta(seconds=1)).isoformat()
    assert await _feed(api, scene.applicant, since=later) == []
    earlier = (utcnow() - timedelta(hours=1)).isoformat()
    assert len(await _feed(api, scene.applicant, since=earlier)) == 1


async def test_feed_needs_a_login(api: Api) -> None:
    response = await api.client.get("/api/v1/feed")
    assert response.status_code == 401


async def test_dispatcher_sees_the_delivery_record_of_a_case(api: Api) -> None:
    scene = await _scene(api)
    url = f"/api/v1/cases/{scene.case_id}/notifications"
    response = await api.client.get(url, headers=scene.dispatcher)
    assert response.status_code == 200, response.text
    record = {(r["template"], r["channel"]): r for r in response.json()}
    assert len(record) == 4
    sms = record[("case_assigned", "sms")]
    assert (sms["status"], sms["attempts"], sms["last_error"]) == ("pending", 0, "")
    assert sms["recipient"] == "13800138000"
    feed = record[("opinion_issued_window", "feed")]
    # nothing was sent for a feed row: it is in-app only, never "delivered"
    assert (feed["status"], feed["state"], feed["delivered_at"]) == ("in_app", "in_app", None)
    assert (feed["state_zh"], feed["state_en"]) == ("仅站内", "in-app only")
    assert (sms["state"], sms["state_zh"], sms["channel_zh"]) == ("queued", "已排队", "短信")


async def test_delivery_record_is_for_operators_only(api: Api) -> None:
    scene = await _scene(api)
    url = f"/api/v1/cases/{scene.case_id}/notifications"
    applicant = await api.client.get(url, headers=scene.applicant)
    assert applicant.status_code == 403, applicant.text
    # An inspector not on the case, and window staff before an opinion is issued, do not see
    # the case at all: it answers 404 as if it did not exist.
    for headers in (scene.inspector, scene.window):
        assert (await api.client.get(url, headers=headers)).status_code == 404
