"""The phone's full-screen call in Chromium (360×740 and landscape) with an inspector's real
console: waiting until an inspector joins, recording only with them (the server's recorder
too), and the inspector's "show me here" point at the same spot of the phone's picture."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator

import pytest
from fastapi import FastAPI
from playwright.async_api import Browser, BrowserContext, Page, expect

from tests.e2e.call import applicant_video, centre, picture
from tests.e2e.conftest import Shots, phone_context
from tests.e2e.desk import Desk, case_page, lead_and_second
from tests.e2e.phone import link_url
from tests.fixtures.app import Api
from tests.flows import Journey, schedule, start_journey
from tests.helpers import wait_until

pytestmark = pytest.mark.e2e

PLAYING = """(sel) => { const v = document.querySelector(sel);
  return v && v.readyState >= 2 && v.videoWidth > 0; }"""
WAITING = "等待踏勘人员加入"
CONNECTED = "已连线，请按踏勘人员的指示拍摄。"
TOLERANCE = 0.02  # of the picture's width or height
LANDSCAPE = {"width": 740, "height": 360}
ELAPSED = re.compile(r"^00:(0[1-9]|[1-5][0-9])$")


async def started_case(api: Api) -> Journey:
    journey = await start_journey(api)
    await schedule(journey)
    started = await api.client.post(
        f"/api/v1/cases/{journey.case_id}/inspection/start", headers=journey.inspector_headers(0)
    )
    assert started.status_code == 200, started.text
    return journey


@pytest.fixture
async def desk(browser: Browser, base_url: str) -> AsyncIterator[Desk]:
    desk = Desk(browser, base_url)
    yield desk
    await desk.close()
    assert not desk.errors, desk.errors


async def phone_page(context: BrowserContext, desk: Desk, base_url: str, journey: Journey) -> Page:
    """The applicant's page; its script errors fail the test with the consoles' (``desk``)."""
    phone = await context.new_page()
    phone.on("pageerror", lambda error: desk.errors.append(f"phone: {error}"))
    await phone.goto(link_url(base_url, journey))
    return phone


async def join_from_phone(
    context: BrowserContext, desk: Desk, base_url: str, journey: Journey
) -> Page:
    phone = await phone_page(context, desk, base_url, journey)
    await phone.locator("#join-call").click()
    await expect(phone.locator("#call-view")).to_be_visible()
    await phone.wait_for_function(PLAYING, arg="#call-preview")
    return phone


async def join_from_console(desk: Desk, journey: Journey) -> Page:
    lead_staff, _ = lead_and_second(journey)
    lead = await desk.login(lead_staff.username)
    await case_page(lead, journey.case_id)
    await lead.locator("#join-call").click()
    await lead.wait_for_function(PLAYING, arg="#call-video")
    return lead


async def fills_the_screen(phone: Page, width: int, height: int) -> None:
    box = await phone.locator("#call-view").bounding_box()
    assert box == {"x": 0, "y": 0, "width": width, "height": height}
    video = await phone.locator("#call-preview").bounding_box()
    assert video == box


async def point_and_see_the_marker(lead: Page, phone: Page, spot: tuple[float, float]) -> None:
    """The inspector clicks ``spot`` of the phone's picture (however the console fits it); the
    phone's marker sits on the same spot of its picture (cropped to fill the phone)."""
    shown, _ = await picture(lead, "#call-video")
    x, y = shown.at(*spot)
    video = await lead.locator("#call-video").bounding_box()
    assert video is not None
    assert video["x"] <= x <= video["x"] + video["width"]
    assert video["y"] <= y <= video["y"] + video["height"]
    await lead.mouse.click(x, y)
    marker = phone.locator("#point-marker")
    await expect(marker).to_be_visible()
    seen, fit = await picture(phone, "#call-preview")
    assert fit == "cover"
    x, y = seen.spot(*await centre(phone, "#point-marker"))
    assert abs(x - spot[0]) < TOLERANCE, (x, spot)
    assert abs(y - spot[1]) < TOLERANCE, (y, spot)


async def test_the_call_waits_then_records_with_an_inspector_and_shows_where_they_point(
    e2e_app: FastAPI, e2e_api: Api, base_url: str, browser: Browser, desk: Desk, shots: Shots
) -> None:
    journey = await started_case(e2e_api)
    context = await phone_context(browser)
    try:
        phone = await join_from_phone(context, desk, base_url, journey)
        await fills_the_screen(phone, 360, 740)
        await expect(phone.locator("#call-status")).to_have_text(WAITING)

        # The server receives the phone's picture and records none of it while it is alone.
        async def sending() -> bool:
            return (await applicant_video(e2e_app, journey.case_id))[0] >= 60

        await wait_until(sending, within=15, what="the phone's video reaching the server")
        assert (await applicant_video(e2e_app, journey.case_id))[1] == 0
        await expect(phone.locator("#call-recording")).to_be_hidden()
        await shots(phone, "waiting")

        lead = await join_from_console(desk, journey)
        await expect(phone.locator("#call-status")).to_have_text(CONNECTED)
        await expect(phone.locator("#call-recording")).to_contain_text("录像中")
        await expect(phone.locator("#call-elapsed")).to_have_text(ELAPSED)  # counting up
        lead_staff, _ = lead_and_second(journey)
        await expect(phone.locator("#call-people li[data-kind=inspector]")).to_contain_text(
            lead_staff.display_name
        )

        async def recording() -> bool:
            return (await applicant_video(e2e_app, journey.case_id))[1] > 0

        await wait_until(recording, within=15, what="the server recording the call")

        await point_and_see_the_marker(lead, phone, (0.55, 0.35))
        await shots(phone, "pointed")
        await expect(phone.locator("#point-marker")).to_be_hidden(timeout=6000)  # ~3 s

        await lead.locator("#leave-call").click()
        await expect(phone.locator("#call-recording")).to_be_hidden()
        await expect(phone.locator("#call-status")).to_have_text(WAITING)
        await phone.locator("#leave-call").click()
        await expect(phone.locator("#call-view")).to_be_hidden()
    finally:
        await context.close()


async def test_landscape_and_large_text_calls_point_at_the_same_spot(
    e2e_api: Api, base_url: str, browser: Browser, desk: Desk, shots: Shots
) -> None:
    journey = await started_case(e2e_api)
    context = await phone_context(browser, viewport=LANDSCAPE)
    try:
        phone = await phone_page(context, desk, base_url, journey)
        await phone.locator("#text-toggle").click()
        await expect(phone.locator("body")).to_have_class("large-text")
        await phone.locator("#join-call").click()
        await phone.wait_for_function(PLAYING, arg="#call-preview")
        await fills_the_screen(phone, LANDSCAPE["width"], LANDSCAPE["height"])
        size = await phone.locator("#call-status").evaluate(
            "(el) => parseFloat(getComputedStyle(el).fontSize)"
        )
        assert size >= 21 * 1.1  # large text reaches inside the call
        controls = await phone.locator("#leave-call").bounding_box()
        assert controls is not None
        assert controls["x"] > LANDSCAPE["width"] / 2  # the controls are in a column on the right
        assert controls["y"] + controls["height"] <= LANDSCAPE["height"]

        lead = await join_from_console(desk, journey)
        await expect(phone.locator("#call-recording")).to_be_visible()
        # a letterboxed picture in the console: the black bars are not part of the picture
        await lead.add_style_tag(
            content="#call-video { object-fit: contain !important; height: 45vh !important; }"
        )
        _, fit = await picture(lead, "#call-video")
        assert fit == "contain"
        await point_and_see_the_marker(lead, phone, (0.3, 0.6))
        await shots(phone, "landscape_pointed")
    finally:
        await context.close()
