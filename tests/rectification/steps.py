"""Steps of a rectification round (补齐补正) through the API, for tests that need one."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import httpx
import pytest

from server.db import utcnow
from tests.fixtures.app import Api
from tests.flows import Headers, Journey, schedule, start_journey
from tests.images import jpeg
from tests.uploads.helpers import announce, body_for, finalize, send

FIXABLE = "SH-02"  # fails, rectifiable

NOT_FIXABLE = "SH-01"  # fails, not rectifiable by photos

PASSED = "SH-03"


def path(journey: Journey, tail: str = "") -> str:
    return f"/api/v1/cases/{journey.case_id}/rectification{tail}"


async def photo(journey: Journey, headers: Headers, item_id: str) -> str:
    """Announce, POST to the store, finalize: a photo of ``item_id``; returns its evidence id."""
    data = jpeg((640, 480))
    announced = await announce(journey, headers, body_for(data, item_ids=[item_id]))
    assert announced.status_code == 201, announced.text
    sent = await send(announced.json()["form"], data, "image/jpeg")
    assert sent.status_code == 204, sent.text
    done = await finalize(journey, headers, announced.json()["id"])
    assert done.status_code == 200, done.text
    return str(done.json()["evidence"]["id"])


async def mark_both(journey: Journey, item_id: str, value: str) -> None:
    """Both inspectors mark the item, citing a photo the second took of it (not tied to it)."""
    cited = await photo(journey, journey.inspector_headers(1), "SH-08")
    for position in (0, 1):
        response = await journey.api.client.put(
            f"/api/v1/cases/{journey.case_id}/checklist/items/{item_id}/verdict",
            json={"value": value, "note": "", "evidence_refs": [cited]},
            headers=journey.inspector_headers(position),
        )
        assert response.status_code == 200, response.text


@pytest.fixture
async def journey(api: Api) -> Journey:
    """A running inspection: SH-02 and SH-01 failed, SH-03 passed, a failure photo of SH-02."""
    journey = await start_journey(api)
    await schedule(journey)
    started = await api.client.post(
        f"/api/v1/cases/{journey.case_id}/inspection/start", headers=journey.inspector_headers(0)
    )
    assert started.status_code == 200, started.text
    await mark_both(journey, FIXABLE, "fail")
    await mark_both(journey, NOT_FIXABLE, "fail")
    await mark_both(journey, PASSED, "pass")
    return journey


def request_body(*item_ids: str, deadline: datetime | None = None) -> dict[str, Any]:
    return {
        "deadline": (deadline or utcnow() + timedelta(days=3)).isoformat(),
        "items": [{"item_id": i, "instruction": f"请整改 {i} 并从同一角度拍照"} for i in item_ids],
    }


async def request(journey: Journey, *item_ids: str, **kwargs: Any) -> httpx.Response:
    return await journey.api.client.post(
        path(journey),
        json=request_body(*item_ids, **kwargs),
        headers=journey.inspector_headers(0),
    )


async def clock(journey: Journey) -> Any:
    response = await journey.api.client.get(
        f"/api/v1/cases/{journey.case_id}/clock", headers=journey.dispatcher
    )
    assert response.status_code == 200, response.text
    return response.json()


async def rounds(journey: Journey, headers: Headers) -> Any:
    response = await journey.api.client.get(path(journey), headers=headers)
    assert response.status_code == 200, response.text
    return response.json()


async def review(journey: Journey, position: int, accepted: bool, reason: str = "") -> Any:
    return await journey.api.client.post(
        path(journey, f"/items/{FIXABLE}/review"),
        json={"accepted": accepted, "reason": reason},
        headers=journey.inspector_headers(position),
    )


async def requested_and_submitted(journey: Journey) -> None:
    assert (await request(journey, FIXABLE)).status_code == 201
    await photo(journey, journey.applicant, FIXABLE)
    submitted = await journey.api.client.post(path(journey, "/submit"), headers=journey.applicant)
    assert submitted.status_code == 200, submitted.text
