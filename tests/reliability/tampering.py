"""Reaching behind the app to change stored evidence, and reading how the app answers."""

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
from tests.images import jpeg
from tests.inspection.team import (
    Team,
)
from tests.uploads.helpers import announce, body_for, finalize, send


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


def refused(response: httpx.Response, evidence_id: str) -> None:
    assert response.status_code == 500, response.text
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert problem["code"] == "integrity_error"
    assert problem["evidence_id"] == evidence_id
    assert problem["detail"]  # zh-CN
    assert "url" not in problem


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
