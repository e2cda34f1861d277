"""The applicant's follow-up at 360 px: rectification photos (补齐补正) and the rating (好差评)."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from playwright.async_api import BrowserContext, expect
from sqlalchemy import select

from server.auth.models import Role
from server.evidence.models import Evidence
from tests.e2e.conftest import Shots
from tests.e2e.phone import (
    image_loaded,
    link_url,
    no_horizontal_scroll,
    photo_taken,
    rectification_open,
    registered_ago,
)
from tests.fixtures.app import Api
from tests.flows import (
    close,
    open_case,
    refresh,
    start_journey,
)
from tests.inspection.team import applicant_headers, make_team
from tests.opinions.drafting import drafted_case, post, to_review
from tests.rectification.steps import FIXABLE

pytestmark = pytest.mark.e2e


async def test_applicant_uploads_the_rectification_photo_and_submits(
    e2e_api: Api, base_url: str, phone: BrowserContext, shots: Shots, tmp_path: Path
) -> None:
    journey, _ = await rectification_open(e2e_api)
    page = await phone.new_page()
    failed: list[str] = []
    page.on("requestfailed", lambda r: failed.append(f"{r.method} {r.url} {r.failure}"))
    await page.goto(link_url(base_url, journey))

    card = page.locator("#rect-card")
    await expect(card.locator("h2")).to_have_text("补齐补正")
    item = card.locator(f'li[data-item-id="{FIXABLE}"]')
    await expect(item.locator(".rect-instruction")).to_have_text(
        f"请整改 {FIXABLE} 并从同一角度拍照"
    )
    await image_loaded(page, f'li[data-item-id="{FIXABLE}"] img.rect-original')
    file_input = item.locator("input[type=file]")
    await expect(file_input).to_have_attribute("accept", "image/*")
    await expect(file_input).to_have_attribute("capture", "environment")
    await expect(item.locator(".rect-status")).to_have_text("尚未上传")
    await expect(page.locator("#rect-submit")).to_be_disabled()
    await no_horizontal_scroll(page)
    await shots(page, "round_open")

    await file_input.set_input_files(
        {"name": "notes.jpg", "mimeType": "image/jpeg", "buffer": b"just some notes\n" * 10}
    )
    await expect(item).to_have_attribute("data-state", "failed")
    await expect(item.locator(".rect-status")).to_contain_text("上传失败：")
    reason = await item.locator(".rect-status").inner_text()
    assert "type_mismatch" not in reason, "plain words, not a code"
    assert len(reason) > len("上传失败：") + 4, reason
    await expect(page.locator("#rect-submit")).to_be_disabled()
    await shots(page, "refused")

    # Taken 20 minutes ago with no EXIF time: the phone's file time says when.
    await registered_ago(e2e_api, journey, timedelta(days=2))
    fixed, taken = photo_taken(tmp_path, timedelta(minutes=20))
    await file_input.set_input_files(str(fixed))
    await expect(item).to_have_attribute("data-state", "done")
    await expect(item.locator(".rect-status")).to_have_text("已上传 ✔")
    assert await item.locator("progress").evaluate("p => p.value") == 100
    await expect(page.locator("#rect-submit")).to_be_enabled()
    assert failed == [], "the store POST went through XHR (with progress), not a blind retry"
    await no_horizontal_scroll(page)
    await shots(page, "uploaded")

    await page.reload()
    await expect(item).to_have_attribute("data-state", "done")
    await expect(item.locator(".rect-status")).to_have_text("已上传 ✔")
    await expect(page.locator("#rect-submit")).to_be_enabled()
    await shots(page, "reloaded")

    await page.locator("#rect-submit").click()
    await expect(page.locator("#rect-done")).to_contain_text("整改材料已提交")
    await expect(card).to_be_hidden()
    assert (await refresh(journey))["state"] == "rectification_submitted"
    uploads = await e2e_api.client.get(
        f"/api/v1/cases/{journey.case_id}/uploads", headers=journey.applicant
    )
    statuses = [u["status"] for u in uploads.json()]
    assert statuses == ["rejected", "finalized"], "one upload per file, never a duplicate"
    async with e2e_api.ctx.sessionmaker() as session:
        photos = await session.scalars(
            select(Evidence).where(Evidence.case_id == journey.case_id, Evidence.kind == "photo")
        )
        (evidence,) = [p for p in photos if p.meta.get("purpose") == "rectification"]
    assert evidence.meta["captured_at_source"] == "device"
    assert evidence.captured_at == taken
    await no_horizontal_scroll(page)
    await shots(page, "submitted")


async def test_applicant_rates_a_closed_case_once(
    e2e_api: Api, base_url: str, phone: BrowserContext, shots: Shots
) -> None:
    journey = await start_journey(e2e_api)
    case_id = (await open_case(journey, "RT-E2E"))["id"]
    dispatcher, applicant = journey.dispatcher, journey.applicant
    await close(journey)
    token = applicant["Authorization"].removeprefix("Bearer ")
    page = await phone.new_page()
    await page.goto(f"{base_url}/applicant/#{token}")

    card = page.locator("#rating-card")
    await expect(card.locator("h2")).to_have_text("服务评价（好差评）")
    await expect(card.locator("input[name=score]")).to_have_count(5)
    await page.locator("#lang-toggle").click()
    await expect(card.locator("h2")).to_have_text("Rate our service")
    await expect(card.locator("label.score").nth(4)).to_have_text("5 Very satisfied")
    await page.locator("#lang-toggle").click()
    await expect(card.locator("h2")).to_have_text("服务评价（好差评）")
    await page.locator("#rating-send").click()
    await expect(page.locator("#rating-message")).to_have_text("请先选择分数。")
    await card.locator("label.score").nth(4).click()
    await page.locator("#rating-comment").fill("视频踏勘很方便")
    await no_horizontal_scroll(page)
    await shots(page, "rating_form")
    await page.locator("#rating-send").click()

    await expect(page.locator("#rating-thanks")).to_have_text("感谢您的评价")
    await expect(page.locator("#rating-form")).to_be_hidden()
    status = await e2e_api.client.get(f"/api/v1/cases/{case_id}/rating", headers=dispatcher)
    assert (status.json()["rated"], status.json()["rating"]["score"]) == (True, 5)
    assert status.json()["rating"]["comment"] == "视频踏勘很方便"
    await page.reload()
    await expect(page.locator("#rating-thanks")).to_have_text("感谢您的评价")
    await expect(page.locator("#rating-form")).to_be_hidden()
    await shots(page, "rated")


async def test_applicant_reads_the_issued_opinion_and_downloads_the_pdf(
    e2e_api: Api, base_url: str, phone: BrowserContext, shots: Shots
) -> None:
    team = await make_team(e2e_api)
    case_id = await drafted_case(team)
    await to_review(team, case_id)
    _, reviewer = await e2e_api.staff_headers(Role.reviewer)
    approved = await post(team, case_id, "approve", reviewer)
    assert approved.status_code == 200, approved.text
    applicant = await applicant_headers(team, case_id)
    token = applicant["Authorization"].removeprefix("Bearer ")
    page = await phone.new_page()
    await page.goto(f"{base_url}/applicant/#{token}")

    card = page.locator("#opinion-card")
    await expect(card.locator("h2")).to_have_text("踏勘意见")
    await expect(page.locator("#opinion-conclusion")).to_have_text("结论：符合要求，同意通过踏勘")
    await expect(page.locator("#rating-card")).to_be_hidden()  # issued, not closed yet
    await no_horizontal_scroll(page)
    await shots(page, "opinion")
    async with page.expect_download() as waiting:
        await page.locator("#opinion-download").click()
    download = await waiting.value
    assert download.suggested_filename.endswith(".pdf")
    saved = await download.path()
    assert saved.read_bytes().startswith(b"%PDF")
