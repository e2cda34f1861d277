"""Who may play a recording, and what is refused: other people, unknown tracks, altered segments."""

from __future__ import annotations

import hashlib
from pathlib import Path

import httpx
from fastapi import FastAPI
from sqlalchemy import select

from server.audit.models import AuditRecord
from server.auth.models import Role
from server.context import AppContext
from tests.evidence.recording import (
    evidence,
    journey,
    reads,
    record,
    url,
    work_files,
)
from tests.flows import Journey, open_case, start_journey

__all__ = ["journey"]


async def test_only_the_cases_staff_get_the_file(
    app: FastAPI, ctx: AppContext, client: httpx.AsyncClient, journey: Journey, tmp_path: Path
) -> None:
    await record(app, journey.case_id, "audio", tmp_path)
    path = url(journey.case_id, "applicant.audio")
    outsider = next(s for s in journey.inspectors if s.id not in journey.case["inspector_ids"])
    other = await start_journey(journey.api)
    await open_case(other, number="SQ-2")  # another case, with its own applicant link
    _, window = await journey.api.staff_headers(Role.window)

    applicant = await client.get(path, headers=journey.applicant)
    assert applicant.status_code == 403
    assert applicant.headers["content-type"] == "application/problem+json"
    assert applicant.json()["detail_en"] == "Recordings are for staff only."
    assert (await client.get(path, headers=journey.headers[outsider.id])).status_code == 404
    assert (await client.get(path, headers=window)).status_code == 404  # not issued yet
    assert (await client.get(path, headers=other.applicant)).status_code == 404
    assert (await client.get(path)).status_code == 401
    assert await reads(ctx, journey.case_id) == []


async def test_an_unknown_track_is_404_naming_the_tracks_there_are(
    app: FastAPI, ctx: AppContext, client: httpx.AsyncClient, journey: Journey, tmp_path: Path
) -> None:
    await record(app, journey.case_id, "audio", tmp_path)

    response = await client.get(url(journey.case_id, "inspector7.video"), headers=journey.admin)

    assert response.status_code == 404
    body = response.json()
    assert body["track_id"] == "inspector7.video"
    assert body["tracks"] == ["applicant.audio"]
    assert "applicant.audio" in body["detail"]
    assert await reads(ctx, journey.case_id) == []


async def test_a_segment_altered_in_storage_is_reported_and_nothing_is_served(
    app: FastAPI, ctx: AppContext, client: httpx.AsyncClient, journey: Journey, tmp_path: Path
) -> None:
    await record(app, journey.case_id, "video", tmp_path)
    segments = await evidence(ctx, journey.case_id, "segment", "applicant.video")
    victim = segments[2]
    assert victim.object_key is not None
    original = await ctx.store.get(victim.object_key)
    altered = original[:-1] + bytes([original[-1] ^ 0xFF])
    await ctx.store.put(victim.object_key, altered, "video/webm")  # its metadata hash follows

    response = await client.get(
        url(journey.case_id, "applicant.video"), headers=journey.inspector_headers(0)
    )

    assert response.status_code == 500
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert body["code"] == "integrity_error"
    assert body["evidence_id"] == victim.id
    assert body["seq"] == victim.meta["seq"]
    assert body["expected_sha256"] == victim.sha256
    assert f"Segment {victim.meta['seq']} of track applicant.video" in body["detail_en"]
    assert await reads(ctx, journey.case_id) == []
    assert work_files(ctx) == []
    async with ctx.sessionmaker() as session:
        audited = await session.scalars(
            select(AuditRecord).where(AuditRecord.action == "evidence.integrity_failed")
        )
        (refusal,) = [r.detail for r in audited if r.case_id == journey.case_id]
    assert (refusal["evidence_id"], refusal["what"]) == (victim.id, "playback")
    assert refusal["expected_sha256"] == victim.sha256
    assert refusal["actual_sha256"] == hashlib.sha256(altered).hexdigest()


async def test_a_segment_missing_from_storage_is_reported(
    app: FastAPI, ctx: AppContext, client: httpx.AsyncClient, journey: Journey, tmp_path: Path
) -> None:
    await record(app, journey.case_id, "audio", tmp_path)
    victim = (await evidence(ctx, journey.case_id, "segment", "applicant.audio"))[0]
    assert victim.object_key is not None
    await ctx.store.delete(victim.object_key)

    response = await client.get(url(journey.case_id, "applicant.audio"), headers=journey.admin)

    assert response.status_code == 500
    body = response.json()
    assert body["evidence_id"] == victim.id
    assert "missing from object storage" in body["detail_en"]
    assert work_files(ctx) == []
