"""Retried requests (reliability #14): the same request ×10 one after another and ×10 at once
has one effect, and every retry gets the first answer or a 409 naming why.

What the API offers today: intake is keyed by the application number and uploads by the
phone's idempotency key (replays answer 200 with the stored result); a verdict PUT identical
to the inspector's current mark is a replay; a state change (cancel, approve) already made is a
409 whose body names the current state, and nothing is done twice.
"""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
from sqlalchemy import func, select

from server.audit.models import AuditRecord
from server.auth.models import Role
from server.cases.models import Case
from server.evidence.models import Evidence
from server.inspection.models import VerdictRow
from server.opinions.models import Opinion
from server.uploads.models import Upload
from tests.fixtures.app import Api
from tests.flows import Journey, intake_body, open_case, start_journey
from tests.images import jpeg
from tests.inspection.team import make_team, mark, started_case
from tests.opinions.drafting import drafted_case, post, to_review
from tests.uploads.helpers import announce, body_for, finalize, inspecting, scheduled, send

__all__ = ["inspecting", "scheduled"]
TIMES = 10


async def count(api: Api, model: Any, *where: Any) -> int:
    async with api.ctx.sessionmaker() as session:
        return int(await session.scalar(select(func.count()).select_from(model).where(*where)) or 0)


async def ten_and_ten(call: Any) -> list[httpx.Response]:
    """The request ×10 one after another, then ×10 at once."""
    sequential = [await call() for _ in range(TIMES)]
    concurrent = await asyncio.gather(*(call() for _ in range(TIMES)))
    return sequential + list(concurrent)


def statuses(responses: list[httpx.Response]) -> list[int]:
    return [r.status_code for r in responses]


async def test_a_replayed_intake_opens_one_case_and_answers_with_it(api: Api) -> None:
    journey = await start_journey(api)
    body = intake_body(api, number="IDEM-1")

    async def call() -> httpx.Response:
        return await api.client.post("/api/v1/cases", json=body, headers=journey.dispatcher)

    responses = await ten_and_ten(call)

    assert responses[0].status_code == 201, responses[0].text
    assert set(statuses(responses[1:])) <= {200, 409}, [r.text for r in responses]
    assert {r.json()["id"] for r in responses if r.status_code in (200, 201)} == {
        responses[0].json()["id"]
    }
    assert await count(api, Case, Case.application_no == "IDEM-1") == 1
    changed = dict(body, site=dict(body["site"], address="另一个地址"))
    other = await api.client.post("/api/v1/cases", json=changed, headers=journey.dispatcher)
    assert other.status_code in (409, 422), other.text  # same number, other application


async def test_a_replayed_announce_and_finalize_make_one_upload_and_one_evidence(
    inspecting: Journey,
) -> None:
    journey, headers = inspecting, inspecting.inspector_headers(0)
    data = jpeg((320, 240))
    body = body_for(data)

    announced = await ten_and_ten(lambda: announce(journey, headers, body))
    assert set(statuses(announced)) <= {200, 201, 409}, [r.text for r in announced]
    assert announced[0].status_code == 201
    upload_id = announced[0].json()["id"]
    assert {r.json()["id"] for r in announced if r.status_code != 409} == {upload_id}
    assert (await send(announced[0].json()["form"], data, "image/jpeg")).status_code == 204
    finals = await ten_and_ten(lambda: finalize(journey, headers, upload_id))
    replays = await ten_and_ten(lambda: announce(journey, headers, body))
    reused = await announce(
        journey, headers, body_for(jpeg((321, 240)), **{"idempotency_key": body["idempotency_key"]})
    )

    answered = [r for r in finals + replays if r.status_code == 200]
    assert set(statuses(finals)) <= {200, 409}, [r.text for r in finals]
    assert set(statuses(replays)) == {200}, [r.text for r in replays]
    assert len({r.json()["evidence"]["id"] for r in answered}) == 1
    assert reused.status_code == 409
    assert reused.json()["reason"] == "key_reused"
    assert await count(api_of(journey), Upload, Upload.case_id == journey.case_id) == 1
    assert await count(api_of(journey), Evidence, Evidence.case_id == journey.case_id) == 1


def api_of(journey: Journey) -> Api:
    return journey.api


async def test_a_retried_cancel_cancels_once_and_retries_are_told_it_is_cancelled(
    api: Api,
) -> None:
    journey = await start_journey(api)
    await open_case(journey, number="IDEM-CANCEL")
    path = f"/api/v1/cases/{journey.case_id}/cancel"

    async def call() -> httpx.Response:
        return await api.client.post(
            path, json={"reason": "申请人撤回"}, headers=journey.dispatcher
        )

    responses = await ten_and_ten(call)

    assert responses[0].status_code == 200, responses[0].text
    assert set(statuses(responses[1:])) == {409}, [r.text for r in responses]
    assert all("cancelled" in r.text for r in responses[1:]), responses[1].text
    transitions = await count(
        api,
        AuditRecord,
        AuditRecord.action == "case.transition",
        AuditRecord.case_id == journey.case_id,
    )
    assert transitions == 1


async def test_a_retried_verdict_is_recorded_once_with_the_same_answer(api: Api) -> None:
    team = await make_team(api)
    case_id = await started_case(team, ["CB"])

    responses = await ten_and_ten(lambda: mark(team, case_id, "CB-04", "lead", "fail", "货架不足"))

    assert set(statuses(responses)) == {200}, [r.text for r in responses]
    assert len({r.text for r in responses}) == 1  # the same standing every time
    assert await count(api, VerdictRow, VerdictRow.case_id == case_id) == 1
    assert await count(api, AuditRecord, AuditRecord.action == "inspection.verdict") == 1
    changed = await mark(team, case_id, "CB-04", "lead", "pass")
    assert changed.status_code == 200, changed.text
    assert await count(api, VerdictRow, VerdictRow.case_id == case_id) == 2  # a new mark counts


async def test_a_retried_approval_issues_one_opinion(api: Api) -> None:
    team = await make_team(api)
    _, reviewer = await api.staff_headers(Role.reviewer)
    case_id = await drafted_case(team)
    await to_review(team, case_id)

    responses = await ten_and_ten(lambda: post(team, case_id, "approve", reviewer))

    assert responses[0].status_code == 200, responses[0].text
    assert set(statuses(responses[1:])) == {409}, [r.text for r in responses]
    issued = await count(
        api, AuditRecord, AuditRecord.action == "opinion.issued", AuditRecord.case_id == case_id
    )
    assert issued == 1
    assert await count(api, Opinion, Opinion.case_id == case_id, Opinion.status == "issued") == 1
