"""Reliability test #16: a byte changed in storage behind the app's back is caught on every read.

An outsider with storage credentials flips one byte of an object with the plain minio SDK.
Every path that serves or uses that object (the applicant's rectification view, the staff's
evidence link, the original link, the recordings playlist, the merged recording, the photos an
opinion is built from) refuses it with a 500 problem+json and leaves an
``evidence.integrity_failed`` audit record naming the evidence and both hashes.
"""

from __future__ import annotations

import hashlib
import io
from datetime import UTC, datetime
from typing import Any

import httpx
from sqlalchemy import select

from server.audit.models import AuditRecord
from server.audit.service import Actor
from server.auth.models import Role
from server.evidence.models import Evidence
from server.evidence.service import record_evidence
from server.storage import case_recording_key
from tests.fixtures.app import Api
from tests.fixtures.seaweed import SeaweedServer
from tests.flows import Journey, conclude
from tests.inspection.test_checklist_api import (
    Team,
    checklist,
    make_team,
    mark_both,
    started_case,
)
from tests.opinions.test_workflow_api import to_review
from tests.rectification.test_rectification_api import FIXABLE, journey, photo, request
from tests.uploads.helpers import body_for, send
from tests.uploads.test_images import jpeg

__all__ = ["journey"]


def flip_one_byte(seaweed: SeaweedServer, bucket: str, key: str) -> tuple[str, str]:
    """Damage one byte in place, as an outsider would; returns (sha256 before, after)."""
    client = seaweed.admin_client()
    response = client.get_object(bucket, key)
    try:
        data = bytearray(response.read())
    finally:
        response.close()
        response.release_conn()
    before = hashlib.sha256(data).hexdigest()
    data[len(data) // 2] ^= 0x01
    client.put_object(bucket, key, io.BytesIO(bytes(data)), len(data), "image/jpeg")
    return before, hashlib.sha256(data).hexdigest()


async def refusals(journey: Journey) -> list[dict[str, Any]]:
    async with journey.api.ctx.sessionmaker() as session:
        rows = await session.scalars(
            select(AuditRecord)
            .where(AuditRecord.action == "evidence.integrity_failed")
            .order_by(AuditRecord.seq)
        )
        return [{"case_id": r.case_id, **r.detail} for r in rows]


def refused(response: httpx.Response, evidence_id: str) -> None:
    assert response.status_code == 500, response.text
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert problem["code"] == "integrity_error"
    assert problem["evidence_id"] == evidence_id
    assert problem["detail"]  # zh-CN
    assert "url" not in problem


async def row(journey: Journey, evidence_id: str) -> Evidence:
    async with journey.api.ctx.sessionmaker() as session:
        found = await session.get(Evidence, evidence_id)
    assert found is not None
    return found


async def test_a_flipped_byte_is_refused_and_audited_on_every_read_path(
    journey: Journey, seaweed: SeaweedServer
) -> None:
    bucket = journey.api.ctx.store.bucket
    staff = journey.inspector_headers(0)
    base = f"/api/v1/cases/{journey.case_id}"
    failure_photo = await photo(journey, staff, FIXABLE)  # an on-site photo of the failed item
    assert (await request(journey, FIXABLE)).status_code == 201
    view = await journey.api.client.get(f"{base}/rectification", headers=journey.applicant)
    assert view.status_code == 200, view.text
    shown = view.json()[0]["items"][0]["failure_photo_urls"]
    assert failure_photo in shown  # the path works while the bytes are intact
    photo_row = await row(journey, failure_photo)
    segment = await recorded_segment(journey)
    expected: list[tuple[str, str, str, str]] = []  # evidence, what, before, after

    before, after = flip_one_byte(seaweed, bucket, str(photo_row.object_key))
    view = await journey.api.client.get(f"{base}/rectification", headers=journey.applicant)
    refused(view, failure_photo)
    expected.append((failure_photo, "photo", before, after))
    link = await journey.api.client.get(f"{base}/evidence/{failure_photo}/url", headers=staff)
    refused(link, failure_photo)
    expected.append((failure_photo, "photo", before, after))

    before, after = flip_one_byte(seaweed, bucket, photo_row.meta["original_key"])
    original = await journey.api.client.get(
        f"{base}/evidence/{failure_photo}/original/url", headers=staff
    )
    refused(original, failure_photo)
    expected.append((failure_photo, "original", before, after))

    before, after = flip_one_byte(seaweed, bucket, str(segment.object_key))
    listing = await journey.api.client.get(f"{base}/recordings", headers=staff)
    refused(listing, segment.id)
    expected.append((segment.id, "segment", before, after))

    records = await refusals(journey)
    print(f"\n#16 read paths refused and audited: {len(records)} of {len(expected)}")
    assert [
        (r["evidence_id"], r["what"], r["expected_sha256"], r["actual_sha256"]) for r in records
    ] == expected
    assert all(r["case_id"] == journey.case_id for r in records)
    assert all(r["by"].startswith(("applicant:", "staff:")) for r in records)


async def recorded_segment(journey: Journey) -> Evidence:
    """A recording segment as the recorder stores one (bytes, then its evidence record)."""
    ctx = journey.api.ctx
    key = case_recording_key(journey.case_id, "applicant.video", 0)
    stored = await ctx.store.put(key, b"\x1a\x45\xdf\xa3 segment bytes" * 100, "video/webm")
    started = datetime.now(UTC)
    async with ctx.sessionmaker() as session:
        evidence = await record_evidence(
            session,
            case_id=journey.case_id,
            kind="segment",
            actor=Actor.system("recorder"),
            captured_at=started,
            object_key=key,
            sha256=stored.sha256 or "",
            size=stored.size,
            content_type="video/webm",
            meta={
                "track_id": "applicant.video",
                "kind": "video",
                "seq": 0,
                "started_at": started.isoformat(),
                "ended_at": started.isoformat(),
            },
        )
        await session.commit()
    return evidence


async def onsite_photo(team: Team, case_id: str, item_id: str, data: bytes = b"") -> str:
    """The lead inspector's on-site photo, through the phone's three steps."""
    data = data or jpeg((640, 480))
    url = f"/api/v1/cases/{case_id}/uploads"
    lead = team.headers["lead"]
    announced = await team.client.post(url, json=body_for(data, item_ids=[item_id]), headers=lead)
    assert announced.status_code == 201, announced.text
    assert (await send(announced.json()["form"], data, "image/jpeg")).status_code == 204
    done = await team.client.post(f"{url}/{announced.json()['id']}/finalize", headers=lead)
    assert done.status_code == 200, done.text
    return str(done.json()["evidence"]["id"])


async def test_an_opinion_is_not_issued_on_a_flipped_photo(
    api: Api, seaweed: SeaweedServer
) -> None:
    team = await make_team(api)
    _, reviewer = await api.staff_headers(Role.reviewer)
    case_id = await started_case(team, ["CB"])
    listing = await checklist(team.client, case_id, team.headers["lead"])
    evidence_id = await onsite_photo(team, case_id, listing["items"][0]["id"])
    for entry in listing["items"]:
        await mark_both(team, case_id, entry["id"], "pass")
    await conclude(api, case_id, team.headers["lead"])
    await to_review(team, case_id)
    async with api.ctx.sessionmaker() as session:
        photo_row = await session.get(Evidence, evidence_id)
    assert photo_row is not None
    before, after = flip_one_byte(seaweed, api.ctx.store.bucket, str(photo_row.object_key))

    issued = await team.client.post(f"/api/v1/cases/{case_id}/opinion/approve", headers=reviewer)

    refused(issued, evidence_id)
    async with api.ctx.sessionmaker() as session:
        rows = await session.scalars(
            select(AuditRecord).where(AuditRecord.action == "evidence.integrity_failed")
        )
        (record,) = [r.detail for r in rows if r.case_id == case_id]
    assert (record["evidence_id"], record["what"]) == (evidence_id, "opinion")
    assert (record["expected_sha256"], record["actual_sha256"]) == (before, after)
    state = await team.client.get(f"/api/v1/cases/{case_id}", headers=team.headers["dispatcher"])
    assert state.json()["state"] == "under_review"  # not issued on damaged evidence
