"""Ending the video inspection: to drafting, to an on-site visit, or refused with the reason."""

from __future__ import annotations

from typing import Any

from tests.fixtures.app import Api
from tests.inspection.team import (
    Team,
    checklist,
    make_team,
    mark_both,
    started_case,
)

MATTER = "CB"  # publication wholesale: a short checklist


async def conclude(team: Team, case_id: str, who: str = "lead") -> Any:
    return await team.client.post(
        f"/api/v1/cases/{case_id}/inspection/conclude", headers=team.headers[who]
    )


async def mark_all(team: Team, case_id: str, value: str = "pass", **special: str) -> None:
    listing = await checklist(team.client, case_id, team.headers["lead"])
    for entry in listing["items"]:
        if entry.get("record_only"):
            continue
        await mark_both(team, case_id, entry["id"], special.get(entry["id"], value))


async def clock_class(team: Team, case_id: str) -> str:
    clock = await team.client.get(
        f"/api/v1/cases/{case_id}/clock", headers=team.headers["dispatcher"]
    )
    return str(clock.json()["sla_class"])


async def test_all_passed_goes_to_drafting(api: Api) -> None:
    team = await make_team(api)
    case_id = await started_case(team, [MATTER])
    await mark_all(team, case_id)
    assert (await conclude(team, case_id, "second")).status_code == 403  # the lead ends it
    done = await conclude(team, case_id)
    assert done.status_code == 200, done.text
    assert (done.json()["state"], done.json()["conclusion"]) == ("drafted", "pass")
    again = await conclude(team, case_id)
    assert again.status_code == 409


async def test_unsettled_items_block_with_the_reason(api: Api) -> None:
    team = await make_team(api)
    case_id = await started_case(team, [MATTER])
    refused = await conclude(team, case_id)
    assert refused.status_code == 409
    assert "未定论" in refused.json()["detail"]
    listing = await checklist(team.client, case_id, team.headers["lead"])
    assert listing["conclusion"]["value"] == "incomplete"


async def test_rectifiable_failure_asks_for_a_rectification_first(api: Api) -> None:
    team = await make_team(api)
    case_id = await started_case(team, [MATTER])
    listing = await checklist(team.client, case_id, team.headers["lead"])
    fixable = next(i["id"] for i in listing["items"] if i["rectifiable"] and not i["record_only"])
    await mark_all(team, case_id, **{fixable: "fail"})
    refused = await conclude(team, case_id)
    assert refused.status_code == 409
    assert fixable in refused.json()["rectification_items"]
    assert "补齐补正" in refused.json()["detail"]


async def test_unclear_items_send_the_case_on_site_with_the_complex_clock(api: Api) -> None:
    team = await make_team(api)
    case_id = await started_case(team, [MATTER])
    listing = await checklist(team.client, case_id, team.headers["lead"])
    unseen = next(i["id"] for i in listing["items"] if not i["record_only"])
    await mark_all(team, case_id, **{unseen: "unclear"})
    done = await conclude(team, case_id)
    assert done.status_code == 200, done.text
    assert (done.json()["state"], done.json()["conclusion"]) == ("offline_pending", "needs_onsite")
    case = await team.client.get(f"/api/v1/cases/{case_id}", headers=team.headers["dispatcher"])
    assert case.json()["mode"] == "offline_onsite"
    assert await clock_class(team, case_id) == "complex"
