"""Evidence API: who sees what, audited reads, playlists with gaps; GPS and TURN rules."""

from __future__ import annotations

import base64
import hashlib
import hmac
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select

from server.audit.models import AuditRecord
from server.cases.models import Case
from server.context import AppContext
from server.evidence.models import Evidence
from server.evidence.service import haversine_m, locate, playlists
from server.live.turn import turn_credentials
from server.platform.storage import case_recording_key
from tests.evidence.snapshots import add_snapshot
from tests.fixtures.app import Api
from tests.flows import Journey, assign, start_journey

T0 = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)


@pytest.fixture
async def journey(app: FastAPI, api: Api) -> Journey:
    journey = await start_journey(api)
    await assign(journey)
    return journey


def segment(case_id: str, seq: int, start: float, end: float) -> Evidence:
    return Evidence(
        id=f"s{seq}",
        case_id=case_id,
        kind="segment",
        captured_at=T0 + timedelta(seconds=start),
        object_key=case_recording_key(case_id, "applicant.video", seq),
        meta={
            "track_id": "applicant.video",
            "kind": "video",
            "seq": seq,
            "started_at": (T0 + timedelta(seconds=start)).isoformat(),
            "ended_at": (T0 + timedelta(seconds=end)).isoformat(),
        },
    )


async def test_staff_who_see_the_case_list_its_evidence_with_the_audit_link(
    journey: Journey, ctx: AppContext, client: httpx.AsyncClient
) -> None:
    evidence = await add_snapshot(ctx, journey.case_id)
    url = f"/api/v1/cases/{journey.case_id}/evidence"
    listed = await client.get(url, headers=journey.inspector_headers(0))
    assert listed.status_code == 200, listed.text
    (row,) = listed.json()
    assert row["id"] == evidence.id
    assert row["item_ids"] == ["SH-01"]
    async with ctx.sessionmaker() as session:
        record = await session.get(AuditRecord, row["audit_seq"])
    assert record is not None
    assert record.action == "evidence.write"
    assert record.detail["sha256"] == evidence.sha256


async def test_the_list_narrows_to_the_kinds_asked_for(
    journey: Journey, ctx: AppContext, client: httpx.AsyncClient
) -> None:
    snapshot = await add_snapshot(ctx, journey.case_id)
    async with ctx.sessionmaker() as session:
        recorded = segment(journey.case_id, 0, 0, 5)
        recorded.created_by = "system:recorder"
        session.add(recorded)
        await session.commit()
    url = f"/api/v1/cases/{journey.case_id}/evidence"
    headers = journey.inspector_headers(0)

    everything = await client.get(url, headers=headers)
    photos = await client.get(url, params={"kind": ["snapshot", "photo"]}, headers=headers)
    recording = await client.get(url, params={"kind": "segment"}, headers=headers)
    nonsense = await client.get(url, params={"kind": "selfie"}, headers=headers)

    assert {row["kind"] for row in everything.json()} == {"snapshot", "segment"}
    assert [row["id"] for row in photos.json()] == [snapshot.id]
    assert [row["id"] for row in recording.json()] == ["s0"]
    assert nonsense.status_code == 422
    assert "kind" in nonsense.text


async def test_an_unassigned_inspector_gets_404_and_the_applicant_an_empty_list(
    journey: Journey, ctx: AppContext, client: httpx.AsyncClient
) -> None:
    evidence = await add_snapshot(ctx, journey.case_id)
    outsider = next(s for s in journey.inspectors if s.id not in journey.case["inspector_ids"])
    base = f"/api/v1/cases/{journey.case_id}"
    for path in ("/evidence", f"/evidence/{evidence.id}/url", "/recordings"):
        response = await client.get(base + path, headers=journey.headers[outsider.id])
        assert response.status_code == 404, path
    mine = await client.get(f"{base}/evidence", headers=journey.applicant)
    assert mine.status_code == 200
    assert mine.json() == []
    read = await client.get(f"{base}/evidence/{evidence.id}/url", headers=journey.applicant)
    assert read.status_code == 403
    assert (await client.get(f"{base}/recordings", headers=journey.applicant)).status_code == 403


async def test_reading_a_url_is_audited_and_serves_the_recorded_type(
    journey: Journey, ctx: AppContext, client: httpx.AsyncClient
) -> None:
    evidence = await add_snapshot(ctx, journey.case_id)
    path = f"/api/v1/cases/{journey.case_id}/evidence/{evidence.id}/url"
    response = await client.get(path, headers=journey.dispatcher)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["sha256"] == evidence.sha256
    async with httpx.AsyncClient() as s3:
        fetched = await s3.get(body["url"])
    assert fetched.status_code == 200
    assert fetched.headers["content-type"] == "image/jpeg"
    assert fetched.headers["content-disposition"].startswith("inline;")
    async with ctx.sessionmaker() as session:
        reads = list(
            await session.scalars(select(AuditRecord).where(AuditRecord.action == "evidence.read"))
        )
    assert [r.detail["evidence_ids"] for r in reads] == [[evidence.id]]


async def test_an_unknown_evidence_id_is_404(journey: Journey, client: httpx.AsyncClient) -> None:
    path = f"/api/v1/cases/{journey.case_id}/evidence/{'0' * 32}/url"
    assert (await client.get(path, headers=journey.dispatcher)).status_code == 404


def test_playlist_orders_segments_and_infers_a_gap_between_calls() -> None:
    rows = [segment("c", 2, 30, 32), segment("c", 0, 0, 2), segment("c", 1, 2, 4)]
    (track,) = playlists(rows)
    assert [e.type for e in track.entries] == ["segment", "segment", "gap", "segment"]
    assert [e.evidence.id for e in track.entries if e.evidence] == ["s0", "s1", "s2"]
    assert track.entries[2].inferred
    assert (track.entries[2].ended_at - track.entries[2].started_at).total_seconds() == 26


def test_a_phone_beyond_200_m_plus_its_accuracy_is_off_site() -> None:
    case = Case(site_lat=26.0878, site_lng=119.3036)
    one_km_north = 26.0878 + 1000 / 111_195
    assert haversine_m(26.0878, 119.3036, one_km_north, 119.3036) == pytest.approx(1000, rel=1e-3)
    assert locate(case, one_km_north, 119.3036, 50).off_site
    assert not locate(case, one_km_north, 119.3036, 900).off_site  # too vague to accuse
    near = locate(case, 26.0878 + 100 / 111_195, 119.3036, None)
    assert near.distance_m == pytest.approx(100, rel=1e-2)
    assert not near.off_site
    assert locate(Case(), 26.0, 119.0, 5).distance_m is None


def test_turn_credentials_follow_the_coturn_rest_format() -> None:
    now = datetime(2026, 1, 1, tzinfo=UTC)
    username, password = turn_credentials("s3cret", "staff42", 3600, now)
    assert username == f"{int(now.timestamp()) + 3600}:staff42"
    expected = hmac.new(b"s3cret", username.encode(), hashlib.sha1).digest()
    assert base64.b64decode(password) == expected
    with pytest.raises(ValueError, match="secret"):
        turn_credentials("", "x", 60, now)
