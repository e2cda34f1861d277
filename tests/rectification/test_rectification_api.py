"""Rectification (补齐补正) over HTTP on both databases and a real SeaweedFS: the round trip."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from sqlalchemy import select

from server.db import utcnow
from server.rectification.jobs import expire_overdue
from server.rectification.models import RectificationRound
from tests.flows import Journey, refresh
from tests.rectification.steps import (
    FIXABLE,
    NOT_FIXABLE,
    PASSED,
    clock,
    path,
    photo,
    request,
    requested_and_submitted,
    review,
    rounds,
)


async def test_round_trip_pauses_the_clock_and_ends_drafted(journey: Journey) -> None:
    client = journey.api.client
    failure_photo = await photo(journey, journey.inspector_headers(1), FIXABLE)

    requested = await request(journey, FIXABLE)

    assert requested.status_code == 201, requested.text
    failure = requested.json()["items"][0]["failure_evidence_ids"]
    assert failure[0] == failure_photo  # tied to the item, then the one the verdicts cited
    assert len(failure) == 2
    assert (await refresh(journey))["state"] == "rectification_requested"
    assert (await clock(journey))["paused"] is True
    seen = await rounds(journey, journey.applicant)
    assert seen[0]["items"][0]["failure_photo_urls"][failure_photo].startswith("http")
    assert seen[0]["items"][0]["instruction"].startswith("请整改")

    await photo(journey, journey.applicant, FIXABLE)
    by_inspector = await client.post(path(journey, "/submit"), headers=journey.inspector_headers(0))
    assert by_inspector.status_code == 403
    submitted = await client.post(path(journey, "/submit"), headers=journey.applicant)

    assert submitted.status_code == 200, submitted.text
    assert submitted.json()["status"] == "submitted"
    assert len(submitted.json()["items"][0]["photo_evidence_ids"]) == 1
    running = await clock(journey)
    assert (running["phase"], running["paused"], running["active"]) == ("reinspection", False, True)

    by_applicant = await client.post(
        path(journey, f"/items/{FIXABLE}/review"),
        json={"accepted": True},
        headers=journey.applicant,
    )
    assert by_applicant.status_code == 403
    assert (await review(journey, 0, True)).status_code == 200
    assert (await refresh(journey))["state"] == "rectification_submitted"  # one of two
    assert (await review(journey, 1, True)).status_code == 200
    assert (await refresh(journey))["state"] == "drafted"
    drafting = await clock(journey)  # runs on until the opinion is issued
    assert (drafting["phase"], drafting["active"]) == ("reinspection", True)
    final = await rounds(journey, journey.dispatcher)
    assert [r["status"] for r in final] == ["verified"]
    assert all(r["accepted"] for r in final[0]["items"][0]["reviews"])


async def test_a_rejection_opens_round_two_and_keeps_round_one(journey: Journey) -> None:
    await requested_and_submitted(journey)
    assert (await review(journey, 1, False)).status_code == 422  # a rejection needs a reason

    assert (await review(journey, 0, True)).status_code == 200
    rejected = await review(journey, 1, False, "照片模糊，看不清防蝇帘")

    assert rejected.status_code == 200, rejected.text
    assert (await refresh(journey))["state"] == "rectification_requested"
    assert (await clock(journey))["paused"] is True
    first, second = await rounds(journey, journey.applicant)
    assert (first["status"], second["status"]) == ("rejected", "open")
    assert first["items"][0]["reviews"][0]["by"] is None  # reviewers hidden from the applicant
    assert "照片模糊" in second["items"][0]["instruction"]
    assert second["items"][0]["photo_evidence_ids"] == []
    old_span = datetime.fromisoformat(first["deadline"]) - datetime.fromisoformat(
        first["requested_at"]
    )
    new_deadline = datetime.fromisoformat(second["deadline"])
    assert new_deadline == datetime.fromisoformat(first["deadline"]) + old_span
    # Round one's photo does not count for round two.
    again = await journey.api.client.post(path(journey, "/submit"), headers=journey.applicant)
    assert again.status_code == 422
    assert again.json()["missing"] == [FIXABLE]


@pytest.mark.parametrize("item_id", [NOT_FIXABLE, PASSED, "NO-SUCH"])
async def test_only_failed_rectifiable_items_can_be_requested(
    journey: Journey, item_id: str
) -> None:
    response = await request(journey, FIXABLE, item_id)

    assert response.status_code == 422, response.text
    assert response.json()["item_id"] == item_id
    assert (await refresh(journey))["state"] == "in_progress"
    assert await rounds(journey, journey.dispatcher) == []


async def test_deadline_in_the_past_is_refused(journey: Journey) -> None:
    response = await request(journey, FIXABLE, deadline=utcnow() - timedelta(minutes=1))

    assert response.status_code == 422, response.text
    assert (await refresh(journey))["state"] == "in_progress"


async def test_submit_with_a_missing_item_changes_nothing(journey: Journey) -> None:
    assert (await request(journey, FIXABLE)).status_code == 201

    response = await journey.api.client.post(path(journey, "/submit"), headers=journey.applicant)

    assert response.status_code == 422, response.text
    assert response.json()["missing"] == [FIXABLE]
    assert (await refresh(journey))["state"] == "rectification_requested"
    assert [r["status"] for r in await rounds(journey, journey.dispatcher)] == ["open"]
    assert (await clock(journey))["paused"] is True


async def test_expired_round_concludes_the_case(journey: Journey) -> None:
    deadline = utcnow() + timedelta(hours=1)
    assert (await request(journey, FIXABLE, deadline=deadline)).status_code == 201
    sessionmaker = journey.api.ctx.sessionmaker

    assert await expire_overdue(sessionmaker, deadline - timedelta(seconds=1)) == 0
    assert await expire_overdue(sessionmaker, deadline + timedelta(seconds=1)) == 1
    assert await expire_overdue(sessionmaker, deadline + timedelta(seconds=2)) == 0

    assert (await refresh(journey))["state"] == "drafted"
    async with sessionmaker() as session:
        row = await session.scalar(
            select(RectificationRound).where(RectificationRound.case_id == journey.case_id)
        )
    assert row is not None
    assert row.status == "expired"


async def test_the_drafted_opinion_records_the_rectification_rounds(journey: Journey) -> None:
    await requested_and_submitted(journey)
    assert (await review(journey, 0, True)).status_code == 200
    assert (await review(journey, 1, True)).status_code == 200
    drafted = await journey.api.client.post(
        f"/api/v1/cases/{journey.case_id}/opinion/draft", headers=journey.inspector_headers(0)
    )
    assert drafted.status_code in (200, 201), drafted.text
    content = drafted.json()["content"]
    (history,) = content["rectifications"]
    assert (history["round"], history["item_ids"], history["outcome_zh"]) == (
        1,
        [FIXABLE],
        "核验通过",
    )
