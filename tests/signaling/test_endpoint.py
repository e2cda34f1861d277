"""The endpoint over real sockets (uvicorn + websockets) with stand-ins for the server side."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import AsyncIterator, Callable
from datetime import datetime
from functools import partial
from typing import Any

import pytest
from fastapi import FastAPI
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from server.platform.ratelimits import FloodGuard
from signaling.admission import AdmissionFactory
from signaling.endpoint import (
    AuthenticationFailed,
    SignalingDeps,
    Timing,
    make_router,
)
from signaling.messages import MAX_FRAME_BYTES, CloseCode
from signaling.registry import Registry
from signaling.room import Identity, ParticipantEntered, ParticipantExited, RoomEvent, RoomFacts
from tests.signaling.fakes import FAKE_ANSWER_SDP, FakeMediaFactory
from tests.signaling.live_server import close_code, joined, next_of, refused, running, send

IDENTITIES = {
    "tok-lead": Identity("i1", "inspector", "Lead"),
    "tok-second": Identity("i2", "inspector", "Second"),
    "tok-app": Identity("link1", "applicant", "Shop", case_id="case1"),
    "tok-app2": Identity("link2", "applicant", "Other shop", case_id="case2"),
    "tok-other": Identity("i9", "inspector", "Other"),
}
FACTS = {
    "case1": RoomFacts("case1", True, frozenset({"i1", "i2"}), frozenset({"link1"})),
    "case2": RoomFacts("case2", True, frozenset({"i9"}), frozenset({"link2"})),
    "case3": RoomFacts("case3", False, frozenset({"i1", "i2"})),
}


class Harness:
    def __init__(self, base: str, media: FakeMediaFactory, events: list[RoomEvent]) -> None:
        self.base, self.media, self.events = base, media, events

    def url(self, case_id: str = "case1") -> str:
        return f"{self.base}/ws/cases/{case_id}"


async def authenticate(token: str) -> Identity:
    try:
        return IDENTITIES[token]
    except KeyError:
        raise AuthenticationFailed from None


async def room_facts(case_id: str) -> RoomFacts | None:
    return FACTS.get(case_id)


Start = Callable[..., contextlib.AbstractAsyncContextManager[Harness]]


@pytest.fixture
def start() -> Start:
    @contextlib.asynccontextmanager
    async def start(
        timing: Timing | None = None, admission: AdmissionFactory = FloodGuard
    ) -> AsyncIterator[Harness]:
        events: list[RoomEvent] = []
        media = FakeMediaFactory()

        def on_event(event: RoomEvent, at: datetime) -> asyncio.Future[None]:
            events.append(event)
            stored: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            stored.set_result(None)
            return stored

        deps = SignalingDeps(
            authenticate=authenticate,
            room_facts=room_facts,
            on_event=on_event,
            registry=Registry(media),
            admission=admission,
            timing=timing or Timing(join_timeout=2, ping_interval=1, idle_timeout=30),
        )
        app = FastAPI()
        app.include_router(make_router(deps))
        async with running(app) as base:
            yield Harness(base, media, events)

    return start


@pytest.fixture
async def live(start: Start) -> AsyncIterator[Harness]:
    async with start() as harness:
        yield harness


async def test_participants_join_and_see_each_other(live: Harness) -> None:
    async with joined(live.url(), "tok-lead") as (lead, _):
        async with joined(live.url(), "tok-app") as (_, replay):
            assert {p["participant_id"] for p in replay["participants"]} == {"i1", "link1"}
            told = await next_of(lead, "participant_joined")
            assert told["participant"]["participant_id"] == "link1"
        left = await next_of(lead, "participant_left")
        assert left == {"type": "participant_left", "participant_id": "link1", "reason": "closed"}
    assert ParticipantEntered("case1", "link1", "applicant") in live.events
    assert ParticipantExited("case1", "link1", "applicant", "closed") in live.events


async def test_malformed_and_unknown_messages_get_errors_not_a_crash(live: Harness) -> None:
    async with joined(live.url(), "tok-lead") as (ws, _):
        await ws.send("{not json")
        assert (await next_of(ws, "error"))["code"] == "bad_json"
        await send(ws, type="teleport")
        assert (await next_of(ws, "error"))["code"] == "unknown_type"
        await send(ws, type="offer", sdp=42)
        assert (await next_of(ws, "error"))["code"] == "invalid"
        await ws.send(b"\x00\x01")
        assert (await next_of(ws, "error"))["code"] == "bad_json"
        await send(ws, type="ping")
        await next_of(ws, "pong")


async def test_messages_before_join_are_refused(live: Harness) -> None:
    async with connect(live.url()) as ws:
        await send(ws, type="offer", sdp="v=0")
        assert (await next_of(ws, "error"))["code"] == "not_joined"
        await send(ws, type="join", token="tok-lead")
        await next_of(ws, "joined")


async def test_oversized_frame_closes_1009(live: Harness) -> None:
    async with joined(live.url(), "tok-lead") as (ws, _):
        await send(ws, type="offer", sdp="x" * (MAX_FRAME_BYTES + 1))
        assert await close_code(ws) == CloseCode.too_big


async def test_bad_token_closes_4401(live: Harness) -> None:
    async with refused(live.url(), "tok-forged") as code:
        assert code == CloseCode.bad_token


@pytest.mark.parametrize(
    ("case_id", "token"),
    [("case2", "tok-lead"), ("case1", "tok-app2"), ("case1", "tok-other"), ("nope", "tok-lead")],
)
async def test_foreign_room_closes_1008(live: Harness, case_id: str, token: str) -> None:
    async with refused(live.url(case_id), token) as code:
        assert code == CloseCode.policy


async def test_case_not_joinable_closes_4003(live: Harness) -> None:
    async with refused(live.url("case3"), "tok-lead") as code:
        assert code == CloseCode.not_joinable


async def test_no_join_in_time_closes(start: Start) -> None:
    async with start(Timing(join_timeout=0.3, ping_interval=1, idle_timeout=30)) as live:
        async with connect(live.url()) as ws:
            assert await close_code(ws) == CloseCode.timeout


async def test_applicant_may_not_set_current_item(live: Harness) -> None:
    async with joined(live.url(), "tok-app") as (ws, _):
        await send(ws, type="current_item", item_id="A1")
        error = await next_of(ws, "error")
        assert (error["code"], error["about"]) == ("forbidden", "current_item")


async def test_current_item_reaches_everyone(live: Harness) -> None:
    async with (
        joined(live.url(), "tok-lead") as (lead, _),
        joined(live.url(), "tok-app") as (app, _),
    ):
        await send(lead, type="current_item", item_id="A1")
        for ws in (lead, app):
            changed = await next_of(ws, "current_item_changed")
            assert changed == {"type": "current_item_changed", "item_id": "A1", "by": "i1"}


async def test_rejoin_replaces_the_old_connection(live: Harness) -> None:
    async with joined(live.url(), "tok-lead"):
        async with joined(live.url(), "tok-app") as (old, _):
            await send(old, type="offer", sdp="v=0\r\n")
            await next_of(old, "answer")
            async with joined(live.url(), "tok-app") as (new, replay):
                assert await close_code(old) == CloseCode.replaced
                assert [p["participant_id"] for p in replay["participants"]].count("link1") == 1
                await send(new, type="ping")
                await next_of(new, "pong")
    assert ("leave", "link1") in live.media.sessions["case1"].calls


async def test_offer_is_answered_by_the_media_side(live: Harness) -> None:
    async with (
        joined(live.url(), "tok-lead") as (lead, _),
        joined(live.url(), "tok-app") as (app, _),
    ):
        await send(app, type="offer", sdp="v=0\r\n")
        assert (await next_of(app, "answer"))["sdp"] == FAKE_ANSWER_SDP
        await send(app, type="candidate", candidate="candidate:1 1 udp 1 127.0.0.1 9 typ host")
        await send(app, type="offer", sdp="garbage")
        assert (await next_of(app, "error"))["code"] == "media_error"
        await send(lead, type="snapshot_request", request_id="r1", item_id="A1")
        result = await next_of(lead, "snapshot_result")
        assert (result["ok"], result["request_id"], result["requested_by"]) == (True, "r1", "i1")
    calls = live.media.sessions["case1"].calls
    assert ("candidate", "link1") in calls


async def test_flood_is_throttled_then_closed_while_another_room_works(start: Start) -> None:
    async with start(admission=partial(FloodGuard, rate=20, burst=40, strikes=40)) as live:
        async with joined(live.url(), "tok-lead") as (flooder, _):
            sender = asyncio.create_task(_flood(flooder, 2000))
            assert (await next_of(flooder, "error"))["code"] == "rate_limited"
            assert await close_code(flooder) == CloseCode.policy
            await sender
        begun = time.monotonic()
        async with joined(live.url("case2"), "tok-app2") as (other, _):
            await send(other, type="offer", sdp="v=0\r\n")
            await next_of(other, "answer")
        assert time.monotonic() - begun < 10  # served, not starved (speed is for bench/)


async def _flood(ws: Any, count: int) -> None:
    frame = json.dumps({"type": "mute", "audio": True, "video": True})
    with contextlib.suppress(ConnectionClosed):
        for _ in range(count):
            await ws.send(frame)


async def test_silent_participant_is_dropped_and_others_told(start: Start) -> None:
    timing = Timing(join_timeout=2, ping_interval=0.2, idle_timeout=0.8)
    async with start(timing) as live:
        async with joined(live.url(), "tok-lead") as (lead, _):
            async with connect(live.url()) as silent:
                await send(silent, type="join", token="tok-app")
                begun = time.monotonic()  # from now on the applicant says nothing
                left = await next_of(lead, "participant_left")
                assert (left["participant_id"], left["reason"]) == ("link1", "timeout")
                assert time.monotonic() - begun < timing.idle_timeout + 5
                assert await close_code(silent) == CloseCode.timeout
            # the lead answered pings all along and is still there
            await send(lead, type="ping")
            await next_of(lead, "pong")
    assert ParticipantExited("case1", "link1", "applicant", "timeout") in live.events


async def test_recording_starts_only_when_an_inspector_joins_the_applicant(live: Harness) -> None:
    async with joined(live.url(), "tok-app") as (app, replay):
        assert replay["recording"] is False
        await send(app, type="offer", sdp="v=0\r\n")
        await next_of(app, "answer")  # the media side exists and records nothing yet
        assert live.media.sessions["case1"].recording == []
        async with joined(live.url(), "tok-lead") as (_, lead_replay):
            assert lead_replay["recording"] is True
            assert (await next_of(app, "recording"))["on"] is True
        assert (await next_of(app, "recording"))["on"] is False
    assert live.media.sessions["case1"].recording == [True, False]


async def test_point_reaches_the_applicant_and_bad_points_get_clear_errors(live: Harness) -> None:
    async with (
        joined(live.url(), "tok-lead") as (lead, _),
        joined(live.url(), "tok-app") as (app, _),
    ):
        await send(app, type="point", x=0.5, y=0.5)
        error = await next_of(app, "error")
        assert (error["code"], error["about"]) == ("forbidden", "point")
        assert "您的身份" in error["message_zh"]
        assert error["message_en"]
        await send(lead, type="point", x=1.2, y=0.5)
        error = await next_of(lead, "error")
        assert error["code"] == "invalid"
        assert "x" in error["detail"]
        await lead.send('{"type": "point", "x": 0.5, ')
        assert (await next_of(lead, "error"))["code"] == "bad_json"
        await send(lead, type="point", x=0.25, y=0.75)
        pointed = await next_of(app, "point")
        assert pointed == {"type": "point", "x": 0.25, "y": 0.75, "by": "i1"}
