"""The call's recording in the console: its tracks and breaks, each track to save and play."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from fastapi import FastAPI
from playwright.async_api import Browser, expect

from tests.e2e.conftest import Shots
from tests.e2e.desk import Desk, case_page
from tests.evidence.recording import AWAY, record, started_case
from tests.fixtures.app import Api

pytestmark = pytest.mark.e2e


@pytest.fixture
async def desk(browser: Browser, base_url: str) -> AsyncIterator[Desk]:
    desk = Desk(browser, base_url)
    yield desk
    await desk.close()
    assert not desk.errors, desk.errors


async def test_inspector_downloads_and_plays_the_whole_recorded_track(
    e2e_app: FastAPI, e2e_api: Api, desk: Desk, shots: Shots, tmp_path: Path
) -> None:
    journey = await started_case(e2e_api)
    await record(e2e_app, journey.case_id, "video", tmp_path)  # 2.5 s, away AWAY s, 1.5 s
    lead = next(s for s in journey.inspectors if s.id == journey.case["inspector_ids"][0])
    page = await desk.login(lead.username)
    await case_page(page, journey.case_id)

    row = page.locator("#recordings tr[data-track='applicant.video']")
    await expect(row).to_contain_text("申请人 · 视频")
    await expect(row.locator("td.gaps")).to_contain_text("1 处中断")
    await row.locator("button.download-recording").click()
    link = row.locator("a.recording-link")
    name = f"{journey.case['number']}-applicant.video.webm"
    # the server joins and checks every segment first: allow for a busy 2-core machine
    await expect(link).to_have_attribute("download", name, timeout=30_000)
    player = row.locator("video.recording-player")
    await player.evaluate(
        "v => v.readyState >= 1 || new Promise(r => v.addEventListener('loadedmetadata', r))"
    )
    duration = await player.evaluate("v => v.duration")
    assert duration >= 2.5 + AWAY + 1.5 - 0.1, duration  # the break is kept, not joined over
    await shots(page, "recording")

    await page.locator("#lang-toggle").click()
    await case_page(page, journey.case_id)
    await expect(row).to_contain_text("Applicant · video")
    await expect(row.locator("td.gaps")).to_contain_text("1 break(s)")
