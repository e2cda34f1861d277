"""Uploads through the app and a real SeaweedFS: presigned POST, finalize, refusals, retries."""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Callable

import pytest

from server.auth.models import Role
from server.evidence.models import Evidence
from server.platform.storage import case_clip_key, case_photo_key
from server.uploads.models import Upload
from tests.fixtures.app import Api
from tests.flows import Journey, cancel, open_case, request_rectification, start_journey
from tests.images import HOSTILE, jpeg, png
from tests.uploads.helpers import (
    announce,
    body_for,
    count,
    finalize,
    inspecting,
    journey,
    leftovers,
    make_clip,
    scheduled,
    send,
    upload,
)

__all__ = ["inspecting", "journey", "scheduled"]


async def test_photo_upload_records_evidence_with_gps_and_clean_copies(journey: Journey) -> None:
    upload_id, done = await upload(journey, journey.applicant, jpeg((2400, 1800), gps=True))

    assert done.status_code == 200, done.text
    result = done.json()
    assert result["status"] == "finalized"
    assert result["purpose"] == "rectification"
    evidence = result["evidence"]
    assert evidence["kind"] == "photo"
    assert evidence["lat"] == pytest.approx(31.2304, abs=1e-4)
    assert evidence["lng"] == pytest.approx(121.4737, abs=1e-4)
    assert evidence["captured_at"].startswith("2025-05-01T02:20:30")
    store = journey.api.ctx.store
    display = await store.get(case_photo_key(journey.case_id, upload_id, "jpg"))
    assert hashlib.sha256(display).hexdigest() == evidence["sha256"]
    assert b"Exif" not in display[:200]
    async with journey.api.ctx.sessionmaker() as session:
        row = await session.get(Evidence, evidence["id"])
    assert row is not None
    assert row.meta["original_key"].startswith(f"cases/{journey.case_id}/sealed/")
    assert row.item_ids == ["SH-01"]
    assert await store.exists(row.meta["original_key"])  # kept, with its GPS, for staff only
    assert not await store.exists(row.meta["upload_key"])  # the form's key is emptied


async def test_inspector_uploads_an_onsite_photo(inspecting: Journey) -> None:
    journey = inspecting
    _, done = await upload(journey, journey.inspector_headers(1), png(), "image/png")

    assert done.status_code == 200, done.text
    assert done.json()["purpose"] == "onsite"
    assert done.json()["evidence"]["lat"] is None


@pytest.mark.variants
@pytest.mark.parametrize(
    ("builder", "declared", "reason"),
    [pytest.param(b, d, r, id=n) for n, b, d, r in HOSTILE if n != "oversize"],
)
async def test_hostile_file_is_refused_at_finalize_and_leaves_nothing(
    journey: Journey, builder: Callable[[], bytes], declared: str, reason: str
) -> None:
    upload_id, done = await upload(journey, journey.applicant, builder(), declared)

    assert done.status_code == 422, done.text
    assert done.json()["reason"] == reason
    assert done.json()["detail"]  # the Chinese message
    assert await count(journey, Evidence) == 0
    assert await leftovers(journey, upload_id) == []
    again = await finalize(journey, journey.applicant, upload_id)
    assert again.status_code == 422
    assert again.json()["reason"] == reason


async def test_oversize_photo_is_refused_before_any_form_is_signed(journey: Journey) -> None:
    body = body_for(b"x", size=15 * 1024 * 1024 + 1)

    response = await announce(journey, journey.applicant, body)

    assert response.status_code == 422
    assert response.json()["reason"] == "too_large"
    assert "15 MB" in response.json()["detail"]
    assert await count(journey, Upload) == 0


async def test_store_refuses_a_file_bigger_than_announced(journey: Journey) -> None:
    data = jpeg()
    announced = await announce(journey, journey.applicant, body_for(data))

    sent = await send(announced.json()["form"], data + b"\x00", "image/jpeg")

    assert sent.status_code in (400, 403)
    not_there = await finalize(journey, journey.applicant, announced.json()["id"])
    assert not_there.status_code == 409
    assert not_there.json()["reason"] == "not_uploaded"


async def test_sha256_mismatch_is_refused_and_deleted(journey: Journey) -> None:
    data = jpeg()
    flipped = bytearray(data)
    flipped[len(data) // 2] ^= 0xFF  # same size, one byte damaged in transit
    announced = await announce(journey, journey.applicant, body_for(data))
    await send(announced.json()["form"], bytes(flipped), "image/jpeg")

    done = await finalize(journey, journey.applicant, announced.json()["id"])

    assert done.status_code == 422, done.text
    assert done.json()["reason"] == "checksum_mismatch"
    assert await leftovers(journey, announced.json()["id"]) == []
    assert await count(journey, Evidence) == 0


async def test_same_key_three_times_is_one_upload_and_one_evidence(journey: Journey) -> None:
    data = jpeg()
    body = body_for(data)
    first = await announce(journey, journey.applicant, body)
    second = await announce(journey, journey.applicant, body)
    await send(second.json()["form"], data, "image/jpeg")
    done = await finalize(journey, journey.applicant, first.json()["id"])
    third = await announce(journey, journey.applicant, body)

    assert (first.status_code, second.status_code, third.status_code) == (201, 200, 200)
    assert first.json()["id"] == second.json()["id"] == third.json()["id"]
    assert third.json()["evidence"]["id"] == done.json()["evidence"]["id"]
    assert await count(journey, Upload) == 1
    assert await count(journey, Evidence) == 1


async def test_five_concurrent_retries_make_one_upload_and_one_evidence(journey: Journey) -> None:
    data = jpeg()
    body = body_for(data)
    announced = await asyncio.gather(
        *(announce(journey, journey.applicant, body) for _ in range(5))
    )
    assert {r.status_code for r in announced} <= {200, 201, 409}, [r.text for r in announced]
    winner = next(r for r in announced if r.status_code in (200, 201))
    await send(winner.json()["form"], data, "image/jpeg")

    finals = await asyncio.gather(
        *(finalize(journey, journey.applicant, winner.json()["id"]) for _ in range(5))
    )

    assert {r.status_code for r in finals} <= {200, 409}, [r.text for r in finals]
    evidence_ids = {r.json()["evidence"]["id"] for r in finals if r.status_code == 200}
    assert len(evidence_ids) == 1
    assert await count(journey, Upload) == 1
    assert await count(journey, Evidence) == 1


async def test_same_key_with_a_different_file_is_a_conflict(journey: Journey) -> None:
    body = body_for(jpeg())
    await announce(journey, journey.applicant, body)

    clash = await announce(journey, journey.applicant, {**body, "sha256": "0" * 64})

    assert clash.status_code == 409
    assert clash.json()["reason"] == "key_reused"


async def test_dispatcher_may_not_upload(journey: Journey) -> None:
    response = await announce(journey, journey.dispatcher, body_for(jpeg()))

    assert response.status_code == 403


async def test_applicant_may_not_claim_an_onsite_purpose(journey: Journey) -> None:
    response = await announce(journey, journey.applicant, body_for(jpeg(), purpose="onsite"))

    assert response.status_code == 403


async def test_inspector_may_not_upload_a_video(inspecting: Journey) -> None:
    journey = inspecting
    data = b"\x00\x00\x00\x18ftypisom" + b"\x00" * 100
    response = await announce(journey, journey.inspector_headers(0), body_for(data, "video/mp4"))

    assert response.status_code == 422
    assert response.json()["reason"] == "type_not_allowed"


async def test_foreign_case_is_not_found(journey: Journey, api: Api) -> None:
    other = await start_journey(api)
    await open_case(other, number="SQ-OTHER")  # its applicant link is foreign to our case

    response = await announce(journey, other.applicant, body_for(jpeg()))
    _, stranger = await api.staff_headers(Role.inspector)  # not on this case
    finalized = await finalize(journey, stranger, "no-such-upload")

    assert response.status_code == 404
    assert finalized.status_code == 404


async def test_someone_elses_upload_is_not_found(journey: Journey) -> None:
    announced = await announce(journey, journey.applicant, body_for(jpeg()))

    response = await finalize(journey, journey.inspector_headers(0), announced.json()["id"])

    assert response.status_code == 404


async def test_list_shows_only_the_callers_uploads(inspecting: Journey) -> None:
    journey = inspecting
    onsite = await announce(journey, journey.inspector_headers(0), body_for(png()))
    await request_rectification(journey)
    rectification = await announce(journey, journey.applicant, body_for(jpeg()))
    assert (onsite.status_code, rectification.status_code) == (201, 201)

    mine = await journey.api.client.get(
        f"/api/v1/cases/{journey.case_id}/uploads", headers=journey.applicant
    )

    assert mine.status_code == 200
    assert [u["purpose"] for u in mine.json()] == ["rectification"]


async def test_applicant_may_not_upload_on_a_scheduled_case(scheduled: Journey) -> None:
    response = await announce(scheduled, scheduled.applicant, body_for(jpeg()))

    assert response.status_code == 409, response.text
    problem = response.json()
    assert problem["code"] == "invalid_state"
    assert problem["current"] == "scheduled"
    assert problem["required"] == "rectification_requested"
    assert "已预约" in problem["detail"]
    assert "inspection booked" in problem["detail_en"]  # in words, not the state's name
    assert "scheduled" not in problem["detail_en"]
    assert await count(scheduled, Upload) == 0


async def test_inspector_may_not_upload_on_a_scheduled_case(scheduled: Journey) -> None:
    response = await announce(scheduled, scheduled.inspector_headers(0), body_for(png()))

    assert response.status_code == 409, response.text
    assert response.json()["current"] == "scheduled"
    assert response.json()["required"] == "in_progress"
    assert await count(scheduled, Upload) == 0


async def test_each_side_uploads_only_in_its_own_state(inspecting: Journey) -> None:
    journey = inspecting
    early = await announce(journey, journey.applicant, body_for(jpeg()))
    await request_rectification(journey)
    late = await announce(journey, journey.inspector_headers(0), body_for(png()))

    assert (early.status_code, early.json()["current"]) == (409, "in_progress")
    assert (late.status_code, late.json()["current"]) == (409, "rectification_requested")
    assert await count(journey, Upload) == 0


async def test_an_upload_announced_in_time_may_be_finished_late(inspecting: Journey) -> None:
    journey, data = inspecting, png()
    body = body_for(data, "image/png")
    announced = await announce(journey, journey.inspector_headers(0), body)
    await request_rectification(journey)  # the call ended meanwhile

    again = await announce(journey, journey.inspector_headers(0), body)  # a fresh form
    await send(again.json()["form"], data, "image/png")
    done = await finalize(journey, journey.inspector_headers(0), announced.json()["id"])

    assert again.status_code == 200, again.text
    assert done.status_code == 200, done.text
    assert done.json()["status"] == "finalized"


async def test_cancelled_case_refuses_pending_but_replays_finalized(journey: Journey) -> None:
    data = jpeg()
    finished_id, finished = await upload(journey, journey.applicant, data)
    pending = await announce(journey, journey.applicant, body_for(jpeg((320, 240))))
    await cancel(journey)

    refused = await finalize(journey, journey.applicant, pending.json()["id"])
    replayed = await finalize(journey, journey.applicant, finished_id)

    assert refused.status_code == 409, refused.text
    assert refused.json()["current"] == "cancelled"
    assert "已撤销" in refused.json()["detail"]
    assert replayed.status_code == 200, replayed.text
    assert replayed.json()["evidence"]["id"] == finished.json()["evidence"]["id"]
    assert await count(journey, Evidence) == 1


async def test_short_clip_is_accepted_without_its_location(journey: Journey) -> None:
    av = pytest.importorskip("av")
    data = make_clip(av, seconds=2, location="+31.2304+121.4737/")

    upload_id, done = await upload(journey, journey.applicant, data, "video/mp4")

    assert done.status_code == 200, done.text
    assert done.json()["evidence"]["kind"] == "clip"
    assert done.json()["evidence"]["lat"] == pytest.approx(31.2304)
    served = await journey.api.ctx.store.get(case_clip_key(journey.case_id, upload_id, "mp4"))
    assert b"+31.2304" not in served


async def test_long_clip_is_refused_and_leaves_nothing(journey: Journey) -> None:
    av = pytest.importorskip("av")

    upload_id, done = await upload(journey, journey.applicant, make_clip(av, 40), "video/mp4")

    assert done.status_code == 422
    assert done.json()["reason"] == "too_long"
    assert await leftovers(journey, upload_id) == []
