"""Complaints (投诉): the applicant files one at any stage, it opens a follow-up, and the
applicant sees what the bureau did once it is answered."""

from __future__ import annotations

from server.auth.models import Role
from server.supervision.feedback import MAX_COMPLAINTS_PER_CASE
from server.supervision.models import Complaint, FollowUp
from tests.fixtures.app import Api
from tests.flows import open_case as open_journey_case
from tests.flows import start_journey
from tests.supervision import FOLLOW_UPS, audit_count, open_case
from tests.supervision.feedback import ANSWER, complaints_url, count, progress_url


async def test_a_complaint_opens_a_follow_up_and_the_answer_reaches_the_applicant(
    api: Api,
) -> None:
    journey = await start_journey(api)
    await open_journey_case(journey, "CP-1")  # before closure: complaints are taken any time
    url, applicant = complaints_url(journey.case_id), journey.applicant
    text = "约好的时间没人联系我，白等了一上午。"
    filed = await api.client.post(url, json={"text": f"  {text} "}, headers=applicant)
    assert filed.status_code == 201, filed.text
    complaint = filed.json()
    assert (complaint["text"], complaint["handled"]) == (text, False)
    assert complaint["created_at_local"].endswith("+08:00")
    assert await audit_count(api, "case.complained") == 1

    listed = await api.client.get(FOLLOW_UPS, params={"status": "open"}, headers=journey.dispatcher)
    (follow_up,) = listed.json()
    assert follow_up["id"] == complaint["follow_up_id"]
    assert (follow_up["source"], follow_up["source_zh"]) == ("complaint", "投诉")
    assert (follow_up["comment"], follow_up["score"], follow_up["answered"]) == (text, None, False)

    answered = await api.client.post(
        f"{FOLLOW_UPS}/{follow_up['id']}/answer", json=ANSWER, headers=journey.dispatcher
    )
    assert answered.status_code == 200, answered.text
    view = (await api.client.get(progress_url(journey.case_id), headers=applicant)).json()
    (seen,) = view["complaints"]
    assert (seen["handled"], seen["answer"]) == (True, ANSWER["answer"])


async def test_bad_complaints_are_refused_and_change_nothing(api: Api) -> None:
    journey = await start_journey(api)
    await open_journey_case(journey, "CP-BAD")
    url = complaints_url(journey.case_id)
    for body in ({}, {"text": "   "}, {"text": "不好"}, {"text": "长" * 1001}, {"words": "x"}):
        response = await api.client.post(url, json=body, headers=journey.applicant)
        assert response.status_code == 422, body
        assert response.json()["code"] == "bad_input"
    _, other = await open_case(api, journey.dispatcher, "CP-OTHER")
    body = {"text": "工作人员态度很差"}
    assert (await api.client.post(url, json=body, headers=other)).status_code == 404
    assert (await api.client.post(url, json=body, headers=journey.dispatcher)).status_code == 403
    _, window = await api.staff_headers(Role.window)
    assert (await api.client.post(url, json=body, headers=window)).status_code in (403, 404)
    assert (await api.client.post(url, json=body)).status_code == 401
    assert (await count(api, Complaint), await count(api, FollowUp)) == (0, 0)


async def test_a_case_takes_a_bounded_number_of_complaints(api: Api) -> None:
    journey = await start_journey(api)
    await open_journey_case(journey, "CP-MANY")
    url = complaints_url(journey.case_id)
    for n in range(MAX_COMPLAINTS_PER_CASE):
        body = {"text": f"第 {n + 1} 条投诉：预约一直没有回音"}
        response = await api.client.post(url, json=body, headers=journey.applicant)
        assert response.status_code == 201, response.text
    more = await api.client.post(url, json={"text": "再投诉一次看看"}, headers=journey.applicant)
    assert (more.status_code, more.json()["reason"]) == (409, "too_many_complaints")
    assert "投诉电话" in more.json()["detail"]
    assert await count(api, Complaint) == MAX_COMPLAINTS_PER_CASE
