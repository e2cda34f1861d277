"""Evidence is reachable only through its own case: a verdict may cite only its case's evidence,
and what the applicant is shown for a rectification round is that case's evidence only."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from server.db import utcnow
from tests.fixtures.app import Api
from tests.flows import Journey, assign, open_case, photo, start_inspection, start_journey

FIXABLE = "SH-02"  # fails, rectifiable by photos


@pytest.fixture
async def two_cases(api: Api) -> tuple[Journey, Journey]:
    """Two cases in progress; their pairs are drawn from inspectors of different matters, so
    no inspector is on both."""
    ours, theirs = await start_journey(api), await start_journey(api)
    await open_case(ours, "SQ-OURS")
    await start_inspection(ours)
    other_matter = api.ctx.catalogue.matters[1].code
    await open_case(theirs, "SQ-THEIRS", matters=[other_matter])
    await assign(theirs, matter=other_matter)
    await start_inspection(theirs)
    assert not set(ours.case["inspector_ids"]) & set(theirs.case["inspector_ids"])
    return ours, theirs


def verdict_url(journey: Journey, item_id: str = FIXABLE) -> str:
    return f"/api/v1/cases/{journey.case_id}/checklist/items/{item_id}/verdict"


async def my_verdicts(journey: Journey, item_id: str = FIXABLE) -> list[dict[str, Any]]:
    listing = await journey.api.client.get(
        f"/api/v1/cases/{journey.case_id}/checklist", headers=journey.inspector_headers(0)
    )
    assert listing.status_code == 200, listing.text
    item = next(i for i in listing.json()["items"] if i["id"] == item_id)
    return list(item["verdicts"])


@pytest.mark.parametrize("whose", ["foreign", "unknown"])
async def test_a_verdict_citing_evidence_of_another_case_is_refused(
    two_cases: tuple[Journey, Journey], whose: str
) -> None:
    ours, theirs = two_cases
    own = await photo(ours, ours.inspector_headers(1), FIXABLE)
    if whose == "foreign":
        bad = await photo(theirs, theirs.inspector_headers(0), FIXABLE)
    else:
        bad = "0" * 32

    response = await ours.api.client.put(
        verdict_url(ours),
        json={"value": "fail", "note": "见照片", "evidence_refs": [own, bad]},
        headers=ours.inspector_headers(0),
    )

    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert (problem["field"], problem["evidence_id"], problem["evidence_ids"]) == (
        "evidence_refs",
        bad,
        [bad],
    )
    assert bad in problem["detail"]
    assert bad in problem["title"]
    assert own not in problem["evidence_ids"]
    assert await my_verdicts(ours) == []  # nothing stored


async def test_a_verdict_citing_its_own_case_evidence_is_stored(
    two_cases: tuple[Journey, Journey],
) -> None:
    ours, _ = two_cases
    own = await photo(ours, ours.inspector_headers(1), FIXABLE)

    response = await ours.api.client.put(
        verdict_url(ours),
        json={"value": "fail", "evidence_refs": [own]},
        headers=ours.inspector_headers(0),
    )

    assert response.status_code == 200, response.text
    (mine,) = await my_verdicts(ours)
    assert mine["evidence_refs"] == [own]


async def test_the_rectification_view_never_shows_another_case_photo(
    two_cases: tuple[Journey, Journey],
) -> None:
    """The old defect: a foreign id cited in a verdict became a signed URL for the applicant."""
    ours, theirs = two_cases
    foreign = await photo(theirs, theirs.inspector_headers(0), FIXABLE)
    own = await photo(ours, ours.inspector_headers(0), FIXABLE)
    client = ours.api.client
    for position in (0, 1):
        marked = await client.put(
            verdict_url(ours),
            json={"value": "fail", "evidence_refs": [own]},
            headers=ours.inspector_headers(position),
        )
        assert marked.status_code == 200, marked.text
    # The lead marks again citing the other case's photo too: refused now (the old code stored
    # it, and the latest mark is the one that counts).
    await client.put(
        verdict_url(ours),
        json={"value": "fail", "evidence_refs": [own, foreign]},
        headers=ours.inspector_headers(0),
    )
    requested = await client.post(
        f"/api/v1/cases/{ours.case_id}/rectification",
        json={
            "deadline": (utcnow() + timedelta(days=3)).isoformat(),
            "items": [{"item_id": FIXABLE, "instruction": "请整改并从同一角度拍照"}],
        },
        headers=ours.inspector_headers(0),
    )
    assert requested.status_code == 201, requested.text

    seen = await client.get(f"/api/v1/cases/{ours.case_id}/rectification", headers=ours.applicant)

    assert seen.status_code == 200, seen.text
    (item,) = seen.json()[0]["items"]
    assert foreign not in item["failure_evidence_ids"]
    assert foreign not in item["failure_photo_urls"]
    assert own in item["failure_photo_urls"]
    for url in item["failure_photo_urls"].values():
        assert theirs.case_id not in url
        assert foreign not in url
        assert ours.case_id in url
