"""The inspector's console in a real call: the phone's camera shows a dark scene (Chromium's
fake camera fed from a file), the lead's snapshot comes back flagged in words, the lead keeps it
and the checklist item says which of its photos was flagged."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from playwright.async_api import Playwright, expect

from tests.e2e.conftest import CHROMIUM, CHROMIUM_ARGS, Shots, phone_context
from tests.e2e.desk import Desk, case_page, lead_and_second
from tests.e2e.phone import link_url
from tests.fixtures.app import Api
from tests.flows import start_inspection, start_journey
from tests.images import darkened, scene

pytestmark = pytest.mark.e2e
PLAYING = """(sel) => { const v = document.querySelector(sel);
  return v && v.readyState >= 2 && v.videoWidth > 0; }"""


def y4m(picture: np.ndarray, path: Path, frames: int = 30) -> Path:
    """``picture`` (RGB) as a still Y4M video, the format Chromium's fake camera reads."""
    rgb = picture.astype(np.float64)
    y = 0.299 * rgb[..., 0] + 0.587 * rgb[..., 1] + 0.114 * rgb[..., 2]
    u = 128 + (rgb[..., 2] - y) * 0.564
    v = 128 + (rgb[..., 0] - y) * 0.713
    planes = [np.clip(p, 0, 255).astype(np.uint8) for p in (y, u[::2, ::2], v[::2, ::2])]
    height, width = y.shape
    frame = b"FRAME\n" + b"".join(p.tobytes() for p in planes)
    header = f"YUV4MPEG2 W{width} H{height} F30:1 Ip A1:1 C420jpeg\n".encode()
    path.write_bytes(header + frame * frames)
    return path


async def test_the_lead_keeps_a_dark_snapshot_and_the_item_shows_the_flag(
    e2e_api: Api, base_url: str, playwright: Playwright, shots: Shots, tmp_path: Path
) -> None:
    journey = await start_journey(e2e_api)
    await start_inspection(journey)
    camera = y4m(darkened(scene(41, (640, 480)), 0.15), tmp_path / "dark.y4m")
    browser = await playwright.chromium.launch(
        executable_path=str(CHROMIUM),
        headless=True,
        args=[*CHROMIUM_ARGS, f"--use-file-for-fake-video-capture={camera}"],
    )
    desk = Desk(browser, base_url)
    try:
        phone = await (await phone_context(browser)).new_page()
        await phone.goto(link_url(base_url, journey))
        await phone.locator("#join-call").click()
        await phone.wait_for_function(PLAYING, arg="#call-preview")

        lead_staff, _ = lead_and_second(journey)
        lead = await desk.login(lead_staff.username)
        await case_page(lead, journey.case_id)
        await lead.locator("#join-call").click()
        await lead.wait_for_function(PLAYING, arg="#call-video")
        item = lead.locator("#checklist li.item").first
        await item.locator("button.show-item").click()
        await expect(item.locator("button.show-item")).to_have_attribute("aria-pressed", "true")
        await lead.locator("#snapshot").click()
        await expect(lead.locator("#snapshot-out")).to_contain_text("照片已归入")

        flag = lead.locator("#snapshot-quality .quality-flag")
        await expect(flag).to_contain_text("照片太暗")
        await shots(lead, "dark_snapshot_flagged")
        await flag.get_by_role("button", name="保留这张").click()
        await expect(flag).to_have_attribute("data-decision", "keep")
        await lead.reload()
        await expect(
            lead.locator("#checklist li.item").first.locator(".quality-note")
        ).to_contain_text("照片太暗")
        await shots(lead, "item_shows_the_flag")
        assert not desk.errors, desk.errors
    finally:
        await desk.close()
        await browser.close()
