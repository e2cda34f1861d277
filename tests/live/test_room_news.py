"""Stored news pushed through the real app's live room: a verdict reaches the other console,
a rectification request reaches the phone at once, and ends the call for all when asked."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

import pytest
from fastapi import FastAPI
from websockets.asyncio.client import ClientConnection

from server.live.wiring import install
from signaling.messages import CloseCode
from tests.fixtures.app import Api
from tests.flows import Journey, schedule, start_journey
from tests.rectification.steps import FIXABLE, mark_both, request, request_body
from tests.signaling.fakes import FakeMediaFactory
from tests.signaling.live_server import close_code, joined, next_of, running, send

ITEM = "SH-03"


def token(headers: dict[str, str]) -> str:
    return headers["Authorization"].removeprefix("Bearer ")


@pytest.fixture
async def base(app: FastAPI) -> AsyncIterator[str]:
    install(app, FakeMediaFactory())
    async with running(app) as url:
        yield url


@pytest.fixture
async def journey(api: Api) -> Journey:
    journey = await start_journey(api)
    await schedule(journey)
    started = await api.client.post(
        f"/api/v1/cases/{journey.case_id}/inspection/start", headers=journey.inspector_headers(0)
    )
    assert started.status_code == 200, started.text
    return journey


# Not news: the server's ping, and the recording state the room announces as people join.
NOT_NEWS = {"ping", "recording"}


async def next_frame(ws: ClientConnection) -> dict[str, object]:
    """The next message that is not in ``NOT_NEWS``: nothing else may come before it."""
    while True:
        message = json.loads(await ws.recv())
        if message["type"] not in NOT_NEWS:
            return dict(message)


async def nothing_pending(ws: ClientConnection) -> None:
    """A ping's pong is the next message: nothing was queued for ``ws`` before it."""
    await send(ws, type="ping")
    assert (await next_frame(ws))["type"] == "pong"


async def put_verdict(journey: Journey, position: int, value: str) -> int:
    response = await journey.api.client.put(
        f"/api/v1/cases/{journey.case_id}/checklist/items/{ITEM}/verdict",
        json={"value": value, "note": "", "evidence_refs": []},
        headers=journey.inspector_headers(position),
    )
    return response.status_code


async def test_a_stored_verdict_reaches_both_consoles_but_not_the_phone(
    base: str, journey: Journey
) -> None:
    url = f"{base}/ws/cases/{journey.case_id}"
    lead_id = journey.case["inspector_ids"][0]
    async with (
        joined(url, token(journey.inspector_headers(0))) as (lead, _),
        joined(url, token(journey.inspector_headers(1))) as (second, _),
        joined(url, token(journey.applicant)) as (phone, _),
    ):
        await next_of(lead, "participant_joined")
        await next_of(lead, "participant_joined")
        await next_of(second, "participant_joined")
        assert await put_verdict(journey, 0, "pass") == 200
        pushed = {"type": "verdict_stored", "item_id": ITEM, "inspector_id": lead_id}
        assert await next_frame(second) == pushed | {"value": "pass"}
        assert await next_frame(lead) == pushed | {"value": "pass"}
        await nothing_pending(phone)


async def test_a_refused_verdict_pushes_nothing(base: str, journey: Journey) -> None:
    url = f"{base}/ws/cases/{journey.case_id}"
    async with (
        joined(url, token(journey.inspector_headers(0))) as (_, _),
        joined(url, token(journey.inspector_headers(1))) as (second, _),
    ):
        assert await put_verdict(journey, 0, "maybe") == 422
        await nothing_pending(second)


async def rectifiable(journey: Journey) -> None:
    await mark_both(journey, FIXABLE, "fail")
    for position in (0, 1):
        assert await put_verdict(journey, position, "pass") == 200


async def test_a_rectification_request_keeping_the_call_reaches_the_phone_at_once(
    base: str, journey: Journey
) -> None:
    url = f"{base}/ws/cases/{journey.case_id}"
    await rectifiable(journey)
    async with (
        joined(url, token(journey.inspector_headers(0))) as (lead, _),
        joined(url, token(journey.applicant)) as (phone, _),
    ):
        assert (await request(journey, FIXABLE)).status_code == 201
        told = await next_of(phone, "rectification_requested")
        assert told["items"] == [FIXABLE]
        assert told["call_ends"] is False
        assert (await next_of(lead, "rectification_requested"))["call_ends"] is False
        await nothing_pending(phone)  # still in the call: the room answers it


async def test_a_rectification_request_ending_the_call_tells_then_closes_everyone(
    base: str, journey: Journey
) -> None:
    url = f"{base}/ws/cases/{journey.case_id}"
    await rectifiable(journey)
    async with (
        joined(url, token(journey.inspector_headers(0))) as (lead, _),
        joined(url, token(journey.inspector_headers(1))) as (second, _),
        joined(url, token(journey.applicant)) as (phone, _),
    ):
        response = await journey.api.client.post(
            f"/api/v1/cases/{journey.case_id}/rectification",
            json=request_body(FIXABLE) | {"end_call": True},
            headers=journey.inspector_headers(0),
        )
        assert response.status_code == 201, response.text
        for ws in (phone, lead, second):
            told = await next_of(ws, "rectification_requested")
            assert told["call_ends"] is True
            assert await close_code(ws) == CloseCode.call_ended


async def test_a_refused_rectification_request_pushes_nothing(base: str, journey: Journey) -> None:
    url = f"{base}/ws/cases/{journey.case_id}"
    async with joined(url, token(journey.applicant)) as (phone, _):
        # nothing failed yet: the request is refused and the call goes on untouched
        assert (await request(journey, FIXABLE)).status_code in (409, 422)
        await nothing_pending(phone)
