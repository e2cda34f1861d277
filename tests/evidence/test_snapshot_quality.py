"""A snapshot of a dark or burnt-out picture is flagged as it is taken: a real call (aiortc
peers, signaling over WebSockets, SeaweedFS), the inspector reads the flag and its reason from
the evidence list and keeps the snapshot as a recorded decision. One kind is taken with media
in the web process, the other in a media worker process (the measure travels back with the
snapshot)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import numpy as np
import pytest
from fastapi import FastAPI

from server.app import create_app
from server.config import Settings
from server.live.media_adapter import media_factory
from server.live.wiring import install
from tests.evidence import join, token
from tests.fixtures.app import Api
from tests.flows import Journey, decide_on_photo, start_inspection, start_journey
from tests.images import darkened, overexposed, scene
from tests.media import StillTrack, connect, loopback_ice
from tests.media.helpers import loopback_only
from tests.signaling.live_server import running

__all__ = ["loopback_ice"]
pytestmark = pytest.mark.usefixtures("loopback_ice")

SCENES = {
    "too_dark": lambda: darkened(scene(21, (640, 480)), 0.15),
    "overexposed": lambda: overexposed(scene(22, (640, 480)), 3.0),
}
WORKERS = {"too_dark": 0, "overexposed": 1}


@pytest.fixture(params=list(SCENES))
def flag(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
async def app(settings: Settings, flag: str) -> AsyncIterator[FastAPI]:
    workers = settings.model_copy(update={"media_workers": WORKERS[flag]})
    app = create_app(workers, media_worker_setup=loopback_only)
    async with app.router.lifespan_context(app):
        install(app, media_factory(app))
        yield app


async def snapshot_of(app: FastAPI, journey: Journey, picture: np.ndarray) -> dict[str, Any]:
    """The phone holds ``picture`` in front of its camera; the lead takes a snapshot."""
    async with running(app) as base:
        url = f"{base}/ws/cases/{journey.case_id}"
        lead = await join(url, token(journey.inspector_headers(0)))
        phone = await join(url, token(journey.applicant))
        camera = await connect(phone.answer, role="applicant", video=StillTrack(picture))
        try:
            result: dict[str, Any] = {}
            for attempt in range(5):  # each waits for the first keyframe to reach the server
                start = len(lead.messages)
                await lead.send(type="snapshot_request", request_id=f"r{attempt}")
                result = await lead.wait("snapshot_result", start, within=15)
                if result["ok"]:
                    break
            assert result["ok"], result
            return result
        finally:
            await camera.close()
            await phone.close()
            await lead.close()


async def test_a_bad_snapshot_is_flagged_with_the_reason(app: FastAPI, api: Api, flag: str) -> None:
    journey = await start_journey(api)
    await start_inspection(journey)
    lead = journey.inspector_headers(0)

    result = await snapshot_of(app, journey, SCENES[flag]())
    listed = await api.client.get(
        f"/api/v1/cases/{journey.case_id}/evidence?kind=snapshot", headers=lead
    )
    kept = await decide_on_photo(journey, lead, result["snapshot_id"], "keep")

    assert listed.status_code == 200, listed.text
    (snapshot,) = listed.json()
    assert snapshot["id"] == result["snapshot_id"]
    assert [i["flag"] for i in snapshot["quality"]["issues"]] == [flag]
    assert snapshot["quality"]["issues"][0]["message_zh"]
    assert kept.status_code == 200, kept.text
    assert kept.json()["quality"]["decision"]["decision"] == "keep"
    assert kept.json()["sha256"] == snapshot["sha256"]
