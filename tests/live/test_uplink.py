"""The pre-call check's upload probe: only the case's own link, capped, paced, thrown away."""

from __future__ import annotations

from collections.abc import AsyncIterator

from server.live.uplink import MAX_PROBE_BYTES, PROBE_BURST
from tests.fixtures.app import Api
from tests.flows import Journey, open_case, start_journey

PROBE = b"\0" * (256 * 1024)


async def opened(api: Api) -> Journey:
    journey = await start_journey(api)
    await open_case(journey)
    return journey


def url(journey: Journey) -> str:
    return f"/api/v1/cases/{journey.case_id}/uplink-probe"


async def test_the_applicant_uploads_a_probe_that_is_counted_and_discarded(api: Api) -> None:
    journey = await opened(api)
    answer = await api.client.post(url(journey), content=PROBE, headers=journey.applicant)
    assert answer.status_code == 200, answer.text
    assert answer.json() == {"received_bytes": len(PROBE)}


async def test_without_a_link_or_with_another_role_nothing_is_read(api: Api) -> None:
    journey = await opened(api)
    anonymous = await api.client.post(url(journey), content=PROBE)
    assert anonymous.status_code == 401
    assert anonymous.json()["detail"]
    staff = await api.client.post(url(journey), content=PROBE, headers=journey.dispatcher)
    assert staff.status_code == 403
    assert staff.json()["detail_en"] == "Only the applicant may do this."


async def test_another_cases_link_is_refused(api: Api) -> None:
    journey = await opened(api)
    first_link = journey.applicant
    await open_case(journey, number="SQ-2")
    answer = await api.client.post(url(journey), content=PROBE, headers=first_link)
    assert answer.status_code in (403, 404), answer.text


async def test_an_oversized_probe_is_refused_in_words(api: Api) -> None:
    journey = await opened(api)
    big = b"\0" * (MAX_PROBE_BYTES + 1)
    declared = await api.client.post(url(journey), content=big, headers=journey.applicant)
    assert declared.status_code == 413
    body = declared.json()
    assert body["code"] == "too_large"
    assert "512 KB" in body["detail"]
    assert "512 KB" in body["detail_en"]

    async def chunks() -> AsyncIterator[bytes]:  # no Content-Length: counted as it arrives
        for _ in range(3):
            yield b"\0" * (MAX_PROBE_BYTES // 2)

    streamed = await api.client.post(url(journey), content=chunks(), headers=journey.applicant)
    assert streamed.status_code == 413
    assert streamed.json()["code"] == "too_large"


async def test_an_empty_probe_is_bad_input(api: Api) -> None:
    journey = await opened(api)
    answer = await api.client.post(url(journey), content=b"", headers=journey.applicant)
    assert answer.status_code == 422
    assert answer.json()["detail_en"] == "The speed-test upload is empty."


async def test_probes_faster_than_a_check_needs_are_refused(api: Api) -> None:
    journey = await opened(api)
    small = b"\0" * 1024
    for _ in range(PROBE_BURST):
        ok = await api.client.post(url(journey), content=small, headers=journey.applicant)
        assert ok.status_code == 200, ok.text
    refused = await api.client.post(url(journey), content=small, headers=journey.applicant)
    assert refused.status_code == 429
    assert int(refused.headers["Retry-After"]) > 0
    assert "稍候" in refused.json()["detail"]
