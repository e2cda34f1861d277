"""整改反馈: a follow-up records what was done and by whom before it can close."""

from __future__ import annotations

from server.auth.models import Role
from server.supervision.models import FollowUp
from tests.fixtures.app import Api
from tests.supervision import FOLLOW_UPS, audit_count
from tests.supervision.feedback import ANSWER, closed_journey, follow_up_of, rating_url


async def test_a_follow_up_closes_only_once_answered(api: Api) -> None:
    journey = await closed_journey(api, "FA-1")
    body = {"score": 2, "reasons": ["unclear"], "comment": "没说清楚要准备什么"}
    rated = await api.client.post(rating_url(journey.case_id), json=body, headers=journey.applicant)
    follow_up_id, dispatcher = rated.json()["follow_up_id"], journey.dispatcher
    base = f"{FOLLOW_UPS}/{follow_up_id}"

    early = await api.client.post(f"{base}/close", json={"note": "已回访"}, headers=dispatcher)
    assert (early.status_code, early.json()["reason"]) == (409, "not_answered")
    assert "请先记录整改反馈" in early.json()["detail"]
    for bad, field in (
        ({"answered_by": "李四"}, "answer"),
        ({"answer": "  ", "answered_by": "李四"}, "answer"),
        ({"answer": "已改进"}, "answered_by"),
    ):
        refused = await api.client.post(f"{base}/answer", json=bad, headers=dispatcher)
        assert (refused.status_code, refused.json()["field"]) == (422, field), bad
    _, reviewer = await api.staff_headers(Role.reviewer)
    forbidden = await api.client.post(f"{base}/answer", json=ANSWER, headers=reviewer)
    assert forbidden.status_code == 403
    stored = await follow_up_of(api, dispatcher, follow_up_id)
    assert (stored["status"], stored["answered"], stored["answer"]) == ("open", False, "")
    assert await audit_count(api, "follow_up.answered") == 0

    answered = await api.client.post(f"{base}/answer", json=ANSWER, headers=dispatcher)
    assert answered.status_code == 200, answered.text
    out = answered.json()
    assert (out["answer"], out["answered_by"], out["answered"]) == (
        ANSWER["answer"],
        ANSWER["answered_by"],
        True,
    )
    assert out["answered_at_local"].endswith("+08:00")
    assert [r["code"] for r in out["reasons"]] == ["unclear"]
    closed = await api.client.post(f"{base}/close", json={"note": "已回访"}, headers=dispatcher)
    assert closed.status_code == 200, closed.text
    assert (closed.json()["status"], closed.json()["answer"]) == ("closed", ANSWER["answer"])
    late = await api.client.post(f"{base}/answer", json=ANSWER, headers=dispatcher)
    assert (late.status_code, late.json()["reason"]) == (409, "already_closed")
    assert await audit_count(api, "follow_up.answered") == 1
    assert await audit_count(api, "follow_up.closed") == 1
    missing = await api.client.post(
        f"{FOLLOW_UPS}/{'0' * 32}/answer", json=ANSWER, headers=dispatcher
    )
    assert missing.status_code == 404
    async with api.ctx.sessionmaker() as session:
        row = await session.get(FollowUp, follow_up_id)
    assert row is not None
    assert row.answer_recorded_by != ""
