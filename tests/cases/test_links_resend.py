"""The applicant's link goes out when the draw assigns the case; dispatchers can resend it,
which stops every earlier link at once."""

from __future__ import annotations

from tests.cases.links import audited, sent_to_applicant, token_in
from tests.fixtures.app import Api
from tests.flows import assign, start_journey


async def test_the_draw_sends_the_applicant_a_working_link(api: Api) -> None:
    journey = await start_journey(api)
    await assign(journey)
    (message,) = await sent_to_applicant(
        api, journey.case_id, journey.dispatcher, "case_assigned_link"
    )
    assert journey.case["number"] in message["text_zh"]
    assert f"{api.ctx.settings.rating_window_days}天" in message["text_zh"]
    holder = token_in(message["text_zh"])
    seen = await api.client.get(f"/api/v1/cases/{journey.case_id}", headers=holder)
    assert seen.status_code == 200, seen.text
    assert await audited(api, journey.case_id, "case.link_created")


async def test_resending_stops_the_old_links_and_sends_a_fresh_one(api: Api) -> None:
    journey = await start_journey(api)
    await assign(journey)
    case = f"/api/v1/cases/{journey.case_id}"
    (drawn,) = await sent_to_applicant(
        api, journey.case_id, journey.dispatcher, "case_assigned_link"
    )
    resent = await api.client.post(f"{case}/links/resend", headers=journey.dispatcher)
    assert resent.status_code == 201, resent.text
    assert resent.json()["expires_at"] is None
    for old in (journey.applicant, token_in(drawn["text_zh"])):
        refused = await api.client.get(case, headers=old)
        assert refused.status_code == 401
        assert "已被撤销" in refused.json()["detail"]
    (message,) = await sent_to_applicant(api, journey.case_id, journey.dispatcher, "applicant_link")
    assert resent.json()["url"] in message["text_zh"]
    assert (await api.client.get(case, headers=token_in(message["text_zh"]))).status_code == 200
    (record,) = await audited(api, journey.case_id, "case.link_resent")
    assert record.detail["link"] == resent.json()["id"]
    assert len(record.detail["revoked"]) == 2


async def test_an_inspector_or_the_applicant_cannot_resend_and_nothing_changes(api: Api) -> None:
    journey = await start_journey(api)
    await assign(journey)
    case = f"/api/v1/cases/{journey.case_id}"
    for caller in (journey.inspector_headers(0), journey.inspector_headers(1), journey.applicant):
        refused = await api.client.post(f"{case}/links/resend", headers=caller)
        assert refused.status_code == 403, refused.text
        assert refused.json()["detail"]
    assert (await api.client.get(case, headers=journey.applicant)).status_code == 200
    assert await audited(api, journey.case_id, "case.link_resent") == []
    assert await sent_to_applicant(api, journey.case_id, journey.dispatcher, "applicant_link") == []
