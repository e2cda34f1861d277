"""A send-back names the checklist items to redo: exactly those reopen for the lead, the
others stay frozen, and the reviewer keeps the case and gets it back when it is resubmitted."""

from __future__ import annotations

from typing import Any

from server.auth.models import Role
from tests.fixtures.app import Api
from tests.inspection.team import Team, checklist, make_team, mark
from tests.opinions.drafting import case_state, drafted_case, ok, post, to_review


async def under_review(api: Api) -> tuple[Team, str, dict[str, str]]:
    team = await make_team(api)
    _, reviewer = await api.staff_headers(Role.reviewer)
    case_id = await drafted_case(team)
    await to_review(team, case_id)
    return team, case_id, reviewer


async def item_ids(team: Team, case_id: str) -> list[str]:
    listing = await checklist(team.client, case_id, team.headers["lead"])
    return [str(entry["id"]) for entry in listing["items"]]


def foreign_item(api: Api, own: list[str]) -> str:
    """A real checklist item of another matter, not on this case's checklist."""
    catalogue = api.ctx.catalogue
    items = [i.id for m in catalogue.matters for i in m.items]
    return next(i for i in [*items, *(i.id for i in catalogue.shared_items)] if i not in own)


async def opinion(team: Team, case_id: str, who: dict[str, str]) -> Any:
    return ok(await team.client.get(f"/api/v1/cases/{case_id}/opinion", headers=who))


async def test_named_items_reopen_for_the_lead_and_the_reviewer_keeps_the_case(api: Api) -> None:
    team, case_id, reviewer = await under_review(api)
    _, other_reviewer = await api.staff_headers(Role.reviewer)
    ids = await item_ids(team, case_id)
    redo, frozen = ids[0], ids[1]

    back = ok(
        await post(team, case_id, "send-back", reviewer, comments="请复核该项", items=[redo, redo])
    )
    assert (back["status"], back["reopened_items"]) == ("draft", [redo])
    assert back["review_comments"][-1]["items"] == [redo]
    assert await case_state(team, case_id) == "drafted"

    # the reviewer who sent it back still sees the case and its content; other reviewers do not
    case_url = f"/api/v1/cases/{case_id}"
    assert (await team.client.get(case_url, headers=reviewer)).status_code == 200
    ok(await team.client.get(f"{case_url}/checklist", headers=reviewer))
    assert (await opinion(team, case_id, reviewer))["reopened_items"] == [redo]
    assert (await team.client.get(case_url, headers=other_reviewer)).status_code == 404

    # exactly the named item takes a new verdict, from the lead only
    changed = await mark(team, case_id, redo, "lead", "pass", note="复核：已确认")
    assert changed.status_code == 200, changed.text
    still = await mark(team, case_id, frozen, "lead", "pass", note="不在退回范围")
    assert still.status_code == 409, still.text
    by_second = await mark(team, case_id, redo, "second", "pass", note="协同人")
    assert by_second.status_code == 409, by_second.text

    # redrafted, resubmitted, co-signed: back to the reviewer; the item is frozen again
    redrafted = ok(await post(team, case_id, "draft", team.headers["lead"]))
    assert redrafted["reopened_items"] == [redo]
    ok(await post(team, case_id, "submit", team.headers["lead"]))
    again = await mark(team, case_id, redo, "lead", "pass", note="提交后")
    assert again.status_code == 409, again.text
    ok(await post(team, case_id, "cosign", team.headers["second"]))
    assert (await opinion(team, case_id, reviewer))["reopened_items"] == []
    assert (await team.client.get(case_url, headers=other_reviewer)).status_code == 200
    issued = ok(await post(team, case_id, "approve", reviewer))
    assert issued["status"] == "issued"


async def assert_unchanged(team: Team, case_id: str, reviewer: dict[str, str]) -> None:
    assert await case_state(team, case_id) == "under_review"
    current = await opinion(team, case_id, reviewer)
    assert (current["status"], current["review_comments"]) == ("under_review", [])


async def test_send_back_without_items_or_with_unknown_items_changes_nothing(api: Api) -> None:
    team, case_id, reviewer = await under_review(api)
    ids = await item_ids(team, case_id)
    foreign = foreign_item(api, ids)

    for body in ({"comments": "请修改"}, {"comments": "请修改", "items": []}):
        refused = await team.client.post(
            f"/api/v1/cases/{case_id}/opinion/send-back", json=body, headers=reviewer
        )
        assert refused.status_code == 422, refused.text
        assert "items" in refused.json()["detail_en"]
    no_reason = await post(team, case_id, "send-back", reviewer, comments="", items=[ids[0]])
    assert no_reason.status_code == 422, no_reason.text

    unknown = await post(
        team, case_id, "send-back", reviewer, comments="请修改", items=[ids[0], "ZZ-99", foreign]
    )
    assert unknown.status_code == 422, unknown.text
    problem = unknown.json()
    assert problem["unknown_items"] == ["ZZ-99", foreign]
    assert "ZZ-99" in problem["detail"]
    assert foreign in problem["detail_en"]
    await assert_unchanged(team, case_id, reviewer)

    by_lead = await post(team, case_id, "send-back", team.headers["lead"], comments="x", items=ids)
    assert by_lead.status_code == 403, by_lead.text
    await assert_unchanged(team, case_id, reviewer)
