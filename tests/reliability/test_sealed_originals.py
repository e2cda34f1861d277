"""Issue #13 defect 2: a finalized original can never be replaced by a form a client holds.

The phone's presigned POST form stays valid for 30 minutes. Posting it again after finalize
with other bytes of the same length must not change what the "original" link serves: either
the store refuses, or the bytes land where nothing reads them. When bytes behind a recorded
SHA-256 do change (an outsider writing to the bucket), the read is refused loudly and audited.
"""

from __future__ import annotations

import hashlib

from tests.fixtures.seaweed import SeaweedServer
from tests.flows import Journey
from tests.images import jpeg
from tests.reliability.tampering import (
    download,
    evidence_row,
    integrity_records,
    original_link,
    overwrite,
    same_length_other_bytes,
    uploaded,
)
from tests.uploads.helpers import inspecting, journey, scheduled, send

__all__ = ["inspecting", "journey", "scheduled"]


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
