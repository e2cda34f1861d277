"""The applicant's phone page in a real Chromium at 360 px, against the real app."""

from __future__ import annotations

import pytest
from playwright.async_api import Browser, BrowserContext, expect

from tests.e2e.conftest import Shots, phone_context
from tests.e2e.phone import link_url, no_horizontal_scroll, offered_case
from tests.fixtures.app import Api
from tests.flows import schedule, start_journey
from tests.signaling.live_server import joined, send

pytestmark = pytest.mark.e2e


async def test_applicant_books_reads_guide_and_passes_check(
    e2e_api: Api, base_url: str, phone: BrowserContext, shots: Shots
) -> None:
    journey, slots = await offered_case(e2e_api)
    page = await phone.new_page()
    await page.goto(link_url(base_url, journey))

    await expect(page.locator("#case-number")).to_have_text(journey.case["number"])
    await expect(page.locator("#timeline li.current")).to_have_text("已分派踏勘人员")
    assert "#" not in page.url, "the token must leave the address bar"
    await no_horizontal_scroll(page)
    await shots(page, "opened")

    await expect(page.locator("#slots input[name=slot]")).to_have_count(len(slots))
    await page.locator("#slots label").first.click()
    await page.locator("#confirm-slot").click()
    await expect(page.locator("#appointment-message")).to_contain_text("预约成功")
    await expect(page.locator("#timeline li.current")).to_have_text("已预约时间")
    case = await e2e_api.client.get(f"/api/v1/cases/{journey.case_id}", headers=journey.dispatcher)
    assert case.json()["state"] == "scheduled"
    await shots(page, "booked")

    await page.locator("#open-guide").click()
    guide = page.frame_locator("#guide-frame")
    await expect(guide.locator("body")).not_to_be_empty()
    await shots(page, "guide")

    await page.locator("#start-check").click()
    await expect(page.locator("#check-results li[data-key=camera_ok]")).to_be_visible()
    await page.wait_for_function(
        "() => { const v = document.getElementById('check-preview');"
        " return v.readyState >= 2 && v.videoWidth > 0; }"
    )
    await expect(page.locator("#check-results li[data-key^=network_]").last).to_be_visible()
    advice = page.locator("#check-results li[data-key$=_good], #check-results li[data-key$=_fair]")
    await expect(advice.or_(page.locator("[data-key=network_weak]"))).to_have_count(1)
    # the upload speed, measured against what a call needs, in words with the figures
    uplink = page.locator("#check-results li[data-key^=uplink_]")
    await expect(uplink).to_have_count(1)
    await expect(uplink).to_contain_text("kbit/s")
    await expect(uplink).to_contain_text("500 kbit/s")
    await no_horizontal_scroll(page)
    await shots(page, "checked")

    await page.locator("#lang-toggle").click()
    await expect(page.locator("#timeline li.current")).to_have_text("Time booked")
    await expect(page.locator("html")).to_have_attribute("lang", "en")
    await no_horizontal_scroll(page)
    await shots(page, "english")
    await page.locator("#lang-toggle").click()
    await expect(page.locator("#timeline li.current")).to_have_text("已预约时间")

    await page.locator("#text-toggle").click()
    await expect(page.locator("body")).to_have_class("large-text")
    await no_horizontal_scroll(page)
    await shots(page, "large_text")


async def test_revoked_link_says_ask_the_window_for_a_new_one(
    e2e_api: Api, base_url: str, phone: BrowserContext, shots: Shots
) -> None:
    journey, _ = await offered_case(e2e_api)
    link = await e2e_api.client.post(
        f"/api/v1/cases/{journey.case_id}/links", headers=journey.dispatcher
    )
    revoked = await e2e_api.client.delete(
        f"/api/v1/cases/{journey.case_id}/links/{link.json()['id']}", headers=journey.dispatcher
    )
    assert revoked.status_code == 204, revoked.text
    page = await phone.new_page()
    await page.goto(f"{base_url}/applicant/#{link.json()['token']}")

    await expect(page.locator("#banner")).to_contain_text("链接已失效")
    await expect(page.locator("#banner")).to_contain_text("受理窗口")
    await expect(page.locator("#case-card")).to_be_hidden()
    await shots(page, "link_invalid")


async def test_camera_denied_explains_how_to_allow_it(
    e2e_api: Api, base_url: str, strict_browser: Browser, shots: Shots
) -> None:
    journey, _ = await offered_case(e2e_api)
    context = await phone_context(strict_browser, permissions=["geolocation"])
    try:
        page = await context.new_page()
        await page.goto(link_url(base_url, journey))
        await page.locator("#start-check").click()
        await expect(page.locator("#banner")).to_contain_text("权限被拒绝")
        await expect(page.locator("#banner")).to_contain_text("设置")
        await expect(page.locator("#check-preview")).to_be_hidden()
        await shots(page, "camera_denied")
    finally:
        await context.close()


async def test_call_shows_the_item_being_inspected(
    e2e_api: Api, base_url: str, phone: BrowserContext, shots: Shots
) -> None:
    journey = await start_journey(e2e_api)
    await schedule(journey)
    lead = journey.inspector_headers(0)
    started = await e2e_api.client.post(
        f"/api/v1/cases/{journey.case_id}/inspection/start", headers=lead
    )
    assert started.status_code == 200, started.text
    checklist = await e2e_api.client.get(f"/api/v1/cases/{journey.case_id}/checklist", headers=lead)
    item = checklist.json()["items"][0]
    page = await phone.new_page()
    await page.goto(link_url(base_url, journey))
    await page.locator("#join-call").click()
    await expect(page.locator("#call-status")).to_have_text("等待踏勘人员加入")

    ws_url = base_url.replace("http://", "ws://") + f"/ws/cases/{journey.case_id}"
    async with joined(ws_url, lead["Authorization"].removeprefix("Bearer ")) as (ws, _):
        await expect(page.locator("#call-status")).to_have_text("已连线，请按踏勘人员的指示拍摄。")
        await send(ws, type="current_item", item_id=item["id"])
        await expect(page.locator("#current-item")).to_contain_text(item["title"])
        await expect(page.locator("#current-item .item-guidance")).to_have_text(item["guidance"])
    await page.wait_for_function(
        "() => { const v = document.getElementById('call-preview');"
        " return v.readyState >= 2 && v.videoWidth > 0; }"
    )
    await no_horizontal_scroll(page)
    await shots(page, "in_call")
    await page.locator("#leave-call").click()
    await expect(page.locator("#call-view")).to_be_hidden()


async def test_a_slow_upload_is_named_with_what_a_call_needs(
    e2e_api: Api, base_url: str, phone: BrowserContext, shots: Shots
) -> None:
    journey, _ = await offered_case(e2e_api)
    page = await phone.new_page()
    await page.goto(link_url(base_url, journey))
    cdp = await phone.new_cdp_session(page)
    await cdp.send("Network.enable")
    await cdp.send(  # a weak 4G uplink: 200 kbit/s up, 2 Mbit/s down, 80 ms
        "Network.emulateNetworkConditions",
        {
            "offline": False,
            "latency": 80,
            "uploadThroughput": 200_000 / 8,
            "downloadThroughput": 2_000_000 / 8,
        },
    )
    await page.locator("#start-check").click()
    slow = page.locator("#check-results li.warn[data-key^=uplink_]")
    await expect(slow).to_contain_text("低于视频通话所需的 500 kbit/s", timeout=40_000)
    await expect(slow).to_contain_text("Wi-Fi")
    await expect(page.locator("[data-key=network_weak]")).to_be_visible()
    await shots(page, "slow_uplink")
