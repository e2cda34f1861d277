"""What the applicant sees (办件进度): progress in words, the inspectors with their badge
numbers, whom to call, and after closure the result and the opinion to download."""

from __future__ import annotations

from server.auth.models import Role
from tests.fixtures.app import Api
from tests.flows import assign, request_rectification, start_inspection, start_journey
from tests.flows import open_case as open_journey_case
from tests.supervision import open_case
from tests.supervision.feedback import closed_journey, progress_url, set_badge


async def test_the_applicant_sees_progress_inspectors_and_the_bureau_numbers(api: Api) -> None:
    journey = await start_journey(api)
    await open_journey_case(journey, "PV-1")
    received = await api.client.get(progress_url(journey.case_id), headers=journey.applicant)
    assert received.status_code == 200, received.text
    view = received.json()
    assert view["progress_zh"] == "已收到您的申请，正在安排踏勘人员"
    assert view["inspectors"] == []
    assert view["bureau"]["consult_phone"] == view["bureau"]["complaint_phone"] == "12345"
    assert view["contact_phone"] == "12345"  # no inspector yet: the bureau's number
    assert (view["result"], view["opinion_pdf_url"], view["can_rate"]) == (None, None, False)

    await assign(journey)
    lead, second = journey.case["inspector_ids"]
    await set_badge(api, lead, "闽A-350100123", "0591-87654321")
    await set_badge(api, second, "35010045678", "")
    view = (await api.client.get(progress_url(journey.case_id), headers=journey.applicant)).json()
    assert view["progress_zh"] == "踏勘人员已确定，请选择视频踏勘时间"
    assert [(i["position"], i["badge_number"], i["phone"]) for i in view["inspectors"]] == [
        ("lead", "闽A-350100123", "0591-87654321"),
        ("second", "35010045678", ""),
    ]
    assert all(i["name"] for i in view["inspectors"])
    assert view["contact_phone"] == "0591-87654321"


async def test_rectification_rounds_show_in_the_progress(api: Api) -> None:
    journey = await start_journey(api)
    await open_journey_case(journey, "PV-RECT")
    await start_inspection(journey)
    await request_rectification(journey)
    view = (await api.client.get(progress_url(journey.case_id), headers=journey.applicant)).json()
    assert view["state"] == "rectification_requested"
    assert view["rectification_rounds"] == 1
    assert view["progress_zh"].startswith("需要整改：请按要求拍照上传（第 1 次，请在 ")
    assert view["rectification_deadline_local"].endswith("+08:00")
    assert "round 1" in view["progress_en"]


async def test_after_closure_the_applicant_sees_the_result_and_downloads_the_opinion(
    api: Api,
) -> None:
    journey = await closed_journey(api, "PV-CLOSED")
    view = (await api.client.get(progress_url(journey.case_id), headers=journey.applicant)).json()
    assert view["progress_zh"] == "已办结：准予许可"
    assert view["result"]["outcome_zh"] == "准予许可"
    assert view["result"]["decision_no"] == "闽审批许字〔2026〕第0001号"
    assert (view["can_rate"], view["rated"]) == (True, False)
    pdf = await api.client.get(view["opinion_pdf_url"], headers=journey.applicant)
    assert pdf.status_code == 200
    assert pdf.content.startswith(b"%PDF")


async def test_another_applicant_cannot_see_the_case(api: Api) -> None:
    journey = await start_journey(api)
    await open_journey_case(journey, "PV-MINE")
    _, other = await open_case(api, journey.dispatcher, "PV-THEIRS")
    assert (await api.client.get(progress_url(journey.case_id), headers=other)).status_code == 404
    assert (await api.client.get(progress_url(journey.case_id))).status_code == 401


async def test_badge_numbers_are_set_when_staff_are_created_and_checked(api: Api) -> None:
    _, admin = await api.staff_headers(Role.admin)
    body = {
        "username": "zhang.san",
        "display_name": "张三",
        "role": "inspector",
        "phone": "0591-1234567",
        "badge_number": " 35010000001 ",
        "password": "a-long-password-1",
    }
    made = await api.client.post("/api/v1/staff", json=body, headers=admin)
    assert made.status_code == 201, made.text
    assert (made.json()["badge_number"], made.json()["phone"]) == ("35010000001", "0591-1234567")
    bad = await api.client.patch(
        f"/api/v1/staff/{made.json()['id']}", json={"badge_number": "<b>1</b>"}, headers=admin
    )
    assert bad.status_code == 422
    listed = await api.client.get("/api/v1/staff", headers=admin)
    (stored,) = [s for s in listed.json() if s["id"] == made.json()["id"]]
    assert stored["badge_number"] == "35010000001"
