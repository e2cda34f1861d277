"""Case intake from the approval system: idempotent replay, conflicting replay, defaults."""

from __future__ import annotations

import copy
from typing import Any

from sqlalchemy import func, select

from server.audit.models import AuditRecord
from server.auth.models import Role
from server.cases.models import Case
from tests.fixtures.app import Api
from tests.flows import intake_body


async def _count(api: Api, model: Any, *where: Any) -> int:
    async with api.ctx.sessionmaker() as session:
        return int(await session.scalar(select(func.count()).select_from(model).where(*where)) or 0)


async def test_intake_opens_a_case_with_the_matter_defaults(api: Api) -> None:
    _, headers = await api.staff_headers(Role.dispatcher)
    matter = api.ctx.catalogue.matters[0]
    response = await api.client.post("/api/v1/cases", json=intake_body(api), headers=headers)
    assert response.status_code == 201, response.text
    case = response.json()
    assert case["state"] == "received"
    assert case["mode"] == matter.default_mode.value
    assert case["sla_class"] == matter.default_sla.value
    assert case["number"].startswith("YTK")
    assert await _count(api, AuditRecord, AuditRecord.action == "case.received") == 1


async def test_replaying_the_same_application_returns_the_same_case(api: Api) -> None:
    _, headers = await api.staff_headers(Role.dispatcher)
    first = await api.client.post("/api/v1/cases", json=intake_body(api), headers=headers)
    again = await api.client.post("/api/v1/cases", json=intake_body(api), headers=headers)
    assert (first.status_code, again.status_code) == (201, 200)
    assert first.json()["id"] == again.json()["id"]
    assert await _count(api, Case) == 1


async def test_same_number_with_a_different_body_is_409_and_changes_nothing(api: Api) -> None:
    _, headers = await api.staff_headers(Role.dispatcher)
    body = intake_body(api)
    await api.client.post("/api/v1/cases", json=body, headers=headers)
    changed = copy.deepcopy(body)
    changed["site"]["address"] = "福州市台江区另一个地址1号"
    response = await api.client.post("/api/v1/cases", json=changed, headers=headers)
    assert response.status_code == 409
    assert "已受理" in response.json()["detail"]
    async with api.ctx.sessionmaker() as session:
        stored = await session.scalar(select(Case))
    assert stored is not None
    assert stored.site_address == body["site"]["address"]


async def test_joint_inspection_is_promised_the_shortest_time_of_its_matters(api: Api) -> None:
    _, headers = await api.staff_headers(Role.dispatcher)
    by_code = {m.code: m for m in api.ctx.catalogue.matters}
    codes = ["CY", "XC"]  # catering (general: 1 working day) with small catering (simple: 1 h)
    assert (by_code["CY"].default_sla.value, by_code["XC"].default_sla.value) == (
        "general",
        "simple",
    )
    response = await api.client.post(
        "/api/v1/cases", json=intake_body(api, matters=codes), headers=headers
    )
    assert response.status_code == 201, response.text
    case = response.json()
    assert (case["matters"], case["sla_class"], case["mode"]) == (codes, "simple", "online_video")
    assert case["override_reason"] == ""


async def test_override_needs_a_reason(api: Api) -> None:
    _, headers = await api.staff_headers(Role.dispatcher)
    matter = api.ctx.catalogue.matters[0]
    other = "complex" if matter.default_sla.value != "complex" else "simple"
    refused = await api.client.post(
        "/api/v1/cases", json=intake_body(api, sla_class=other), headers=headers
    )
    assert refused.status_code == 422
    assert refused.json()["field"] == "override_reason"
    accepted = await api.client.post(
        "/api/v1/cases",
        json=intake_body(api, sla_class=other, override_reason="场所面积大，需要更长时间"),
        headers=headers,
    )
    assert accepted.status_code == 201
    assert accepted.json()["sla_class"] == other


async def test_unknown_matter_and_bad_fields_are_refused(api: Api) -> None:
    _, headers = await api.staff_headers(Role.dispatcher)
    unknown = await api.client.post(
        "/api/v1/cases", json=intake_body(api, matters=["flying_cars"]), headers=headers
    )
    assert unknown.status_code == 422
    assert "flying_cars" in unknown.json()["detail"]
    bad_phone = intake_body(api)
    bad_phone["applicant"]["phone"] = "call me"
    response = await api.client.post("/api/v1/cases", json=bad_phone, headers=headers)
    assert response.status_code == 422
    assert "applicant.phone" in response.json()["detail_en"]
    assert await _count(api, Case) == 0


async def test_the_matters_list_names_each_matter_with_its_defaults(api: Api) -> None:
    _, headers = await api.staff_headers(Role.dispatcher)
    response = await api.client.get("/api/v1/matters", headers=headers)
    assert response.status_code == 200
    by_code = {m["code"]: m for m in response.json()}
    assert set(by_code) == {m.code for m in api.ctx.catalogue.matters}
    assert by_code["NY"]["name"] == "农药经营许可"
    assert any(s["code"] == "restricted_pesticides" for s in by_code["NY"]["scenarios"])
