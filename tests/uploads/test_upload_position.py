"""Where an uploaded photo was taken: EXIF GPS, the phone's own fix, and the fixes refused."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from server.evidence.service import OFF_SITE_METRES, haversine_m
from server.uploads.models import Upload
from tests.flows import Journey
from tests.images import jpeg, png
from tests.uploads.helpers import (
    announce,
    body_for,
    count,
    finalize,
    hours_from_now,
    inspecting,
    journey,
    scheduled,
    send,
    stored_evidence,
    upload_with,
)

__all__ = ["inspecting", "journey", "scheduled"]  # fixtures (inspecting needs scheduled)


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


@pytest.mark.variants
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


@pytest.mark.variants
@pytest.mark.parametrize(
    ("position", "zh", "en"),
    [
        pytest.param(fix(0, 0), "(0, 0)", "placeholder", id="null_island"),
        pytest.param(
            fix(26.1, 119.3, fixed_at=hours_from_now(2)), "晚于服务器当前时间", "later", id="future"
        ),
        pytest.param(
            fix(26.1, 119.3, fixed_at=hours_from_now(-24 * 400)),
            "早于案件登记时间",
            "before",
            id="past",
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
