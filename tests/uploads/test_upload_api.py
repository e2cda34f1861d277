"""Uploads through the app and a real SeaweedFS: presigned POST, finalize, refusals, retries."""

from __future__ import annotations

import asyncio
import hashlib
import secrets
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from server.audit.service import Actor
from server.auth.models import Role
from server.cases.models import Case
from server.cases.states import CaseAction
from server.cases.workflow import transition
from server.evidence.models import Evidence
from server.evidence.service import OFF_SITE_METRES, haversine_m
from server.storage import case_clip_key, case_photo_key
from server.uploads.models import Upload
from tests.fixtures.app import Api
from tests.flows import Journey, open_case, refresh, schedule, start_journey
from tests.uploads.test_images import HOSTILE, jpeg, png

PATH = "/api/v1/cases/{case_id}/uploads"


async def move(journey: Journey, *actions: CaseAction) -> None:
    """Apply workflow transitions the way the other domains' services do."""
    async with journey.api.ctx.sessionmaker() as session:
        case = await session.get(Case, journey.case_id)
        assert case is not None
        for action in actions:
            await transition(session, Actor.system("test"), case, action)
        await session.commit()
    await refresh(journey)


@pytest.fixture
async def scheduled(api: Api) -> Journey:
    """A scheduled case: nobody may upload yet."""
    journey = await start_journey(api)
    await schedule(journey)
    return journey


@pytest.fixture
async def inspecting(scheduled: Journey) -> Journey:
    """The lead started the inspection: the case's inspectors may upload on-site photos."""
    response = await scheduled.api.client.post(
        f"/api/v1/cases/{scheduled.case_id}/inspection/start",
        headers=scheduled.inspector_headers(0),
    )
    assert response.status_code == 200, response.text
    await refresh(scheduled)
    return scheduled


@pytest.fixture
async def journey(inspecting: Journey) -> Journey:
    """Rectification requested: the applicant may upload rectification photos and clips."""
    await move(inspecting, CaseAction.request_rectification)
    assert inspecting.case["state"] == "rectification_requested"
    return inspecting


def body_for(data: bytes, content_type: str = "image/jpeg", **changes: Any) -> dict[str, Any]:
    return {
        "idempotency_key": secrets.token_hex(8),
        "content_type": content_type,
        "size": len(data),
        "sha256": hashlib.sha256(data).hexdigest(),
        "item_ids": ["SH-01"],
        **changes,
    }


async def announce(
    journey: Journey, headers: dict[str, str], body: dict[str, Any]
) -> httpx.Response:
    return await journey.api.client.post(
        f"/api/v1/cases/{journey.case_id}/uploads", json=body, headers=headers
    )


async def send(form: dict[str, Any], data: bytes, content_type: str) -> httpx.Response:
    async with httpx.AsyncClient() as s3:
        return await s3.post(
            form["url"], data=form["fields"], files={"file": ("photo.bin", data, content_type)}
        )


async def finalize(journey: Journey, headers: dict[str, str], upload_id: str) -> httpx.Response:
    return await journey.api.client.post(
        f"/api/v1/cases/{journey.case_id}/uploads/{upload_id}/finalize", headers=headers
    )


async def upload(
    journey: Journey, headers: dict[str, str], data: bytes, content_type: str = "image/jpeg"
) -> tuple[str, httpx.Response]:
    """Announce, POST the bytes to the store, finalize: the phone's three steps."""
    announced = await announce(journey, headers, body_for(data, content_type))
    assert announced.status_code == 201, announced.text
    sent = await send(announced.json()["form"], data, content_type)
    assert sent.status_code == 204, sent.text
    upload_id = announced.json()["id"]
    return upload_id, await finalize(journey, headers, upload_id)


async def count(journey: Journey, model: Any) -> int:
    async with journey.api.ctx.sessionmaker() as session:
        query = select(func.count()).select_from(model).where(model.case_id == journey.case_id)
        return int(await session.scalar(query) or 0)


async def leftovers(journey: Journey, upload_id: str) -> list[str]:
    """Every object this upload could have produced that still exists."""
    async with journey.api.ctx.sessionmaker() as session:
        row = await session.get(Upload, upload_id)
    assert row is not None
    case_id, store = journey.case_id, journey.api.ctx.store
    keys = [
        row.object_key,
        case_photo_key(case_id, upload_id, "jpg"),
        case_photo_key(case_id, f"{upload_id}-thumb", "jpg"),
        case_photo_key(case_id, f"{upload_id}-poster", "jpg"),
        *(case_clip_key(case_id, upload_id, ext) for ext in ("mp4", "mov", "webm")),
    ]
    return [key for key in keys if await store.exists(key)]


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
    await move(journey, CaseAction.request_rectification)
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
    assert "'scheduled'" in problem["detail_en"]
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
    await move(journey, CaseAction.request_rectification)
    late = await announce(journey, journey.inspector_headers(0), body_for(png()))

    assert (early.status_code, early.json()["current"]) == (409, "in_progress")
    assert (late.status_code, late.json()["current"]) == (409, "rectification_requested")
    assert await count(journey, Upload) == 0


async def test_an_upload_announced_in_time_may_be_finished_late(inspecting: Journey) -> None:
    journey, data = inspecting, png()
    body = body_for(data, "image/png")
    announced = await announce(journey, journey.inspector_headers(0), body)
    await move(journey, CaseAction.request_rectification)  # the call ended meanwhile

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
    await move(journey, CaseAction.cancel)

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


# --- the phone's own position -----------------------------------------------------------------

SITE = (26.0878, 119.3036)  # the intake's site (tests/test_intake.py)
EXIF_GPS = (31.2304, 121.4737)  # what jpeg(gps=True) carries
NEAR_SITE = (26.0881, 119.3040)  # ~50 m from the site


def fix(lat: float, lng: float, accuracy_m: float = 15.0, **changes: Any) -> dict[str, Any]:
    """The announcement's ``position``: a fix as the console's Geolocation call reports it."""
    taken = datetime.now(UTC) - timedelta(seconds=30)
    return {
        "latitude": lat,
        "longitude": lng,
        "accuracy_m": accuracy_m,
        "fixed_at": taken.isoformat(),
        **changes,
    }


async def upload_with(
    journey: Journey, headers: dict[str, str], data: bytes, body: dict[str, Any]
) -> httpx.Response:
    announced = await announce(journey, headers, body)
    assert announced.status_code == 201, announced.text
    sent = await send(announced.json()["form"], data, body["content_type"])
    assert sent.status_code == 204, sent.text
    return await finalize(journey, headers, announced.json()["id"])


async def stored_evidence(journey: Journey, evidence_id: str) -> Evidence:
    async with journey.api.ctx.sessionmaker() as session:
        row = await session.get(Evidence, evidence_id)
    assert row is not None
    return row


async def test_device_position_places_a_photo_without_exif_gps(inspecting: Journey) -> None:
    journey, data = inspecting, jpeg()
    body = body_for(data, position=fix(*NEAR_SITE))

    done = await upload_with(journey, journey.inspector_headers(0), data, body)

    assert done.status_code == 200, done.text
    evidence = done.json()["evidence"]
    assert (evidence["lat"], evidence["lng"], evidence["accuracy_m"]) == (*NEAR_SITE, 15.0)
    assert evidence["position_source"] == "device"
    assert evidence["distance_m"] == pytest.approx(haversine_m(*NEAR_SITE, *SITE), abs=0.01)
    assert evidence["distance_m"] < 100
    assert evidence["off_site"] is False
    row = await stored_evidence(journey, evidence["id"])
    assert row.meta["position_source"] == "device"
    assert row.meta["device_position"]["fixed_at"] == body["position"]["fixed_at"]


async def test_device_position_far_from_the_site_is_flagged_off_site(inspecting: Journey) -> None:
    journey, data = inspecting, png()
    body = body_for(data, "image/png", position=fix(*EXIF_GPS, accuracy_m=30))

    done = await upload_with(journey, journey.inspector_headers(1), data, body)

    assert done.status_code == 200, done.text
    evidence = done.json()["evidence"]
    assert evidence["position_source"] == "device"
    assert evidence["distance_m"] == pytest.approx(haversine_m(*EXIF_GPS, *SITE), abs=0.01)
    assert evidence["distance_m"] - 30 > OFF_SITE_METRES
    assert evidence["off_site"] is True


async def test_coarse_device_fix_near_enough_is_not_flagged(inspecting: Journey) -> None:
    journey, data = inspecting, png()
    near = (SITE[0] + 0.003, SITE[1])  # ~330 m north: beyond 200 m, within its 500 m accuracy

    body = body_for(data, "image/png", position=fix(*near, accuracy_m=500))
    done = await upload_with(journey, journey.inspector_headers(0), data, body)

    assert done.status_code == 200, done.text
    assert done.json()["evidence"]["distance_m"] > OFF_SITE_METRES
    assert done.json()["evidence"]["off_site"] is False  # the same rule as for EXIF GPS


async def test_exif_gps_wins_over_the_device_position(journey: Journey) -> None:
    data = jpeg(gps=True)
    body = body_for(data, position=fix(*NEAR_SITE))

    done = await upload_with(journey, journey.applicant, data, body)

    assert done.status_code == 200, done.text
    evidence = done.json()["evidence"]
    assert evidence["lat"] == pytest.approx(EXIF_GPS[0], abs=1e-4)
    assert evidence["lng"] == pytest.approx(EXIF_GPS[1], abs=1e-4)
    assert evidence["position_source"] == "exif"
    assert evidence["off_site"] is True  # Shanghai, not the Fuzhou site
    row = await stored_evidence(journey, evidence["id"])
    assert row.meta["device_position"]["lat"] == NEAR_SITE[0]  # kept to compare the two


async def test_photo_without_any_position_has_no_source(inspecting: Journey) -> None:
    journey, data = inspecting, jpeg()

    done = await upload_with(journey, journey.inspector_headers(0), data, body_for(data))

    assert done.status_code == 200, done.text
    assert done.json()["evidence"]["lat"] is None
    assert done.json()["evidence"]["position_source"] is None


def _hours(hours: float) -> str:
    return (datetime.now(UTC) + timedelta(hours=hours)).isoformat()


@pytest.mark.parametrize(
    ("position", "field"),
    [
        pytest.param(fix(91, 119.3), "position.latitude", id="latitude_over_90"),
        pytest.param(fix(26.1, -180.5), "position.longitude", id="longitude_under_-180"),
        pytest.param(fix(26.1, 119.3, accuracy_m=0), "position.accuracy_m", id="zero_accuracy"),
        pytest.param(fix(26.1, 119.3, accuracy_m=-5), "position.accuracy_m", id="negative"),
        pytest.param(fix(26.1, 119.3, accuracy_m=80_000), "position.accuracy_m", id="a_city"),
        pytest.param(
            fix(26.1, 119.3, fixed_at="9999-12-31T10:00:00"), "position.fixed_at", id="y9999"
        ),
        pytest.param(fix(26.1, 119.3, fixed_at="yesterday"), "position.fixed_at", id="not_a_time"),
        pytest.param({"latitude": 26.1, "longitude": 119.3}, "position.accuracy_m", id="partial"),
        pytest.param(fix(26.1, 119.3, altitude=12), "position.altitude", id="unknown_field"),
    ],
)
async def test_out_of_range_position_is_refused_and_changes_nothing(
    inspecting: Journey, position: dict[str, Any], field: str
) -> None:
    body = body_for(jpeg(), position=position)

    response = await announce(inspecting, inspecting.inspector_headers(0), body)

    assert response.status_code == 422, response.text
    problem = response.json()
    assert problem["code"] == "bad_input"
    assert field in problem["detail_en"]
    assert field in problem["detail"]
    assert await count(inspecting, Upload) == 0


@pytest.mark.parametrize(
    ("position", "zh", "en"),
    [
        pytest.param(fix(0, 0), "(0, 0)", "placeholder", id="null_island"),
        pytest.param(
            fix(26.1, 119.3, fixed_at=_hours(2)), "晚于服务器当前时间", "later", id="future"
        ),
        pytest.param(
            fix(26.1, 119.3, fixed_at=_hours(-24 * 400)), "早于案件登记时间", "before", id="past"
        ),
    ],
)
async def test_impossible_position_is_refused_with_its_reason(
    inspecting: Journey, position: dict[str, Any], zh: str, en: str
) -> None:
    body = body_for(jpeg(), position=position)

    response = await announce(inspecting, inspecting.inspector_headers(0), body)

    assert response.status_code == 422, response.text
    problem = response.json()
    assert (problem["reason"], problem["field"]) == ("bad_position", "position")
    assert zh in problem["detail"]
    assert en in problem["detail_en"]
    assert await count(inspecting, Upload) == 0
    without = await announce(inspecting, inspecting.inspector_headers(0), body_for(jpeg()))
    assert without.status_code == 201, without.text  # the photo itself is welcome


async def test_replay_adds_the_fix_the_first_announcement_lacked(inspecting: Journey) -> None:
    journey, data = inspecting, jpeg()
    headers = journey.inspector_headers(0)
    body = body_for(data)
    first = await announce(journey, headers, body)
    replay = await announce(journey, headers, {**body, "position": fix(*NEAR_SITE)})
    other = await announce(journey, headers, {**body, "position": fix(*EXIF_GPS)})
    await send(replay.json()["form"], data, "image/jpeg")

    done = await finalize(journey, headers, first.json()["id"])

    assert (first.status_code, replay.status_code, other.status_code) == (201, 200, 200)
    assert done.status_code == 200, done.text
    evidence = done.json()["evidence"]
    assert (evidence["lat"], evidence["lng"]) == NEAR_SITE  # the first fix given stays
    assert evidence["position_source"] == "device"
    assert await count(journey, Upload) == 1


# --- when the photo was taken -----------------------------------------------------------------

BEIJING = timezone(timedelta(hours=8))
EXIF_TAKEN = datetime(2025, 5, 1, 2, 20, 30, tzinfo=UTC)  # jpeg()'s "2025:05:01 10:20:30", Beijing


async def registered_ago(journey: Journey, ago: timedelta) -> datetime:
    """Date the case's registration back (a case is inspected days after it was received)."""
    async with journey.api.ctx.sessionmaker() as session:
        case = await session.get(Case, journey.case_id)
        assert case is not None
        case.created_at = datetime.now(UTC) - ago
        await session.commit()
        return case.created_at


def when(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


@pytest.mark.parametrize("written", ["with_offset", "naive_is_beijing"])
async def test_device_time_dates_a_photo_without_exif_time(
    inspecting: Journey, written: str
) -> None:
    """Taken offline at 10:00, uploaded at 14:00: the evidence reads 10:00 (a time sent
    without an offset is Beijing time)."""
    journey, data = inspecting, jpeg(taken=None)
    await registered_ago(journey, timedelta(days=1))
    taken = (datetime.now(UTC) - timedelta(hours=4)).astimezone(BEIJING).replace(microsecond=0)
    sent = taken.isoformat() if written == "with_offset" else taken.replace(tzinfo=None).isoformat()
    body = body_for(data, captured_at=sent)  # the phone's local time

    done = await upload_with(journey, journey.inspector_headers(0), data, body)

    assert done.status_code == 200, done.text
    evidence = done.json()["evidence"]
    assert when(evidence["captured_at"]) == taken
    assert evidence["captured_at_source"] == "device"
    row = await stored_evidence(journey, evidence["id"])
    assert row.captured_at == taken  # what the opinion's photo appendix prints
    assert row.meta["captured_at_source"] == "device"
    assert when(row.meta["device_captured_at"]) == taken
    listed = await journey.api.client.get(
        f"/api/v1/cases/{journey.case_id}/evidence", headers=journey.inspector_headers(0)
    )
    assert [when(e["captured_at"]) for e in listed.json() if e["id"] == row.id] == [taken]


@pytest.mark.parametrize(
    ("offset", "exif_utc"),
    [
        pytest.param(None, EXIF_TAKEN, id="exif_without_offset_is_beijing"),
        pytest.param("+02:00", datetime(2025, 5, 1, 8, 20, 30, tzinfo=UTC), id="exif_offset"),
    ],
)
async def test_exif_time_wins_over_the_device_time(
    inspecting: Journey, offset: str | None, exif_utc: datetime
) -> None:
    journey, data = inspecting, jpeg(offset=offset)
    device = datetime.now(UTC) - timedelta(minutes=1)
    body = body_for(data, captured_at=device.isoformat())

    done = await upload_with(journey, journey.inspector_headers(0), data, body)

    assert done.status_code == 200, done.text
    evidence = done.json()["evidence"]
    assert when(evidence["captured_at"]) == exif_utc
    assert evidence["captured_at_source"] == "exif"
    row = await stored_evidence(journey, evidence["id"])
    assert when(row.meta["device_captured_at"]) == device  # kept to compare the two


async def test_photo_without_any_time_reads_the_server_clock(inspecting: Journey) -> None:
    journey, data = inspecting, png()
    before = datetime.now(UTC)

    done = await upload_with(
        journey, journey.inspector_headers(0), data, body_for(data, "image/png")
    )

    assert done.status_code == 200, done.text
    evidence = done.json()["evidence"]
    assert evidence["captured_at_source"] == "server"
    assert before <= when(evidence["captured_at"]) <= datetime.now(UTC)
    row = await stored_evidence(journey, evidence["id"])
    assert row.meta["device_captured_at"] is None


@pytest.mark.parametrize(
    ("captured_at", "problem"),
    [
        pytest.param(_hours(2), ("bad_captured_at", "晚于服务器当前时间", "later"), id="future"),
        pytest.param(
            _hours(-24 * 400), ("bad_captured_at", "早于案件登记时间", "registered"), id="past"
        ),
        pytest.param(
            "9999-12-31T10:00:00+08:00", ("bad_input", "captured_at", "captured_at"), id="y9999"
        ),
        pytest.param("0001-01-01", ("bad_input", "captured_at", "captured_at"), id="y0001"),
        pytest.param("yesterday", ("bad_input", "captured_at", "captured_at"), id="not_a_time"),
    ],
)
async def test_impossible_capture_time_is_refused_and_changes_nothing(
    inspecting: Journey, captured_at: Any, problem: tuple[str, str, str]
) -> None:
    journey, data = inspecting, jpeg(taken=None)
    headers = journey.inspector_headers(0)
    reason, zh, en = problem

    response = await announce(journey, headers, body_for(data, captured_at=captured_at))

    assert response.status_code == 422, response.text
    refused = response.json()
    assert refused.get("reason", refused["code"]) == reason
    if reason == "bad_captured_at":
        assert refused["field"] == "captured_at"
        assert "或不附带拍摄时间上传" in refused["detail"]  # what to do about it
    assert zh in refused["detail"]
    assert en in refused["detail_en"]
    assert await count(journey, Upload) == 0
    without = await announce(journey, headers, body_for(data))
    assert without.status_code == 201, without.text  # the photo itself is welcome


async def test_a_few_minutes_of_clock_drift_are_tolerated(inspecting: Journey) -> None:
    journey, data = inspecting, jpeg(taken=None)
    ahead = datetime.now(UTC) + timedelta(minutes=3)  # a phone clock running fast

    done = await upload_with(
        journey, journey.inspector_headers(0), data, body_for(data, captured_at=ahead.isoformat())
    )

    assert done.status_code == 200, done.text
    assert when(done.json()["evidence"]["captured_at"]) == ahead


async def test_replay_keeps_the_first_capture_time(inspecting: Journey) -> None:
    journey, data = inspecting, jpeg(taken=None)
    headers = journey.inspector_headers(0)
    first_time = datetime.now(UTC) - timedelta(minutes=2)
    body = body_for(data, captured_at=first_time.isoformat())
    first = await announce(journey, headers, body)
    later = await announce(journey, headers, {**body, "captured_at": datetime.now(UTC).isoformat()})
    without = await announce(
        journey, headers, {k: v for k, v in body.items() if k != "captured_at"}
    )
    wrong = await announce(journey, headers, {**body, "captured_at": _hours(3)})
    await send(first.json()["form"], data, "image/jpeg")

    done = await finalize(journey, headers, first.json()["id"])
    again = await announce(journey, headers, {**body, "captured_at": datetime.now(UTC).isoformat()})

    codes = (first.status_code, later.status_code, without.status_code, wrong.status_code)
    assert codes == (201, 200, 200, 422)
    assert wrong.json()["reason"] == "bad_captured_at"
    assert done.status_code == 200, done.text
    assert when(done.json()["evidence"]["captured_at"]) == first_time
    assert again.status_code == 200, again.text
    assert again.json()["evidence"]["id"] == done.json()["evidence"]["id"]
    assert when(again.json()["evidence"]["captured_at"]) == first_time
    assert await count(journey, Upload) == 1
    assert await count(journey, Evidence) == 1


async def test_replay_adds_the_capture_time_the_first_announcement_lacked(
    inspecting: Journey,
) -> None:
    journey, data = inspecting, jpeg(taken=None)
    headers = journey.inspector_headers(0)
    body = body_for(data)
    taken = datetime.now(UTC) - timedelta(minutes=1)
    first = await announce(journey, headers, body)
    replay = await announce(journey, headers, {**body, "captured_at": taken.isoformat()})
    await send(replay.json()["form"], data, "image/jpeg")

    done = await finalize(journey, headers, first.json()["id"])

    assert (first.status_code, replay.status_code) == (201, 200)
    assert done.status_code == 200, done.text
    assert when(done.json()["evidence"]["captured_at"]) == taken
    assert done.json()["evidence"]["captured_at_source"] == "device"


def make_clip(av: Any, seconds: float, location: str = "", fps: int = 2) -> bytes:
    import io

    import numpy as np

    out = io.BytesIO()
    with av.open(out, "w", format="mp4") as container:
        if location:
            container.metadata["location"] = location
        stream = container.add_stream("libx264", rate=fps)
        stream.width, stream.height, stream.pix_fmt = 160, 120, "yuv420p"
        for i in range(int(seconds * fps)):
            pixels = np.full((120, 160, 3), (i * 7) % 255, np.uint8)
            for packet in stream.encode(av.VideoFrame.from_ndarray(pixels, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return out.getvalue()
