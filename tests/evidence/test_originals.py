"""Originals for staff: the uploaded file as sent (EXIF/GPS kept), behind an audited short link."""

from __future__ import annotations

import hashlib
import io
from typing import Any

import httpx
from PIL import Image
from sqlalchemy import select

from server.audit.models import AuditRecord
from server.evidence.models import Evidence
from tests.evidence.snapshots import add_snapshot
from tests.flows import Journey
from tests.images import jpeg
from tests.uploads.helpers import inspecting, journey, scheduled, upload

__all__ = ["inspecting", "journey", "scheduled"]
GPS_IFD = 0x8825


def _original_path(journey: Journey, evidence_id: str) -> str:
    return f"/api/v1/cases/{journey.case_id}/evidence/{evidence_id}/original/url"


async def _photo(journey: Journey) -> tuple[bytes, dict[str, Any]]:
    """The applicant's rectification photo with GPS, finalized into evidence."""
    data = jpeg((1200, 900), gps=True)
    _, done = await upload(journey, journey.applicant, data)
    assert done.status_code == 200, done.text
    evidence: dict[str, Any] = done.json()["evidence"]
    return data, evidence


async def _download(url: str) -> httpx.Response:
    async with httpx.AsyncClient() as s3:
        return await s3.get(url)


def _gps(data: bytes) -> dict[int, Any]:
    with Image.open(io.BytesIO(data)) as image:
        return dict(image.getexif().get_ifd(GPS_IFD))


async def _reads(journey: Journey) -> list[dict[str, Any]]:
    async with journey.api.ctx.sessionmaker() as session:
        rows = await session.scalars(
            select(AuditRecord)
            .where(AuditRecord.case_id == journey.case_id, AuditRecord.action == "evidence.read")
            .order_by(AuditRecord.seq)
        )
        return [dict(r.detail) for r in rows]


async def test_staff_get_the_original_with_its_gps_and_the_read_is_audited(
    journey: Journey,
) -> None:
    sent, evidence = await _photo(journey)
    response = await journey.api.client.get(
        _original_path(journey, evidence["id"]), headers=journey.inspector_headers(0)
    )
    assert response.status_code == 200, response.text
    link = response.json()
    async with journey.api.ctx.sessionmaker() as session:
        row = await session.get(Evidence, evidence["id"])
    assert row is not None
    assert link["sha256"] == row.meta["original_sha256"] == hashlib.sha256(sent).hexdigest()
    assert link["content_type"] == "image/jpeg"

    original = await _download(link["url"])
    assert original.status_code == 200
    assert hashlib.sha256(original.content).hexdigest() == row.meta["original_sha256"]
    assert original.content == sent
    assert _gps(original.content)[2]  # latitude, as the phone recorded it
    assert original.headers["content-disposition"].startswith("attachment;")

    display_link = await journey.api.client.get(
        f"/api/v1/cases/{journey.case_id}/evidence/{evidence['id']}/url",
        headers=journey.inspector_headers(0),
    )
    display = await _download(display_link.json()["url"])
    assert hashlib.sha256(display.content).hexdigest() == evidence["sha256"]
    assert _gps(display.content) == {}  # the processed copy carries no position

    (read, *_) = [r for r in await _reads(journey) if r["what"] == "original"]
    assert read["evidence_ids"] == [evidence["id"]]
    assert read["object_key"] == row.meta["original_key"]
    assert read["sha256"] == row.meta["original_sha256"]


async def test_dispatcher_may_read_the_original_too(journey: Journey) -> None:
    _, evidence = await _photo(journey)
    response = await journey.api.client.get(
        _original_path(journey, evidence["id"]), headers=journey.dispatcher
    )
    assert response.status_code == 200, response.text


async def test_applicant_is_refused_the_original_even_of_their_own_photo(
    journey: Journey,
) -> None:
    _, evidence = await _photo(journey)
    before = await _reads(journey)
    response = await journey.api.client.get(
        _original_path(journey, evidence["id"]), headers=journey.applicant
    )
    assert response.status_code == 403
    assert response.headers["content-type"] == "application/problem+json"
    assert "GPS" in response.json()["detail"]
    assert await _reads(journey) == before  # nothing handed out, nothing audited


async def test_evidence_without_an_original_is_not_found_with_a_reason(
    journey: Journey,
) -> None:
    snapshot = await add_snapshot(journey.api.ctx, journey.case_id)
    response = await journey.api.client.get(
        _original_path(journey, snapshot.id), headers=journey.inspector_headers(0)
    )
    assert response.status_code == 404
    problem = response.json()
    assert problem["reason"] == "no_original"
    assert "snapshot" in problem["detail_en"]
    assert not [r for r in await _reads(journey) if r["what"] == "original"]


async def test_original_gone_from_storage_is_not_found_and_not_audited(
    journey: Journey,
) -> None:
    _, evidence = await _photo(journey)
    async with journey.api.ctx.sessionmaker() as session:
        row = await session.get(Evidence, evidence["id"])
    assert row is not None
    await journey.api.ctx.store.delete(row.meta["original_key"])
    response = await journey.api.client.get(
        _original_path(journey, evidence["id"]), headers=journey.inspector_headers(0)
    )
    assert response.status_code == 404
    assert response.json()["reason"] == "original_missing"
    assert not [r for r in await _reads(journey) if r["what"] == "original"]


async def test_other_cases_evidence_is_not_found(journey: Journey) -> None:
    _, evidence = await _photo(journey)
    path = f"/api/v1/cases/{journey.case_id}/evidence/{'0' * 32}/original/url"
    missing = await journey.api.client.get(path, headers=journey.inspector_headers(0))
    assert missing.status_code == 404
    outsider = await journey.api.create_staff(journey.inspectors[0].role)
    headers = await journey.api.login(outsider.username)
    foreign = await journey.api.client.get(_original_path(journey, evidence["id"]), headers=headers)
    assert foreign.status_code == 404  # not their case: as if it did not exist
