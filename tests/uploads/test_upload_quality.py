"""A photo is measured as it is uploaded: blurred, too dark or overexposed comes back flagged,
with the reason in words, and its taker keeps it or sets it aside to retake, which is recorded
beside the photo, never as a change to it."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from server.audit.models import AuditRecord
from server.evidence.models import Evidence
from tests.flows import Journey, decide_on_photo, photo, upload_photo
from tests.images import blurred, darkened, encoded, overexposed, scene
from tests.uploads.helpers import inspecting, journey, scheduled

__all__ = ["inspecting", "journey", "scheduled"]

ITEM = "SH-02"  # the item request_rectification asks to put right
BAD = {
    "blurred": (lambda: encoded(blurred(scene(11), 3.0)), "照片模糊，请保持手机稳定后重拍"),
    "too_dark": (lambda: encoded(darkened(scene(12), 0.2)), "照片太暗"),
    "overexposed": (lambda: encoded(overexposed(scene(13), 2.5)), "照片过曝"),
}


async def staff_evidence(journey: Journey, evidence_id: str) -> dict[str, Any]:
    listed = await journey.api.client.get(
        f"/api/v1/cases/{journey.case_id}/evidence?kind=photo",
        headers=journey.inspector_headers(0),
    )
    assert listed.status_code == 200, listed.text
    found: dict[str, Any] = next(e for e in listed.json() if e["id"] == evidence_id)
    return found


@pytest.mark.parametrize("flag", list(BAD))
async def test_a_bad_photo_is_flagged_at_upload_with_the_reason(
    journey: Journey, flag: str
) -> None:
    make, words = BAD[flag]
    done = await upload_photo(journey.api, journey.case_id, journey.applicant, [ITEM], make())

    assert done.status_code == 200, done.text
    quality = done.json()["evidence"]["quality"]
    assert quality["flagged"] is True
    assert [i["flag"] for i in quality["issues"]] == [flag]
    assert quality["issues"][0]["message_zh"].startswith(words)
    assert quality["issues"][0]["message_en"]
    assert quality["decision"] is None
    listed = await staff_evidence(journey, done.json()["evidence"]["id"])
    assert listed["quality"]["issues"] == quality["issues"]  # the inspectors see the same


async def test_a_sharp_photo_is_not_flagged(journey: Journey) -> None:
    done = await upload_photo(
        journey.api, journey.case_id, journey.applicant, [ITEM], encoded(scene(14))
    )

    quality = done.json()["evidence"]["quality"]
    assert (quality["flagged"], quality["issues"]) == (False, [])
    assert quality["sharpness"] > 0


async def test_keeping_a_flagged_photo_is_a_decision_not_an_edit(journey: Journey) -> None:
    evidence_id = await photo(journey, journey.applicant, ITEM, BAD["blurred"][0]())
    async with journey.api.ctx.sessionmaker() as session:
        before = await session.get(Evidence, evidence_id)
    assert before is not None

    kept = await decide_on_photo(journey, journey.applicant, evidence_id, "keep")
    again = await decide_on_photo(journey, journey.applicant, evidence_id, "retake")

    assert kept.status_code == 200, kept.text
    assert kept.json()["quality"]["decision"]["decision"] == "keep"
    assert again.status_code == 409
    assert again.json()["decision"] == "keep"
    listed = await staff_evidence(journey, evidence_id)
    assert listed["quality"]["decision"]["decision"] == "keep"
    assert (listed["sha256"], listed["audit_seq"]) == (before.sha256, before.audit_seq)
    async with journey.api.ctx.sessionmaker() as session:
        records = list(
            await session.scalars(
                select(AuditRecord).where(AuditRecord.action == "evidence.quality_decision")
            )
        )
    assert [r.detail["evidence_id"] for r in records] == [evidence_id]
    assert records[0].detail["flags"] == ["blurred"]


async def test_only_a_flagged_photo_takes_a_decision(journey: Journey) -> None:
    evidence_id = await photo(journey, journey.applicant, ITEM)  # sharp

    refused = await decide_on_photo(journey, journey.applicant, evidence_id, "keep")
    unknown = await decide_on_photo(journey, journey.applicant, evidence_id, "delete")

    assert refused.status_code == 422
    assert "没有被标记" in refused.json()["detail"]
    assert unknown.status_code == 422


async def test_the_applicant_decides_only_on_their_own_photos(inspecting: Journey) -> None:
    lead = inspecting.inspector_headers(0)
    staff_photo = await photo(inspecting, lead, ITEM, BAD["too_dark"][0]())

    refused = await decide_on_photo(inspecting, inspecting.applicant, staff_photo, "retake")
    by_staff = await decide_on_photo(inspecting, lead, staff_photo, "keep")

    assert refused.status_code == 403
    assert by_staff.status_code == 200, by_staff.text


async def test_a_photo_set_aside_to_retake_is_left_out_of_the_round(journey: Journey) -> None:
    dark = await photo(journey, journey.applicant, ITEM, BAD["too_dark"][0]())
    assert (await decide_on_photo(journey, journey.applicant, dark, "retake")).status_code == 200
    submit = f"/api/v1/cases/{journey.case_id}/rectification/submit"

    missing = await journey.api.client.post(submit, headers=journey.applicant)
    retaken = await photo(journey, journey.applicant, ITEM)
    submitted = await journey.api.client.post(submit, headers=journey.applicant)

    assert missing.status_code == 422
    assert missing.json()["missing"] == [ITEM]
    assert submitted.status_code == 200, submitted.text
    (item,) = [i for i in submitted.json()["items"] if i["item_id"] == ITEM]
    assert item["photo_evidence_ids"] == [retaken]


async def test_a_fake_photo_is_still_refused_and_not_measured(journey: Journey) -> None:
    fake = b"\xff\xd8\xff\xe0\x00\x10JFIF" + b"\x13" * 500

    done = await upload_photo(journey.api, journey.case_id, journey.applicant, [ITEM], fake)

    assert done.status_code == 422
    assert done.json()["reason"] == "truncated"
    assert "quality" not in done.json()
