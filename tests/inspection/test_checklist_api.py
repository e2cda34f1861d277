"""The inspection checklist over HTTP: freezing, verdicts, rulings, open items, redaction."""

from __future__ import annotations

from pathlib import Path

from server.audit.models import AuditRecord
from server.config import Settings
from server.inspection.models import CaseChecklist, ResolutionRow, VerdictRow
from tests.fixtures.app import Api
from tests.flows import issue, rebook
from tests.inspection.team import (
    app_with_catalogue,
    applicant_headers,
    case_photo,
    checklist,
    count,
    edited_catalogue,
    item,
    make_team,
    mark,
    mark_both,
    scheduled_case,
    start,
    started_case,
)

# --- starting and freezing --------------------------------------------------------------------


async def test_start_freezes_the_catalogue_the_case_is_held_to(
    api: Api, settings: Settings, tmp_path: Path
) -> None:
    team = await make_team(api)
    case_id = await started_case(team, ["CY"])
    waiting = await scheduled_case(team, ["CY"], number="SQ-2")
    lead = team.headers["lead"]

    async with app_with_catalogue(settings, edited_catalogue(tmp_path)) as client:
        frozen = await checklist(client, case_id, lead)
        live = await checklist(client, waiting, lead)
        # Interrupted and rebooked, then restarted on the edited catalogue: same snapshot.
        applicant = await applicant_headers(team, case_id)
        await rebook(api, case_id, team.headers["dispatcher"], lead, applicant)
        restarted = await start(client, case_id, lead)

    assert (frozen["frozen"], frozen["catalogue_version"]) == (True, "2026.11-1")
    assert item(frozen, "CY-07")["title"] == "餐用具洗消保洁"
    assert (live["frozen"], live["catalogue_version"]) == (False, "2027.01-1")
    assert item(live, "CY-07")["title"] == "餐具消毒"
    assert restarted.status_code == 200, restarted.text
    assert restarted.json()["newly_frozen"] is False
    assert restarted.json()["catalogue_version"] == "2026.11-1"
    assert await count(api, CaseChecklist) == 1
    assert await count(api, AuditRecord, AuditRecord.action == "inspection.checklist_frozen") == 1


async def test_start_needs_a_scheduled_case_and_one_of_its_inspectors(api: Api) -> None:
    team = await make_team(api)
    case_id = await scheduled_case(team, ["FS"])
    assert (await start(api.client, case_id, team.headers["dispatcher"])).status_code == 403
    assert (await start(api.client, case_id, await team.outsider())).status_code == 404
    assert (await start(api.client, case_id, team.headers["second"])).status_code == 200
    again = await start(api.client, case_id, team.headers["lead"])
    assert again.status_code == 409
    assert again.json()["current"] == "in_progress"


async def test_joint_case_lists_shared_items_once_for_every_matter(api: Api) -> None:
    team = await make_team(api)
    case_id = await started_case(team, ["FS", "CY"])
    listing = await checklist(api.client, case_id, team.headers["lead"])
    ids = [i["id"] for i in listing["items"]]
    assert len(ids) == len(set(ids))
    assert {"CY-07", "FS-05"} <= set(ids)
    assert item(listing, "SH-01")["matters"] == ["CY", "FS"]
    assert [m["code"] for m in listing["matters"]] == ["CY", "FS"]


async def test_pesticide_and_food_at_one_site_is_a_blocking_finding(api: Api) -> None:
    team = await make_team(api)
    case_id = await scheduled_case(team, ["NY", "FS"])
    response = await start(api.client, case_id, team.headers["lead"])
    assert response.status_code == 200, response.text
    started = response.json()
    assert started["blocking"] is True
    finding = started["blocking_findings"][0]
    assert finding["rule_id"] == "pesticide-food-same-site"
    assert "农药" in finding["message_zh"]
    listing = await checklist(api.client, case_id, team.headers["lead"])
    assert listing["conclusion"]["value"] == "fail"


# --- verdicts ----------------------------------------------------------------------------------


async def test_only_the_case_inspectors_may_record_verdicts(api: Api) -> None:
    team = await make_team(api)
    case_id = await started_case(team, ["CB"])
    applicant = await applicant_headers(team, case_id)
    url = f"/api/v1/cases/{case_id}/checklist/items/SH-01/verdict"
    body = {"value": "pass", "evidence_refs": await case_photo(team, case_id)}
    refused = {
        "other": await api.client.put(url, json=body, headers=await team.outsider()),
        "dispatcher": await api.client.put(url, json=body, headers=team.headers["dispatcher"]),
        "applicant": await api.client.put(url, json=body, headers=applicant),
    }
    assert {k: r.status_code for k, r in refused.items()} == {
        "other": 404,
        "dispatcher": 403,
        "applicant": 403,
    }
    assert await count(api, VerdictRow) == 0


async def test_verdict_before_the_start_is_refused_naming_the_state(api: Api) -> None:
    team = await make_team(api)
    case_id = await scheduled_case(team, ["CB"])
    response = await mark(team, case_id, "SH-01", "lead", "pass")
    assert response.status_code == 409
    problem = response.json()
    assert problem["current"] == "scheduled"
    assert "已预约" in problem["detail"]
    assert await count(api, VerdictRow) == 0


async def test_bad_verdicts_are_refused_and_change_nothing(api: Api) -> None:
    team = await make_team(api)
    case_id = await started_case(team, ["CB"])
    url = f"/api/v1/cases/{case_id}/checklist/items/{{}}/verdict"
    lead = team.headers["lead"]
    bad_value = await api.client.put(url.format("SH-01"), json={"value": "ok"}, headers=lead)
    bad_ref = await api.client.put(
        url.format("SH-01"), json={"value": "pass", "evidence_refs": ["../x"]}, headers=lead
    )
    not_on_case = await api.client.put(url.format("CY-07"), json={"value": "pass"}, headers=lead)
    assert (bad_value.status_code, bad_ref.status_code, not_on_case.status_code) == (422, 422, 404)
    assert "CY-07" in not_on_case.json()["detail"]
    assert await count(api, VerdictRow) == 0
    assert await count(api, AuditRecord, AuditRecord.action == "inspection.verdict") == 0


async def test_a_new_verdict_replaces_the_last_and_the_history_stays(api: Api) -> None:
    team = await make_team(api)
    case_id = await started_case(team, ["CB"])
    await mark(team, case_id, "CB-04", "lead", "pass")
    response = await mark(team, case_id, "CB-04", "lead", "fail", note="货架不足")
    assert response.status_code == 200, response.text
    verdicts = response.json()["item"]["verdicts"]
    assert [(v["position"], v["value"], v["note"]) for v in verdicts] == [
        ("lead", "fail", "货架不足")
    ]
    assert await count(api, VerdictRow, VerdictRow.item_id == "CB-04") == 2
    assert await count(api, AuditRecord, AuditRecord.action == "inspection.verdict") == 2


# --- disagreement and the lead's ruling ---------------------------------------------------------


async def test_disagreement_is_resolved_by_the_lead_with_a_reason(api: Api) -> None:
    team = await make_team(api)
    case_id = await started_case(team, ["CB"])
    url = f"/api/v1/cases/{case_id}/checklist/items/CB-04/resolution"
    ruling = {"value": "fail", "reason": "分拣台缺失，画面清楚"}
    await mark(team, case_id, "CB-04", "lead", "pass")
    await mark(team, case_id, "CB-04", "second", "fail")

    by_second = await api.client.post(url, json=ruling, headers=team.headers["second"])
    no_reason = await api.client.post(
        url, json={"value": "fail", "reason": "  "}, headers=team.headers["lead"]
    )
    missing = await api.client.post(url, json={"value": "fail"}, headers=team.headers["lead"])
    assert (by_second.status_code, no_reason.status_code, missing.status_code) == (403, 422, 422)
    assert await count(api, ResolutionRow) == 0

    accepted = await api.client.post(url, json=ruling, headers=team.headers["lead"])
    assert accepted.status_code == 200, accepted.text
    settled = accepted.json()["item"]
    assert (settled["disagreement"], settled["settled"]) == (True, "fail")
    assert settled["resolution"]["reason"] == "分拣台缺失，画面清楚"
    assert await count(api, AuditRecord, AuditRecord.action == "inspection.resolution") == 1


async def test_no_ruling_without_a_disagreement(api: Api) -> None:
    team = await make_team(api)
    case_id = await started_case(team, ["CB"])
    await mark_both(team, case_id, "CB-04", "pass")
    response = await api.client.post(
        f"/api/v1/cases/{case_id}/checklist/items/CB-04/resolution",
        json={"value": "fail", "reason": "理由充分"},
        headers=team.headers["lead"],
    )
    assert response.status_code == 409
    assert await count(api, ResolutionRow) == 0


async def test_a_verdict_after_the_ruling_reopens_the_item(api: Api) -> None:
    team = await make_team(api)
    case_id = await started_case(team, ["CB"])
    await mark(team, case_id, "CB-04", "lead", "pass")
    await mark(team, case_id, "CB-04", "second", "fail")
    await api.client.post(
        f"/api/v1/cases/{case_id}/checklist/items/CB-04/resolution",
        json={"value": "pass", "reason": "复看录像后确认合格"},
        headers=team.headers["lead"],
    )
    reopened = await mark(team, case_id, "CB-04", "second", "unclear")
    state = reopened.json()["item"]
    assert (state["disagreement"], state["settled"], state["resolution"]) == (True, None, None)


# --- open items and the conclusion -------------------------------------------------------------


async def test_open_items_shrink_and_the_conclusion_follows(api: Api) -> None:
    team = await make_team(api)
    case_id = await started_case(team, ["CB"])
    open_url = f"/api/v1/cases/{case_id}/checklist/open"
    before = (await api.client.get(open_url, headers=team.headers["lead"])).json()
    ids = [i["id"] for i in before]
    assert "SH-09" not in ids  # record-only
    assert (await checklist(api.client, case_id, team.headers["lead"]))["conclusion"][
        "value"
    ] == "incomplete"

    await mark_both(team, case_id, ids[0], "pass")
    after_one = (await api.client.get(open_url, headers=team.headers["second"])).json()
    assert [i["id"] for i in after_one] == ids[1:]

    for item_id in ids[1:]:
        await mark_both(team, case_id, item_id, "pass")
    done = await checklist(api.client, case_id, team.headers["lead"])
    assert (await api.client.get(open_url, headers=team.headers["lead"])).json() == []
    assert done["conclusion"]["value"] == "pass"
    assert done["counts"] == {"total": len(ids), "settled": len(ids), "open": 0}

    await mark_both(team, case_id, "CB-04", "fail")
    rectify = (await checklist(api.client, case_id, team.headers["lead"]))["conclusion"]
    assert (rectify["value"], rectify["rectification_items"]) == (
        "pass_after_rectification",
        ["CB-04"],
    )


async def test_open_items_are_not_for_the_applicant(api: Api) -> None:
    team = await make_team(api)
    case_id = await started_case(team, ["CB"])
    applicant = await applicant_headers(team, case_id)
    response = await api.client.get(f"/api/v1/cases/{case_id}/checklist/open", headers=applicant)
    assert response.status_code == 403


# --- the current item ---------------------------------------------------------------------------


async def test_an_inspector_sets_the_item_being_inspected(api: Api) -> None:
    team = await make_team(api)
    case_id = await started_case(team, ["CB"])
    url = f"/api/v1/cases/{case_id}/checklist/current"
    response = await api.client.put(url, json={"item_id": "CB-03"}, headers=team.headers["second"])
    assert response.status_code == 200, response.text
    assert response.json()["current_item"] == "CB-03"
    unknown = await api.client.put(url, json={"item_id": "CY-07"}, headers=team.headers["lead"])
    by_dispatcher = await api.client.put(
        url, json={"item_id": "CB-04"}, headers=team.headers["dispatcher"]
    )
    assert (unknown.status_code, by_dispatcher.status_code) == (404, 403)
    applicant = await applicant_headers(team, case_id)
    assert (await checklist(api.client, case_id, applicant))["current_item"] == "CB-03"
    assert await count(api, AuditRecord, AuditRecord.action == "inspection.current_item") == 1


# --- the applicant's view -----------------------------------------------------------------------

SECRET_NOTE = "内部备注：货架明显不足"


async def test_applicant_sees_the_items_but_not_the_inspectors_marks(api: Api) -> None:
    team = await make_team(api)
    case_id = await started_case(team, ["CB"])
    applicant = await applicant_headers(team, case_id)
    await mark(team, case_id, "CB-04", "lead", "fail", note=SECRET_NOTE)
    await mark(team, case_id, "CB-04", "second", "pass")

    response = await api.client.get(f"/api/v1/cases/{case_id}/checklist", headers=applicant)
    assert response.status_code == 200, response.text
    assert SECRET_NOTE not in response.text
    view = response.json()
    assert view["redacted"] is True
    cb04 = item(view, "CB-04")
    assert (cb04["title"], cb04["guidance"]) != ("", "")
    assert (cb04["verdicts"], cb04["disagreement"], cb04["settled"]) == ([], None, None)
    assert (view["conclusion"], view["counts"], view["frozen_by"]) == (None, None, None)


async def test_applicant_sees_settled_results_once_the_opinion_is_issued(api: Api) -> None:
    team = await make_team(api)
    case_id = await started_case(team, ["CB"])
    applicant = await applicant_headers(team, case_id)
    ids = [i["id"] for i in (await checklist(api.client, case_id, team.headers["lead"]))["items"]]
    for item_id in ids:
        await mark(team, case_id, item_id, "lead", "pass", note=SECRET_NOTE)
        await mark(team, case_id, item_id, "second", "pass")
    await issue(api, case_id, team.headers["lead"], team.headers["second"])
    response = await api.client.get(f"/api/v1/cases/{case_id}/checklist", headers=applicant)
    view = response.json()
    assert SECRET_NOTE not in response.text
    assert item(view, "CB-04")["settled"] == "pass"
    assert item(view, "CB-04")["verdicts"] == []
    assert view["conclusion"]["value"] == "pass"
