"""The live room wired to the real app: real tokens, real case facts, real persistence."""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import FastAPI
from pydantic import SecretStr
from sqlalchemy import select

from server.app import create_app
from server.appointments.models import Appointment
from server.audit.models import AuditRecord
from server.config import Settings
from server.context import AppContext
from server.live.wiring import install
from signaling.messages import CloseCode
from tests.fixtures.app import Api
from tests.flows import Journey, open_case, schedule, start_journey
from tests.signaling.fakes import FAKE_ANSWER_SDP, FakeMediaFactory
from tests.signaling.live_server import close_code, joined, next_of, refused, running, send


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
    return journey


async def joined_at(ctx: AppContext, case_id: str) -> object:
    async with ctx.sessionmaker() as session:
        return await session.scalar(
            select(Appointment.applicant_joined_at).where(Appointment.case_id == case_id)
        )


async def test_inspectors_and_applicant_join_with_their_tokens(
    base: str, journey: Journey, ctx: AppContext
) -> None:
    url = f"{base}/ws/cases/{journey.case_id}"
    assert await joined_at(ctx, journey.case_id) is None
    async with (
        joined(url, token(journey.inspector_headers(0))) as (lead, _),
        joined(url, token(journey.inspector_headers(1))) as (_, second),
        joined(url, token(journey.applicant)) as (phone, replay),
    ):
        assert second["kind"] == "inspector"
        assert replay["kind"] == "applicant"
        kinds = sorted(p["kind"] for p in replay["participants"])
        assert kinds == ["applicant", "inspector", "inspector"]
        await send(phone, type="offer", sdp="v=0\r\n")
        assert (await next_of(phone, "answer"))["sdp"] == FAKE_ANSWER_SDP
        await send(phone, type="current_item", item_id="A1")
        assert (await next_of(phone, "error"))["code"] == "forbidden"
        await next_of(lead, "participant_joined")
    # the no-show rule stops: the appointment records the applicant's arrival
    assert await joined_at(ctx, journey.case_id) is not None
    async with ctx.sessionmaker() as session:
        actions = list(
            await session.scalars(
                select(AuditRecord.action).where(AuditRecord.case_id == journey.case_id)
            )
        )
    assert actions.count("live.join") == 3


async def test_unassigned_inspector_is_refused(base: str, journey: Journey) -> None:
    outsider = next(s for s in journey.inspectors if s.id not in journey.case["inspector_ids"])
    async with refused(
        f"{base}/ws/cases/{journey.case_id}", token(journey.headers[outsider.id])
    ) as code:
        assert code == CloseCode.policy


async def test_another_cases_applicant_is_refused(base: str, journey: Journey, api: Api) -> None:
    other = Journey(api, journey.dispatcher, journey.admin)
    await open_case(other, number="SQ-2")
    async with refused(f"{base}/ws/cases/{journey.case_id}", token(other.applicant)) as code:
        assert code == CloseCode.policy


async def test_received_case_is_not_joinable(base: str, api: Api) -> None:
    journey = await start_journey(api)
    await open_case(journey)
    async with refused(f"{base}/ws/cases/{journey.case_id}", token(journey.applicant)) as code:
        assert code == CloseCode.not_joinable


async def test_forged_token_is_refused(base: str, journey: Journey) -> None:
    async with refused(f"{base}/ws/cases/{journey.case_id}", "ci_s_forged") as code:
        assert code == CloseCode.bad_token


async def test_join_reply_carries_time_limited_turn_credentials(
    base: str, journey: Journey, ctx: AppContext
) -> None:
    secret = "coturn-shared-secret"
    ctx.settings = ctx.settings.model_copy(
        update={
            "stun_urls": ["stun:turn.example.gov.cn:3478"],
            "turn_urls": ["turn:turn.example.gov.cn:3478?transport=udp"],
            "turn_secret": SecretStr(secret),
            "turn_ttl_seconds": 600,
        }
    )
    url = f"{base}/ws/cases/{journey.case_id}"
    async with joined(url, token(journey.applicant)) as (_, replay):
        stun, turn = replay["ice_servers"]
    assert stun == {"urls": ["stun:turn.example.gov.cn:3478"]}
    expiry, user = turn["username"].split(":", 1)
    assert user == replay["participant_id"]
    assert 0 < int(expiry) - time.time() <= 600
    expected = hmac.new(secret.encode(), turn["username"].encode(), hashlib.sha1).digest()
    assert base64.b64decode(turn["credential"]) == expected


async def test_the_signaling_rate_limit_comes_from_the_settings(settings: Settings) -> None:
    tight = settings.model_copy(update={"ws_message_burst": 3, "ws_flood_strikes": 2})
    app = create_app(tight)
    async with app.router.lifespan_context(app), running(app) as url:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            journey = await start_journey(Api(client, app.state.ctx))
            await schedule(journey)
        async with joined(f"{url}/ws/cases/{journey.case_id}", token(journey.applicant)) as (
            ws,
            _,
        ):
            for _ in range(10):  # a burst of 3 (the join took one): throttled, then closed
                await send(ws, type="ping")
            assert (await next_of(ws, "error"))["code"] == "rate_limited"
            assert await close_code(ws) == CloseCode.policy
