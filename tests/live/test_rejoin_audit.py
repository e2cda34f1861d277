"""Rejoining replaces the older connection but never loses its audit record (issue #13, 5)."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator

import pytest
from fastapi import FastAPI
from sqlalchemy import func, select
from websockets.asyncio.client import ClientConnection, connect

from server.audit.models import AuditRecord
from server.context import AppContext
from server.live.wiring import install
from tests.fixtures.app import Api
from tests.flows import Journey, schedule, start_journey
from tests.helpers import wait_until
from tests.signaling.fakes import FakeMediaFactory
from tests.signaling.live_server import WAIT, next_of, running, send

REJOINS = 30


@pytest.fixture
async def base(app: FastAPI) -> AsyncIterator[str]:
    install(app, FakeMediaFactory())
    async with running(app) as url:
        yield url


async def count(ctx: AppContext, case_id: str, action: str) -> int:
    async with ctx.sessionmaker() as session:
        found = await session.scalar(
            select(func.count())
            .select_from(AuditRecord)
            .where(AuditRecord.case_id == case_id, AuditRecord.action == action)
        )
    return int(found or 0)


async def settled(ctx: AppContext, case_id: str, action: str, expected: int) -> int:
    """Bounded wait until at least ``expected`` records are there; how many there are then."""

    async def enough() -> bool:
        return await count(ctx, case_id, action) >= expected

    await wait_until(enough, within=WAIT, what=f"{expected} {action} records")
    return await count(ctx, case_id, action)


async def test_rapid_rejoins_keep_every_join_record(
    base: str, api: Api, ctx: AppContext, caplog: pytest.LogCaptureFixture
) -> None:
    journey: Journey = await start_journey(api)
    await schedule(journey)
    url = f"{base}/ws/cases/{journey.case_id}"
    token = journey.applicant["Authorization"].removeprefix("Bearer ")
    caplog.set_level(logging.INFO)
    async with contextlib.AsyncExitStack() as stack:
        sockets: list[ClientConnection] = []
        for _ in range(REJOINS):  # each join goes out before the previous one is answered
            ws = await stack.enter_async_context(connect(url))
            await send(ws, type="join", token=token)
            sockets.append(ws)
        for ws in sockets:  # every join is acknowledged; all but one are then replaced
            await next_of(ws, "joined")
    # the one connection left open has now closed: one leave, and no join lost on the way
    assert await settled(ctx, journey.case_id, "live.join", REJOINS) == REJOINS
    assert await settled(ctx, journey.case_id, "live.leave", 1) == 1
    cancelled = [r for r in caplog.records if "CancelledError" in (r.exc_text or "")]
    assert not cancelled, cancelled[0].exc_text
