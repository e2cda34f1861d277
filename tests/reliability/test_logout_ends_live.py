"""Reliability #23: logout, disabling, a role change or a revoked link end live calls ≤ 1 s.

Staff and the applicant are in a real call (uvicorn, WebSockets, aiortc peers, the app's own
media side); the change is made through the API, and the socket must be closed with 1008
within one second of the answer, the media must stop, and the token must be refused after.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from typing import Any

import pytest
from fastapi import FastAPI

from signaling.messages import CloseCode
from tests.evidence import Member, join, token
from tests.fixtures.app import Api
from tests.flows import Journey, schedule, start_journey
from tests.helpers import wait_until
from tests.media import Client, connect, loopback_ice  # noqa: F401
from tests.signaling.live_server import running

PROMISE = 1.0  # seconds from the API's answer to the closed socket (issue #13, 7)


@pytest.fixture
async def base(app: FastAPI) -> AsyncIterator[str]:
    async with running(app) as url:
        yield url


@pytest.fixture
async def journey(api: Api) -> Journey:
    journey = await start_journey(api)
    await schedule(journey)
    return journey


async def closed_within(member: Member, seconds: float = PROMISE) -> tuple[int, float]:
    """Bounded wait for the server to close ``member``: its close code and the time taken."""
    start = time.monotonic()
    await wait_until(
        lambda: member.ws.close_code is not None, within=seconds, interval=0.005, what="closed"
    )
    assert member.ws.close_code is not None
    return member.ws.close_code, time.monotonic() - start


async def still_open(member: Member) -> bool:
    await member.send(type="ping")
    start = len(member.messages)
    await member.wait("pong", start)
    return member.ws.close_code is None


def video_frames(client: Client) -> int:
    return next((len(r.frames) for r in client.received if r.kind == "video"), 0)


async def frames_stop(client: Client, within: float = 5.0) -> float:
    """Bounded wait until the server has closed its peer with ``client`` (DTLS close_notify:
    aiortc then closes the client's side, which takes no frame after), instead of a quiet
    spell; returns when the last video frame arrived (``time.monotonic()``)."""
    await wait_until(
        lambda: client.pc.connectionState == "closed", within=within, what="media stopped"
    )
    video = next(r for r in client.received if r.kind == "video")
    return video.frames[-1][0]


async def frames_flow(client: Client, within: float = 10.0) -> None:
    seen = video_frames(client)
    await wait_until(lambda: video_frames(client) >= seen + 10, within=within, what="media")


async def refused(api: Api, headers: dict[str, str]) -> None:
    me = await api.client.get("/api/v1/auth/me", headers=headers)
    assert me.status_code == 401, me.text


@pytest.mark.usefixtures("loopback_ice")
async def test_logout_ends_the_call_and_its_media(base: str, api: Api, journey: Journey) -> None:
    url = f"{base}/ws/cases/{journey.case_id}"
    lead_headers = journey.inspector_headers(0)
    phone = await join(url, token(journey.applicant))
    lead = await join(url, token(lead_headers))
    second = await join(url, token(journey.inspector_headers(1)))
    camera = await connect(phone.answer, role="applicant")
    views = [await connect(m.answer, role="inspector") for m in (lead, second)]
    try:
        await frames_flow(views[0])
        response = await api.client.post("/api/v1/auth/logout", headers=lead_headers)
        answered = time.monotonic()
        assert response.status_code == 204, response.text
        code, took = await closed_within(lead)
        assert code == CloseCode.policy
        print("figure", "logout_to_close_s", round(took, 4))
        last_frame = await frames_stop(views[0])  # the server left the lead's peer
        print("figure", "logout_to_last_frame_s", round(last_frame - answered, 4))
        await frames_flow(views[1])  # …while the others' call goes on
        assert await still_open(second)
        await refused(api, lead_headers)
    finally:
        for client in (camera, *views):
            await client.close()
        for member in (phone, lead, second):
            await member.close()


async def test_logout_ends_only_the_calls_of_that_login(
    base: str, api: Api, journey: Journey
) -> None:
    """The same inspector logged in twice: logging out one login leaves the other's call."""
    url = f"{base}/ws/cases/{journey.case_id}"
    lead_id = journey.case["inspector_ids"][0]
    username = next(s.username for s in journey.inspectors if s.id == lead_id)
    other_login = await api.login(username)
    lead = await join(url, token(other_login))
    try:
        response = await api.client.post(
            "/api/v1/auth/logout", headers=journey.inspector_headers(0)
        )
        assert response.status_code == 204, response.text
        assert await still_open(lead)
    finally:
        await lead.close()


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"active": False}, "disabled"),
        ({"role": "reviewer"}, "role_changed"),
        ({"password": "another correct horse"}, "password_changed"),
    ],
)
async def test_admin_change_ends_the_staff_members_call(
    base: str,
    api: Api,
    journey: Journey,
    change: dict[str, Any],
    reason: str,
) -> None:
    url = f"{base}/ws/cases/{journey.case_id}"
    lead_id = journey.case["inspector_ids"][0]
    lead_headers = journey.inspector_headers(0)
    lead = await join(url, token(lead_headers))
    second = await join(url, token(journey.inspector_headers(1)))
    try:
        response = await api.client.patch(
            f"/api/v1/staff/{lead_id}", json=change, headers=journey.admin
        )
        assert response.status_code == 200, response.text
        code, took = await closed_within(lead)
        assert code == CloseCode.policy, reason
        print("figure", f"{reason}_to_close_s", round(took, 4))
        left = await second.wait("participant_left")
        assert left["participant_id"] == lead_id
        assert await still_open(second)
        await refused(api, lead_headers)
    finally:
        for member in (lead, second):
            await member.close()


async def test_revoked_link_ends_the_applicants_call(base: str, api: Api, journey: Journey) -> None:
    url = f"{base}/ws/cases/{journey.case_id}"
    issued = await api.client.post(
        f"/api/v1/cases/{journey.case_id}/links", headers=journey.dispatcher
    )
    assert issued.status_code == 201, issued.text
    link = issued.json()
    phone = await join(url, link["token"])
    lead = await join(url, token(journey.inspector_headers(0)))
    try:
        response = await api.client.delete(
            f"/api/v1/cases/{journey.case_id}/links/{link['id']}", headers=journey.dispatcher
        )
        assert response.status_code == 204, response.text
        code, took = await closed_within(phone)
        assert code == CloseCode.policy
        print("figure", "link_revoked_to_close_s", round(took, 4))
        assert await still_open(lead)
        await refused(api, {"Authorization": f"Bearer {link['token']}"})
    finally:
        for member in (phone, lead):
            await member.close()
