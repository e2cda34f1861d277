"""The console's last inspection steps in a real Chromium: ending the inspection, the
rectification request (补齐补正) with its Beijing-time deadline, and both inspectors' review."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from typing import Any

import pytest
from playwright.async_api import Browser, Page, expect

from server.db import utcnow
from tests.e2e.conftest import Shots
from tests.e2e.desk import Desk, case_page, lead_and_second
from tests.e2e.phone import image_loaded, in_progress_case, rectification_open
from tests.fixtures.app import Api
from tests.flows import Journey, refresh, upload_photo
from tests.rectification.steps import FIXABLE, photo, rounds

pytestmark = pytest.mark.e2e

SHANGHAI = timedelta(hours=8)


@pytest.fixture
async def desks(browser: Browser, base_url: str) -> AsyncIterator[Desk]:
    desk = Desk(browser, base_url)  # desktop contexts in Europe/London: not Beijing time
    yield desk
    await desk.close()
    assert not desk.errors, desk.errors


def beijing_day(days_from_today: int) -> str:
    return (utcnow() + SHANGHAI + timedelta(days=days_from_today)).date().isoformat()


async def mark_all(journey: Journey, values: dict[str, str], *, skip: str | None = None) -> None:
    """Both inspectors mark every item (``values`` overrides pass), each citing a photo of the
    case (one the second took, filed under no item)."""
    api, base = journey.api, f"/api/v1/cases/{journey.case_id}"
    taken = await upload_photo(api, journey.case_id, journey.inspector_headers(1), [])
    assert taken.status_code == 200, taken.text
    cited = taken.json()["evidence"]["id"]
    listing = await api.client.get(f"{base}/checklist", headers=journey.inspector_headers(0))
    for item in listing.json()["items"]:
        if item["record_only"] or item["id"] == skip:
            continue
        body: dict[str, Any] = {
            "value": values.get(item["id"], "pass"),
            "note": "未见挡鼠板" if item["id"] in values else "",
            "evidence_refs": [cited],
        }
        for position in (0, 1):
            marked = await api.client.put(
                f"{base}/checklist/items/{item['id']}/verdict",
                json=body,
                headers=journey.inspector_headers(position),
            )
            assert marked.status_code == 200, marked.text


async def test_lead_ends_the_inspection_once_every_item_is_settled(
    e2e_api: Api, desks: Desk, shots: Shots
) -> None:
    journey = await in_progress_case(e2e_api)
    listing = await e2e_api.client.get(
        f"/api/v1/cases/{journey.case_id}/checklist", headers=journey.inspector_headers(0)
    )
    last = next(i["id"] for i in reversed(listing.json()["items"]) if not i["record_only"])
    await mark_all(journey, {}, skip=last)
    lead, second = lead_and_second(journey)

    page = await desks.login(second.username)
    await case_page(page, journey.case_id)
    await expect(page.locator("#conclude-preview")).to_contain_text("踏勘未完成")
    await expect(page.locator("#conclude-body")).to_contain_text(last)
    await expect(page.locator("#conclude")).to_have_count(0)

    page = await desks.login(lead.username)
    await case_page(page, journey.case_id)
    await expect(page.locator("#conclude-body")).to_contain_text("处理后才能结束踏勘")
    await expect(page.locator("#conclude")).to_have_count(0)
    await shots(page, "blocked")

    await mark_all(journey, {})  # the last item, marked meanwhile on the other desk
    await page.locator("#conclude-refresh").click()
    await expect(page.locator("#conclude-preview")).to_contain_text("符合要求")
    await expect(page.locator("#conclude-body")).to_contain_text("进入意见起草")
    await page.locator("#conclude").click()

    await expect(page.locator("#rect-flash")).to_have_text(
        "已结束踏勘：结论为“符合要求”，案件状态为“意见起草”。"
    )
    await expect(page.locator("#case-state")).to_have_text("意见起草")
    await expect(page.locator("#conclude")).to_have_count(0)
    await expect(page.locator("#draft-opinion")).to_be_visible()
    assert (await refresh(journey))["state"] == "drafted"
    await shots(page, "concluded")


async def request_page(desks: Desk, journey: Journey) -> Page:
    lead, _ = lead_and_second(journey)
    page = await desks.login(lead.username)
    await case_page(page, journey.case_id)
    await expect(page.locator("#conclude-preview")).to_contain_text("整改后符合")
    return page


async def test_lead_requests_rectification_with_a_beijing_deadline(
    e2e_api: Api, desks: Desk, shots: Shots
) -> None:
    journey = await in_progress_case(e2e_api)
    await mark_all(journey, {FIXABLE: "fail"})
    failure_photo = await photo(journey, journey.inspector_headers(1), FIXABLE)
    page = await request_page(desks, journey)
    form = page.locator("#rect-request-form")
    item = form.locator(f".rect-request-item[data-item='{FIXABLE}']")
    await expect(form.locator(".rect-request-item")).to_have_count(1)
    await expect(item.locator(".rect-choose")).to_be_checked()
    await expect(item.locator(".rect-instruction")).to_have_value("未见挡鼠板")  # the fail note
    await expect(page.locator("#conclude")).to_have_count(0)  # refused anyway: rectify first

    await item.locator(".rect-choose").uncheck()
    await page.locator("#rect-request").click()
    await expect(page.locator("#rect-request-out")).to_have_text("请至少勾选一项需要补正的检查项。")
    await item.locator(".rect-choose").check()
    await item.locator(".rect-instruction").fill("在操作间入口加装挡鼠板，从同一角度拍照上传")
    await page.locator("#rect-deadline").fill(f"{beijing_day(-1)}T09:00")
    await page.locator("#rect-request").click()
    await expect(page.locator("#rect-request-out [role=alert]")).to_have_text(
        "截止时间须为将来的时间。"
    )
    assert (await refresh(journey))["state"] == "in_progress", "a refused request changes nothing"
    assert await rounds(journey, journey.inspector_headers(0)) == []
    await shots(page, "request_refused")

    due_day = beijing_day(3)
    await page.locator("#rect-deadline").fill(f"{due_day}T18:00")
    await page.locator("#rect-request").click()

    await expect(page.locator("#rect-flash")).to_contain_text("已向申请人发出 1 项补齐补正要求")
    await expect(page.locator("#rect-flash")).to_contain_text(f"{due_day.replace('-', '/')} 18:00")
    await expect(page.locator("#case-state")).to_have_text("待补齐补正")
    round_box = page.locator("#rectification article.round[data-round='1']")
    await expect(round_box).to_have_attribute("data-status", "open")
    await expect(round_box.locator(".round-status")).to_have_text("待申请人补正")
    await expect(round_box.locator(".rect-instruction-text")).to_have_text(
        "在操作间入口加装挡鼠板，从同一角度拍照上传"
    )
    await image_loaded(page, f"article.round .before a[data-evidence='{failure_photo}'] img")
    await expect(round_box.locator(".after")).to_contain_text("无照片")
    await expect(round_box.locator(".review-controls")).to_have_count(0)  # nothing to review yet
    sent = await rounds(journey, journey.inspector_headers(0))
    deadline = datetime.fromisoformat(sent[0]["deadline"])
    assert deadline.isoformat() == f"{due_day}T10:00:00+00:00", "18:00 in Beijing is 10:00 UTC"
    await shots(page, "requested")


async def review_page(desks: Desk, username: str, case_id: str) -> Page:
    page = await desks.login(username)
    await case_page(page, case_id)
    await expect(page.locator("#rectification article.round")).to_have_count(1)
    return page


async def test_both_inspectors_review_and_a_rejection_opens_the_next_round(
    e2e_api: Api, desks: Desk, shots: Shots
) -> None:
    journey, failure_photo = await rectification_open(e2e_api)
    fixed_photo = await photo(journey, journey.applicant, FIXABLE)
    submitted = await e2e_api.client.post(
        f"/api/v1/cases/{journey.case_id}/rectification/submit", headers=journey.applicant
    )
    assert submitted.status_code == 200, submitted.text
    lead, second = lead_and_second(journey)

    page = await review_page(desks, lead.username, journey.case_id)
    item = page.locator(f"#rectification li.rect-item[data-item='{FIXABLE}']")
    await expect(page.locator("article.round .round-status")).to_have_text("待核验")
    await image_loaded(page, f".before a[data-evidence='{failure_photo}'] img")
    await image_loaded(page, f".after a[data-evidence='{fixed_photo}'] img")
    await expect(item.locator(".rect-reviews li")).to_have_text(
        ["主办：尚未核验", "协办：尚未核验"]
    )
    await expect(item.locator("h4")).to_have_text(f"{FIXABLE} 场所使用权")
    await expect(page.locator("#rectification")).not_to_contain_text("null")
    await shots(page, "to_review")

    await item.locator("button.reject").click()  # no reason: the server says what is missing
    await expect(item.locator(".review-out [role=alert]")).to_have_text(
        "不通过时请写明原因，申请人将据此再次整改。"
    )
    current = await rounds(journey, journey.inspector_headers(0))
    assert current[0]["items"][0]["reviews"] == [], "a refused review changes nothing"
    await item.locator("button.accept").click()
    await expect(item.locator(".rect-reviews li").first).to_contain_text("主办：通过")
    await expect(item.locator(".rect-reviews li").nth(1)).to_have_text("协办：尚未核验")
    await expect(page.locator("#case-state")).to_have_text("补正待核验")
    await shots(page, "lead_accepted")

    await page.locator("#lang-toggle").click()
    await expect(page.locator("article.round .round-status")).to_have_text("To review")
    await expect(item.locator(".rect-reviews li").first).to_contain_text("Lead: accepted (")
    await expect(item.locator(".rect-reviews li").nth(1)).to_have_text("Second: not reviewed yet")
    await expect(item.locator("button.reject")).to_have_text("Reject")
    await shots(page, "english")
    await page.locator("#lang-toggle").click()
    await expect(page.locator("article.round .round-status")).to_have_text("待核验")

    page = await review_page(desks, second.username, journey.case_id)
    item = page.locator(f"#rectification li.rect-item[data-item='{FIXABLE}']")
    await expect(item.locator(".rect-reviews li").first).to_contain_text("主办：通过")
    await item.locator("textarea.reject-reason").fill("照片过暗，看不清挡鼠板")
    await item.locator("button.reject").click()

    await expect(page.locator("#rect-flash")).to_have_text(
        "第 1 轮补正核验不通过，已要求申请人再次补正。"
    )
    await expect(page.locator("#case-state")).to_have_text("待补齐补正")
    latest = page.locator("#rectification > article.round")
    await expect(latest).to_have_attribute("data-round", "2")
    await expect(latest.locator(".rect-instruction-text")).to_contain_text(
        "上轮核验不通过：照片过暗，看不清挡鼠板"
    )
    await page.locator("details.earlier-rounds summary").click()
    earlier = page.locator("details.earlier-rounds article.round[data-round='1']")
    await expect(earlier).to_have_attribute("data-status", "rejected")
    await expect(earlier.locator(".rect-reviews li")).to_contain_text(
        ["主办：通过", "协办：不通过 — 照片过暗，看不清挡鼠板"]
    )
    await image_loaded(page, f"details.earlier-rounds .after a[data-evidence='{fixed_photo}'] img")
    assert (await refresh(journey))["state"] == "rectification_requested"
    await shots(page, "rejected_next_round")
