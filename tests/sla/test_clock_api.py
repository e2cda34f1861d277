"""The case's clock as the workflow moves it through the endpoints: it runs from intake and
stops when the opinion is issued (the pauses and the re-inspection clock are driven in
``tests/rectification/test_rectification_api.py``)."""

from __future__ import annotations

from typing import Any

from tests.fixtures.app import Api
from tests.flows import issue
from tests.inspection.team import checklist, make_team, mark_both, started_case


async def clock(api: Api, case_id: str, headers: dict[str, str]) -> Any:
    response = await api.client.get(f"/api/v1/cases/{case_id}/clock", headers=headers)
    assert response.status_code == 200, response.text
    return response.json()


async def test_issuing_the_opinion_stops_the_clock(api: Api) -> None:
    team = await make_team(api)
    case_id = await started_case(team, ["CB"])
    dispatcher = team.headers["dispatcher"]
    running = await clock(api, case_id, dispatcher)
    assert (running["phase"], running["active"], running["paused"]) == ("initial", True, False)
    for entry in (await checklist(api.client, case_id, team.headers["lead"]))["items"]:
        await mark_both(team, case_id, entry["id"], "pass")

    await issue(api, case_id, team.headers["lead"], team.headers["second"])

    stopped = await clock(api, case_id, dispatcher)
    assert (stopped["phase"], stopped["active"]) == ("initial", False), stopped
