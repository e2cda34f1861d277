"""Reliability test #16: a byte changed in storage behind the app's back is caught on every read.

An outsider with storage credentials flips one byte of an object with the plain minio SDK.
Every path that serves or uses that object (the applicant's rectification view, the staff's
evidence link, the original link, the recordings playlist, the merged recording, the photos an
opinion is built from) refuses it with a 500 problem+json and leaves an
``evidence.integrity_failed`` audit record naming the evidence and both hashes.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import select

from server.audit.models import AuditRecord
from server.audit.service import Actor
from server.auth.models import Role
from server.evidence.models import Evidence
from server.evidence.service import record_evidence
from server.platform.storage import case_recording_key
from tests.fixtures.app import Api
from tests.fixtures.seaweed import SeaweedServer
from tests.flows import Journey, conclude
from tests.inspection.team import (
    checklist,
    make_team,
    mark_both,
    started_case,
)
from tests.opinions.drafting import post, to_review
from tests.rectification.steps import FIXABLE, journey, photo, request
from tests.reliability.tampering import (
    evidence_row,
    flip_one_byte,
    integrity_records,
    onsite_photo,
    refused,
)

__all__ = ["journey"]


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
    photo_row = await evidence_row(journey, failure_photo)
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

    records = await integrity_records(journey)
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

    issued = await post(team, case_id, "approve", reviewer)

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
