"""When an uploaded photo was taken: EXIF time, the phone's clock, and the times refused."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

from server.cases.models import Case
from server.evidence.models import Evidence
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
    scheduled,
    send,
    stored_evidence,
    upload_with,
)

__all__ = ["inspecting", "scheduled"]  # fixtures (inspecting needs scheduled)


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


@pytest.mark.variants
@pytest.mark.parametrize(
    ("captured_at", "problem"),
    [
        pytest.param(
            hours_from_now(2), ("bad_captured_at", "晚于服务器当前时间", "later"), id="future"
        ),
        pytest.param(
            hours_from_now(-24 * 400),
            ("bad_captured_at", "早于案件登记时间", "registered"),
            id="past",
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
    wrong = await announce(journey, headers, {**body, "captured_at": hours_from_now(3)})
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
