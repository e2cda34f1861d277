"""The inspector's workspace during a live call (issue 19, item 2), in a real Chromium with the
fake camera: the picture pinned beside the checklist at any scroll and full screen on demand,
one audio element per remote voice, the other inspector's verdicts arriving live, the phone's
GPS, the connection quality and the recording state, and 17 quick clicks all stored."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator

import pytest
from playwright.async_api import Browser, expect

from tests.e2e.conftest import Shots
from tests.e2e.desk import Desk, case_page, lead_and_second
from tests.e2e.workspace import IN_VIEWPORT, everyone_in_call, item, my_verdicts, started_case
from tests.fixtures.app import Api
from tests.helpers import wait_until

pytestmark = pytest.mark.e2e

# Every remote audio track in its own element, each element one track, none twice; the
# picture's element carries no audio (it would be a second player of a voice).
AUDIO_ELEMENTS = """() => {
  const players = [...document.querySelectorAll('#call-audio audio')];
  const tracks = players.flatMap((p) => p.srcObject ? p.srcObject.getTracks() : []);
  const video = document.querySelector('#call-video').srcObject;
  return { players: players.length, tracks: tracks.length,
           distinct: new Set(tracks.map((t) => t.id)).size,
           audioInVideo: video ? video.getAudioTracks().length : -1,
           pageAudio: document.querySelectorAll('audio, video').length - 1 };
}"""
# Click the buttons the way a hurried inspector does: one every 200 ms, without waiting for any.
CLICK_APART = """async (clicks) => {
  for (const [itemId, value] of clicks) {
    document.querySelector(`li.item[data-item='${itemId}'] button.mark-${value}`).click();
    await new Promise((r) => setTimeout(r, 200));
  }
}"""
VALUES = ["pass", "fail", "not_applicable"]
CURRENT = re.compile(r"\bcurrent\b")


@pytest.fixture
async def desks(browser: Browser, base_url: str) -> AsyncIterator[Desk]:
    desk = Desk(browser, base_url)
    yield desk
    await desk.close()
    assert not desk.errors, desk.errors


async def test_workspace_keeps_the_picture_in_view_and_shows_the_call_live(
    e2e_api: Api, browser: Browser, desks: Desk, shots: Shots
) -> None:
    journey = await started_case(e2e_api)
    call = await everyone_in_call(desks, browser, journey)
    lead, second, phone = call.lead, call.second, call.phone
    assert second is not None
    items = lead.locator("#checklist li.item")
    first_id = await items.first.get_attribute("data-item")
    last_id = await lead.locator("#checklist li.item:has(button.mark-pass)").last.get_attribute(
        "data-item"
    )
    assert first_id
    assert last_id

    # Pinned: wherever the checklist is scrolled to, the picture stays in the window.
    for size in ({"width": 1280, "height": 900}, {"width": 700, "height": 800}):  # wide, stacked
        await lead.set_viewport_size(size)
        for index in (0, 6, -1):
            await items.nth(index).evaluate("(li) => li.scrollIntoView({ block: 'end' })")
            assert await lead.evaluate("window.scrollY") > 0, "longer than a screen"
            await lead.wait_for_function(IN_VIEWPORT, arg="#call-video")
        await shots(lead, f"scrolled_to_the_end_{size['width']}")
    await lead.set_viewport_size({"width": 1280, "height": 900})

    # Full screen on demand, and back.
    await lead.locator("#call-fullscreen").click()
    await lead.wait_for_function(
        "() => document.fullscreenElement?.classList.contains('call-stage')"
    )
    await expect(lead.locator("#call-fullscreen")).to_have_text("退出全屏")
    await lead.locator("#call-fullscreen").click()
    await lead.wait_for_function("() => document.fullscreenElement === null")

    # One audio element per remote voice (the phone's and the other inspector's).
    audio = await lead.evaluate(AUDIO_ELEMENTS)
    assert audio == {
        "players": 2,
        "tracks": 2,
        "distinct": 2,
        "audioInVideo": 0,
        "pageAudio": 2,
    }, audio

    # The item shown to the phone is highlighted on both consoles.
    await item(lead, first_id).locator("button.show-item").click()
    await expect(item(lead, first_id)).to_have_class(CURRENT)
    await expect(item(second, first_id)).to_have_class(CURRENT)

    # The lead's verdict appears on the second console within a second, without a reload.
    await second.evaluate("window.__notReloaded = true")
    await item(lead, last_id).locator("button.mark-fail").click()
    await expect(item(lead, last_id).locator(".save-state")).to_have_text("已保存")
    await expect(item(second, last_id).locator(".verdicts")).to_contain_text(
        "主办：不符合", timeout=1000
    )
    assert await second.evaluate("window.__notReloaded === true"), "the page was reloaded"
    # ...and the second's on the lead's.
    await item(second, first_id).locator("button.mark-pass").click()
    await expect(item(lead, first_id).locator(".verdicts")).to_contain_text(
        "协办：符合", timeout=1000
    )

    # The phone's GPS fix, live: distance to the site, accuracy and age.
    await phone.locator("#share-location").click()
    gps = lead.locator("#call-gps")
    await expect(gps).to_contain_text("距场所约")
    await expect(gps).to_contain_text("精度 ±20 米")
    await expect(gps).to_contain_text("秒前")
    # Connection quality per participant, and the recording with its elapsed time.
    await expect(lead.locator("#call-quality li").first).to_contain_text("kbps")
    await expect(lead.locator("#call-quality")).to_contain_text("申请人")
    await expect(lead.locator("#call-recording")).to_contain_text("录像中")
    await shots(lead, "workspace_in_call")


async def test_seventeen_verdicts_clicked_200_ms_apart_are_all_stored(
    e2e_api: Api, desks: Desk, shots: Shots
) -> None:
    journey = await started_case(e2e_api, matter="CY")  # 17 items to mark
    lead_staff, _ = lead_and_second(journey)
    page = await desks.login(lead_staff.username)
    await case_page(page, journey.case_id)
    ids = await page.locator("#checklist li.item:has(button.mark-pass)").evaluate_all(
        "(lis) => lis.map((li) => li.dataset.item)"
    )
    assert len(ids) == 17, ids
    clicks = [[item_id, VALUES[i % 3]] for i, item_id in enumerate(ids)]

    await page.evaluate(CLICK_APART, clicks)

    expected = dict(clicks)

    async def all_stored() -> bool:
        return await my_verdicts(journey, 0) == expected

    await wait_until(all_stored, within=15, what="all 17 verdicts stored")
    for item_id, value in clicks:
        row = item(page, item_id)
        await expect(row.locator(".save-state")).to_have_text("已保存")
        await expect(row.locator(f"button.mark-{value}")).to_have_attribute("aria-pressed", "true")
    await shots(page, "seventeen_saved")
