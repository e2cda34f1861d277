"""Reliability #2: one client floods at 1,000 messages/s → throttled, then disconnected (1008);
a member of the same room and another room's call go on (a round trip, an offer/answer).

The limit is per connection (``server.platform.ratelimits.FloodGuard``: 20/s, burst 40; the
dropped messages fill a strike bucket that closes the socket). Figures are printed (pytest -s), not
asserted: how many messages got through, when the first ``rate_limited`` came, when it closed.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest
from fastapi import FastAPI
from websockets.asyncio.client import ClientConnection
from websockets.exceptions import ConnectionClosed

from signaling.messages import CloseCode
from tests.evidence import join, token
from tests.fixtures.app import Api
from tests.flows import Journey, open_case, schedule, start_journey
from tests.media import connect, loopback_ice  # noqa: F401
from tests.signaling.live_server import WAIT, joined, next_of, running, send

RATE = 1000.0  # messages per second the flooder tries to send
BATCH = 10  # sent back to back every BATCH / RATE seconds


@pytest.fixture
async def base(app: FastAPI) -> AsyncIterator[str]:
    async with running(app) as url:
        yield url


async def flood(ws: ClientConnection) -> dict[str, Any]:
    """Ping at ``RATE`` until the server closes; count what came back."""
    figures: dict[str, Any] = {"sent": 0, "pongs": 0, "rate_limited": 0}
    started = time.monotonic()

    async def read() -> None:
        with contextlib.suppress(ConnectionClosed):
            async for text in ws:
                kind = json.loads(text)
                if kind["type"] == "pong":
                    figures["pongs"] += 1
                elif kind.get("code") == "rate_limited":
                    figures["rate_limited"] += 1
                    figures.setdefault("first_rate_limited_after_sent", figures["sent"])

    reader = asyncio.create_task(read())
    try:
        while time.monotonic() - started < WAIT:
            for _ in range(BATCH):
                await ws.send('{"type":"ping"}')
                figures["sent"] += 1
            await asyncio.sleep(BATCH / RATE)
    except ConnectionClosed:
        pass
    await asyncio.wait_for(reader, WAIT)
    figures["closed_after_s"] = round(time.monotonic() - started, 3)
    figures["close_code"] = ws.protocol.close_rcvd.code if ws.protocol.close_rcvd else None
    return figures


async def round_trip(ws: ClientConnection) -> float:
    sent = time.monotonic()
    await send(ws, type="ping")
    await next_of(ws, "pong")
    return time.monotonic() - sent


@pytest.mark.usefixtures("loopback_ice")
async def test_a_flooding_client_is_throttled_then_closed_and_others_go_on(
    app: FastAPI, base: str, api: Api
) -> None:
    journey = await start_journey(api)
    await schedule(journey)
    # the inspector pool is shared, so the second case may draw the first one's inspectors
    other = Journey(api, journey.dispatcher, journey.admin, journey.inspectors, journey.headers)
    await open_case(other, number="SQ-2")
    await schedule(other)
    url = f"{base}/ws/cases/{journey.case_id}"
    async with (
        joined(url, token(journey.applicant)) as (flooder, _),
        joined(url, token(journey.inspector_headers(0))) as (lead, _),
    ):
        figures = await flood(flooder)
        assert figures["close_code"] == CloseCode.policy, figures
        assert figures["rate_limited"] >= 1  # told to slow down before being closed
        assert figures["pongs"] < figures["sent"]
        figures["same_room_round_trip_s"] = round(await round_trip(lead), 4)
    phone = await join(f"{base}/ws/cases/{other.case_id}", token(other.applicant))
    try:
        started = time.monotonic()
        camera = await connect(phone.answer, role="applicant")  # offer → answer, real media
        figures["other_room_offer_answer_s"] = round(time.monotonic() - started, 3)
        await camera.close()
    finally:
        await phone.close()
    burst = app.state.settings.ws_message_burst
    after_burst = figures["pongs"] - burst  # what the 20/s refill let through
    figures["admitted_after_burst_per_s"] = round(after_burst / figures["closed_after_s"], 1)
    print("signaling flood:", json.dumps(figures))
