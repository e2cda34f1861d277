"""Reliability test #18: a hostile-file corpus (68 files, made in memory) through the real app.

Each file goes the phone's way (announce, POST to SeaweedFS, finalize) as the applicant's
rectification material. Each must be refused with a clear 4xx at one of the three steps, or
accepted and re-encoded into a clean JPEG; never a 5xx. Afterwards the app still answers, a
normal photo still goes through, and the bucket holds nothing but the accepted evidence.
"""

from __future__ import annotations

import io
from collections import Counter
from dataclasses import dataclass

import httpx
from PIL import Image
from sqlalchemy import select

from server.evidence.models import Evidence
from server.uploads.models import Upload
from tests.fixtures.seaweed import SeaweedServer
from tests.flows import Journey
from tests.images import jpeg
from tests.reliability.hostile_corpus import CORPUS, Hostile
from tests.uploads.helpers import (
    announce,
    body_for,
    finalize,
    inspecting,
    journey,
    scheduled,
    send,
    upload,
)

__all__ = ["inspecting", "journey", "scheduled"]


@dataclass(frozen=True, slots=True)
class Result:
    name: str
    step: str  # announce | store | finalize
    status: int
    reason: str
    evidence_id: str | None = None


def _reason(response: httpx.Response) -> str:
    if response.headers.get("content-type", "").startswith("application/problem+json"):
        problem = response.json()
        return str(problem.get("reason") or problem.get("code"))
    return response.text[:60]


async def attempt(journey: Journey, hostile: Hostile) -> Result:
    data = hostile.build()
    announced = await announce(journey, journey.applicant, body_for(data, hostile.declared))
    if announced.status_code != 201:
        return Result(hostile.name, "announce", announced.status_code, _reason(announced))
    upload_id = announced.json()["id"]
    sent = await send(announced.json()["form"], data, hostile.declared)
    if sent.status_code != 204:
        done = await finalize(journey, journey.applicant, upload_id)
        assert done.status_code == 409, done.text  # nothing arrived, nothing to finalize
        return Result(hostile.name, "store", sent.status_code, "refused by the store")
    done = await finalize(journey, journey.applicant, upload_id)
    if done.status_code == 200:
        evidence_id = str(done.json()["evidence"]["id"])
        return Result(hostile.name, "finalize", 200, "re-encoded", evidence_id)
    return Result(hostile.name, "finalize", done.status_code, _reason(done))


async def bucket_keys(seaweed: SeaweedServer, bucket: str, case_id: str) -> set[str]:
    objects = seaweed.admin_client().list_objects(
        bucket, prefix=f"cases/{case_id}/", recursive=True
    )
    return {str(o.object_name) for o in objects}


def clean_jpeg(data: bytes) -> None:
    with Image.open(io.BytesIO(data)) as image:
        image.load()
        assert image.format == "JPEG"
        assert len(image.getexif()) == 0
        assert "exif" not in image.info
        assert not any("xmp" in k.lower() for k in image.info)
        assert max(image.size) <= 1600


async def test_every_hostile_file_is_refused_with_a_4xx_or_re_encoded(
    journey: Journey, seaweed: SeaweedServer
) -> None:
    assert len(CORPUS) >= 50
    results = [await attempt(journey, hostile) for hostile in CORPUS]

    table = "\n".join(f"  {r.name:32} {r.step:9} {r.status} {r.reason}" for r in results)
    steps = Counter(r.step if r.status >= 400 else "accepted" for r in results)
    print(f"\n#18 {len(results)} hostile files: {dict(steps)}\n{table}")
    assert [r for r in results if r.status >= 500] == []
    assert all(400 <= r.status < 500 or r.evidence_id for r in results)
    accepted = [r for r in results if r.evidence_id]
    store = journey.api.ctx.store
    async with journey.api.ctx.sessionmaker() as session:
        rows = list(
            await session.scalars(select(Evidence).where(Evidence.case_id == journey.case_id))
        )
        uploads = list(
            await session.scalars(select(Upload).where(Upload.case_id == journey.case_id))
        )
    ours = [r.id for r in rows if r.id not in journey.made]  # not the flow's failure photo
    assert sorted(ours) == sorted(str(r.evidence_id) for r in accepted)
    assert all(u.status in ("finalized", "rejected") or u.evidence_id is None for u in uploads)
    for row in rows:
        clean_jpeg(await store.get(str(row.object_key)))
    absurd = {str(r.evidence_id) for r in accepted if r.name.startswith("exif_latitude")}
    assert {r.id: r.lat for r in rows if r.id in absurd} == dict.fromkeys(absurd)  # no position
    kept = {str(r.object_key) for r in rows}
    kept |= {r.meta["preview_key"] for r in rows} | {r.meta["original_key"] for r in rows}
    assert await bucket_keys(seaweed, store.bucket, journey.case_id) == kept  # nothing half-stored

    health = await journey.api.client.get("/healthz")
    assert health.status_code == 200
    _, done = await upload(journey, journey.applicant, jpeg())
    assert done.status_code == 200, done.text  # the pipeline is still healthy
