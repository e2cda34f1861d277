"""Supervision orders (督办单): a red card raised by the SLA tick opens one per clock, addressed
to the department head; the lead inspector records the overdue reason, the head answers and
closes it, and an unanswered order escalates one level per period."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select

from server.audit.models import AuditRecord
from server.auth.models import Role
from server.db import utcnow
from tests.fixtures.app import Api
from tests.flows import Journey, escalate_orders, overdue, start_journey, tick_sla

ORDERS = "/api/v1/supervision-orders"


async def _audits(api: Api, action: str, case_id: str) -> int:
    async with api.ctx.sessionmaker() as session:
        query = select(func.count()).select_from(AuditRecord)
        query = query.where(AuditRecord.action == action, AuditRecord.case_id == case_id)
        return int(await session.scalar(query) or 0)


async def _feed(api: Api, headers: dict[str, str], template: str) -> list[dict[str, Any]]:
    response = await api.client.get("/api/v1/feed", headers=headers)
    assert response.status_code == 200, response.text
    return [m for m in response.json() if m["template"] == template]


async def _order(api: Api, headers: dict[str, str], order_id: str) -> dict[str, Any]:
    response = await api.client.get(f"{ORDERS}/{order_id}", headers=headers)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def _overdue_case(api: Api) -> tuple[Journey, dict[str, Any], dict[str, str]]:
    journey = await start_journey(api)
    order = await overdue(journey)
    _, head = await api.staff_headers(Role.head)
    return journey, order, head


def _when(moment: str) -> datetime:
    return datetime.fromisoformat(moment)


def _opened(order: dict[str, Any]) -> datetime:
    return _when(order["opened_at"])


async def test_a_red_card_opens_one_order_for_the_head_naming_the_lead(api: Api) -> None:
    journey, order, head = await _overdue_case(api)
    assert order["status"] == "open"
    assert order["status_zh"] == "待答复"
    assert order["responsible_id"] == journey.case["inspector_ids"][0]
    assert order["case_number"] == journey.case["number"]
    assert order["level"] == 0
    assert order["due_at"] is not None
    # The tick runs again, later: the clock is already red, no second order.
    await tick_sla(api, utcnow() + timedelta(days=40))
    listed = (await api.client.get(ORDERS, headers=head)).json()
    assert [o["id"] for o in listed if o["case_id"] == journey.case_id] == [order["id"]]
    assert await _audits(api, "supervision.order_opened", journey.case_id) == 1
    [notice] = await _feed(api, head, "supervision_order")
    assert journey.case["number"] in notice["text_zh"]
    for role in (Role.dispatcher, Role.admin):
        _, headers = await api.staff_headers(role)
        response = await api.client.get(ORDERS, params={"status": "open"}, headers=headers)
        assert [o["id"] for o in response.json()] == [order["id"]], role
    for role in (Role.reviewer, Role.window):
        _, headers = await api.staff_headers(role)
        assert (await api.client.get(ORDERS, headers=headers)).status_code == 403, role


async def test_the_lead_records_the_reason_and_the_head_answers_which_closes_it(
    api: Api,
) -> None:
    journey, order, head = await _overdue_case(api)
    lead = journey.inspector_headers(0)
    mine = (await api.client.get(ORDERS, headers=lead)).json()
    assert [o["id"] for o in mine] == [order["id"]]
    url = f"{ORDERS}/{order['id']}"
    reason = "申请人临时外出，现场无法按时踏勘"
    recorded = await api.client.post(f"{url}/reason", json={"reason": reason}, headers=lead)
    assert recorded.status_code == 200, recorded.text
    assert recorded.json()["overdue_reason"] == reason
    again = await api.client.post(f"{url}/reason", json={"reason": "改口"}, headers=lead)
    assert again.status_code == 409, again.text
    assert "已经填写" in again.json()["detail"]
    measures = "已约谈主办人员，调整排班，当日完成踏勘"
    answered = await api.client.post(f"{url}/answer", json={"measures": measures}, headers=head)
    assert answered.status_code == 200, answered.text
    body = answered.json()
    assert (body["status"], body["answer"], body["next_escalation_at"]) == (
        "closed",
        measures,
        None,
    )
    twice = await api.client.post(f"{url}/answer", json={"measures": "再答"}, headers=head)
    assert twice.status_code == 409, twice.text
    assert twice.json()["reason"] == "order_closed"
    assert (await _order(api, head, order["id"]))["answer"] == measures
    assert await _audits(api, "supervision.order_reason", journey.case_id) == 1
    assert await _audits(api, "supervision.order_answered", journey.case_id) == 1
    # An answered order does not escalate.
    await escalate_orders(api, _opened(order) + timedelta(days=30))
    assert (await _order(api, head, order["id"]))["level"] == 0


async def test_only_the_lead_records_the_reason(api: Api) -> None:
    journey, order, head = await _overdue_case(api)
    url = f"{ORDERS}/{order['id']}/reason"
    body = {"reason": "不是我负责的"}
    second = await api.client.post(url, json=body, headers=journey.inspector_headers(1))
    assert second.status_code == 403, second.text
    assert "主办踏勘人员" in second.json()["detail"]
    _, stranger = await api.staff_headers(Role.inspector)
    assert (await api.client.post(url, json=body, headers=stranger)).status_code == 403
    assert (await api.client.post(url, json=body, headers=journey.dispatcher)).status_code == 403
    empty = await api.client.post(url, json={"reason": "  "}, headers=journey.inspector_headers(0))
    assert empty.status_code == 422, empty.text
    assert (await _order(api, head, order["id"]))["overdue_reason"] == ""
    assert await _audits(api, "supervision.order_reason", journey.case_id) == 0
    # the second inspector does not see the order at all
    listed = await api.client.get(ORDERS, headers=journey.inspector_headers(1))
    assert listed.json() == []


async def test_answers_to_unknown_orders_or_by_others_than_the_head_are_refused(
    api: Api,
) -> None:
    journey, order, head = await _overdue_case(api)
    body = {"measures": "已处理"}
    unknown = await api.client.post(f"{ORDERS}/no-such-order/answer", json=body, headers=head)
    assert unknown.status_code == 404, unknown.text
    assert unknown.json()["detail"].startswith("找不到该督办单")
    url = f"{ORDERS}/{order['id']}/answer"
    for headers in (journey.dispatcher, journey.inspector_headers(0)):
        assert (await api.client.post(url, json=body, headers=headers)).status_code == 403
    empty = await api.client.post(url, json={"measures": ""}, headers=head)
    assert empty.status_code == 422, empty.text
    unchanged = await _order(api, head, order["id"])
    assert (unchanged["status"], unchanged["answer"]) == ("open", "")
    assert await _audits(api, "supervision.order_answered", journey.case_id) == 0


async def test_an_unanswered_order_escalates_once_per_period_and_the_next_level_hears(
    api: Api,
) -> None:
    journey, order, head = await _overdue_case(api)
    opened = _opened(order)
    await escalate_orders(api, opened + timedelta(hours=1))  # within the answer time
    assert (await _order(api, head, order["id"]))["level"] == 0
    assert _when(order["next_escalation_at"]) > opened + timedelta(days=1)  # 2 working days
    later = _when(order["next_escalation_at"]) + timedelta(minutes=1)
    await escalate_orders(api, later)
    await escalate_orders(api, later)  # run twice at once: one escalation
    escalated = await _order(api, head, order["id"])
    assert escalated["level"] == 1
    assert datetime.fromisoformat(escalated["next_escalation_at"]) > later
    assert await _audits(api, "supervision.order_escalated", journey.case_id) == 1
    [notice] = await _feed(api, journey.admin, "supervision_order_escalated")
    assert "第1级" in notice["text_zh"]
    await escalate_orders(api, _when(escalated["next_escalation_at"]) + timedelta(minutes=1))
    assert (await _order(api, head, order["id"]))["level"] == 2
    assert await _audits(api, "supervision.order_escalated", journey.case_id) == 2
