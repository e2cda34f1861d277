"""The phone's upload steps and the case states it uploads in, shared by the upload tests.

Announce, POST the bytes to the store, finalize; ``scheduled``, ``inspecting`` and ``journey``
(rectification requested) are the fixtures of the states in which each side may upload.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from server.evidence.models import Evidence
from server.platform.storage import case_clip_key, case_photo_key
from server.uploads.models import Upload
from tests.fixtures.app import Api
from tests.flows import Journey, refresh, request_rectification, schedule, start_journey

PATH = "/api/v1/cases/{case_id}/uploads"


@pytest.fixture
async def scheduled(api: Api) -> Journey:
    """A scheduled case: nobody may upload yet."""
    journey = await start_journey(api)
    await schedule(journey)
    return journey


@pytest.fixture
async def inspecting(scheduled: Journey) -> Journey:
    """The lead started the inspection: the case's inspectors may upload on-site photos."""
    response = await scheduled.api.client.post(
        f"/api/v1/cases/{scheduled.case_id}/inspection/start",
        headers=scheduled.inspector_headers(0),
    )
    assert response.status_code == 200, response.text
    await refresh(scheduled)
    return scheduled


@pytest.fixture
async def journey(inspecting: Journey) -> Journey:
    """Rectification requested: the applicant may upload rectification photos and clips."""
    await request_rectification(inspecting)
    assert inspecting.case["state"] == "rectification_requested"
    return inspecting


def body_for(data: bytes, content_type: str = "image/jpeg", **changes: Any) -> dict[str, Any]:
    return {
        "idempotency_key": secrets.token_hex(8),
        "content_type": content_type,
        "size": len(data),
        "sha256": hashlib.sha256(data).hexdigest(),
        "item_ids": ["SH-01"],
        **changes,
    }


async def announce(
    journey: Journey, headers: dict[str, str], body: dict[str, Any]
) -> httpx.Response:
    return await journey.api.client.post(
        f"/api/v1/cases/{journey.case_id}/uploads", json=body, headers=headers
    )


async def send(form: dict[str, Any], data: bytes, content_type: str) -> httpx.Response:
    async with httpx.AsyncClient() as s3:
        return await s3.post(
            form["url"], data=form["fields"], files={"file": ("photo.bin", data, content_type)}
        )


async def finalize(journey: Journey, headers: dict[str, str], upload_id: str) -> httpx.Response:
    return await journey.api.client.post(
        f"/api/v1/cases/{journey.case_id}/uploads/{upload_id}/finalize", headers=headers
    )


async def upload(
    journey: Journey, headers: dict[str, str], data: bytes, content_type: str = "image/jpeg"
) -> tuple[str, httpx.Response]:
    """Announce, POST the bytes to the store, finalize: the phone's three steps."""
    announced = await announce(journey, headers, body_for(data, content_type))
    assert announced.status_code == 201, announced.text
    sent = await send(announced.json()["form"], data, content_type)
    assert sent.status_code == 204, sent.text
    upload_id = announced.json()["id"]
    return upload_id, await finalize(journey, headers, upload_id)


async def count(journey: Journey, model: Any) -> int:
    """Rows of ``model`` on the journey's case, beyond those the flow's steps made."""
    async with journey.api.ctx.sessionmaker() as session:
        query = (
            select(func.count())
            .select_from(model)
            .where(model.case_id == journey.case_id, model.id.not_in(journey.made))
        )
        return int(await session.scalar(query) or 0)


async def leftovers(journey: Journey, upload_id: str) -> list[str]:
    """Every object this upload could have produced that still exists."""
    async with journey.api.ctx.sessionmaker() as session:
        row = await session.get(Upload, upload_id)
    assert row is not None
    case_id, store = journey.case_id, journey.api.ctx.store
    keys = [
        row.object_key,
        case_photo_key(case_id, upload_id, "jpg"),
        case_photo_key(case_id, f"{upload_id}-thumb", "jpg"),
        case_photo_key(case_id, f"{upload_id}-poster", "jpg"),
        *(case_clip_key(case_id, upload_id, ext) for ext in ("mp4", "mov", "webm")),
    ]
    return [key for key in keys if await store.exists(key)]


async def upload_with(
    journey: Journey, headers: dict[str, str], data: bytes, body: dict[str, Any]
) -> httpx.Response:
    announced = await announce(journey, headers, body)
    assert announced.status_code == 201, announced.text
    sent = await send(announced.json()["form"], data, body["content_type"])
    assert sent.status_code == 204, sent.text
    return await finalize(journey, headers, announced.json()["id"])


async def stored_evidence(journey: Journey, evidence_id: str) -> Evidence:
    async with journey.api.ctx.sessionmaker() as session:
        row = await session.get(Evidence, evidence_id)
    assert row is not None
    return row


def hours_from_now(hours: float) -> str:
    """An ISO time ``hours`` from now (negative: in the past), as a phone would write it."""
    return (datetime.now(UTC) + timedelta(hours=hours)).isoformat()


def make_clip(av: Any, seconds: float, location: str = "", fps: int = 2) -> bytes:
    import io

    import numpy as np

    out = io.BytesIO()
    with av.open(out, "w", format="mp4") as container:
        if location:
            container.metadata["location"] = location
        stream = container.add_stream("libx264", rate=fps)
        stream.width, stream.height, stream.pix_fmt = 160, 120, "yuv420p"
        for i in range(int(seconds * fps)):
            pixels = np.full((120, 160, 3), (i * 7) % 255, np.uint8)
            for packet in stream.encode(av.VideoFrame.from_ndarray(pixels, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return out.getvalue()
