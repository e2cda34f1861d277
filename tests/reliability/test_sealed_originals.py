"""Issue #13 defect 2: a finalized original can never be replaced by a form a client holds.

The phone's presigned POST form stays valid for 30 minutes. Posting it again after finalize
with other bytes of the same length must not change what the "original" link serves: either
the store refuses, or the bytes land where nothing reads them. When bytes behind a recorded
SHA-256 do change (an outsider writing to the bucket), the read is refused loudly and audited.
"""

from __future__ import annotations

import hashlib
import io
from typing import Any

import httpx
from sqlalchemy import select

from server.audit.models import AuditRecord
from server.evidence.models import Evidence
from tests.fixtures.seaweed import SeaweedServer
from tests.flows import Journey
from tests.uploads.helpers import announce, body_for, finalize, inspecting, journey, scheduled, send
from tests.uploads.test_images import jpeg

__all__ = ["inspecting", "journey", "scheduled"]


def same_length_other_bytes(data: bytes) -> bytes:
    """A different, still valid-looking JPEG body of exactly the same length."""
    other = bytearray(data)
    middle = len(other) // 2
    other[middle : middle + 64] = bytes(b ^ 0x5A for b in other[middle : middle + 64])
    assert len(other) == len(data)
    assert bytes(other) != data
    return bytes(other)


async def evidence_row(journey: Journey, evidence_id: str) -> Evidence:
    async with journey.api.ctx.sessionmaker() as session:
        row = await session.get(Evidence, evidence_id)
    assert row is not None
    return row


async def integrity_records(journey: Journey) -> list[dict[str, Any]]:
    async with journey.api.ctx.sessionmaker() as session:
        rows = await session.scalars(
            select(AuditRecord)
            .where(AuditRecord.action == "evidence.integrity_failed")
            .order_by(AuditRecord.seq)
        )
        return [{"case_id": r.case_id, **r.detail} for r in rows]


async def original_link(journey: Journey, evidence_id: str) -> httpx.Response:
    return await journey.api.client.get(
        f"/api/v1/cases/{journey.case_id}/evidence/{evidence_id}/original/url",
        headers=journey.inspector_headers(0),
    )


async def download(url: str) -> bytes:
    async with httpx.AsyncClient() as s3:
        response = await s3.get(url)
    assert response.status_code == 200, response.text
    return response.content


def overwrite(seaweed: SeaweedServer, bucket: str, key: str, data: bytes) -> None:
    """Write straight into the bucket, as an outsider with storage credentials would."""
    seaweed.admin_client().put_object(bucket, key, io.BytesIO(data), len(data), "image/jpeg")


async def uploaded(journey: Journey, data: bytes) -> tuple[dict[str, Any], dict[str, Any]]:
    """The applicant's three steps; returns the form they keep and the evidence made."""
    announced = await announce(journey, journey.applicant, body_for(data))
    assert announced.status_code == 201, announced.text
    form: dict[str, Any] = announced.json()["form"]
    assert (await send(form, data, "image/jpeg")).status_code == 204
    done = await finalize(journey, journey.applicant, announced.json()["id"])
    assert done.status_code == 200, done.text
    evidence: dict[str, Any] = done.json()["evidence"]
    return form, evidence


async def test_reposting_the_form_after_finalize_cannot_replace_the_original(
    journey: Journey,
) -> None:
    sent = jpeg((1200, 900), gps=True)
    form, evidence = await uploaded(journey, sent)

    replay = await send(form, same_length_other_bytes(sent), "image/jpeg")
    print(f"\nre-posted form after finalize: HTTP {replay.status_code}")

    link = await original_link(journey, evidence["id"])
    assert link.status_code == 200, link.text
    served = await download(link.json()["url"])
    assert served == sent  # the original, not the re-posted bytes
    assert hashlib.sha256(served).hexdigest() == link.json()["sha256"]
    row = await evidence_row(journey, evidence["id"])
    assert row.meta["original_key"] != form["fields"]["key"]  # sealed away from the form's key
    assert await integrity_records(journey) == []


async def test_replaced_original_is_refused_loudly_and_audited(
    journey: Journey, seaweed: SeaweedServer
) -> None:
    sent = jpeg((1200, 900), gps=True)
    _, evidence = await uploaded(journey, sent)
    row = await evidence_row(journey, evidence["id"])
    forged = same_length_other_bytes(sent)
    overwrite(seaweed, journey.api.ctx.store.bucket, row.meta["original_key"], forged)

    link = await original_link(journey, evidence["id"])

    assert link.status_code == 500, link.text
    assert link.headers["content-type"] == "application/problem+json"
    problem = link.json()
    assert problem["code"] == "integrity_error"
    assert problem["evidence_id"] == evidence["id"]
    assert "url" not in problem
    (record,) = await integrity_records(journey)
    assert record["case_id"] == journey.case_id
    assert record["evidence_id"] == evidence["id"]
    assert record["expected_sha256"] == hashlib.sha256(sent).hexdigest()
    assert record["actual_sha256"] == hashlib.sha256(forged).hexdigest()
    assert record["what"] == "original"
