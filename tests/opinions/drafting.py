"""Steps of drafting, co-signing and reviewing an opinion, for tests that need one."""

from __future__ import annotations

from typing import Any

import httpx

from tests.flows import SIGNED, Headers, conclude
from tests.inspection.team import (
    Team,
    checklist,
    mark_both,
    started_case,
)


async def drafted_case(team: Team) -> str:
    case_id = await started_case(team, ["CB"])
    listing = await checklist(team.client, case_id, team.headers["lead"])
    for entry in listing["items"]:
        await mark_both(team, case_id, entry["id"], "pass")
    await conclude(team.api, case_id, team.headers["lead"])
    return case_id


SIGNING_STEPS = ("cosign", "approve")


async def post(team: Team, case_id: str, step: str, who: Headers, **body: Any) -> httpx.Response:
    """One workflow step; a signing step sends the test password unless ``password`` is given."""
    if step in SIGNING_STEPS:
        body = {**SIGNED, **body}
    url = f"/api/v1/cases/{case_id}/opinion/{step}"
    return await team.client.post(url, json=body or None, headers=who)


def ok(response: httpx.Response, status: int = 200) -> Any:
    assert response.status_code == status, response.text
    return response.json()


async def to_review(team: Team, case_id: str) -> None:
    lead, second = team.headers["lead"], team.headers["second"]
    ok(await post(team, case_id, "draft", lead))
    ok(await post(team, case_id, "submit", lead))
    ok(await post(team, case_id, "cosign", second))


async def case_state(team: Team, case_id: str) -> str:
    response = await team.client.get(f"/api/v1/cases/{case_id}", headers=team.headers["dispatcher"])
    return str(ok(response)["state"])
