"""After closure at 360 px: the applicant sees the result, the inspectors' badge numbers and the
bureau's numbers, rates once (a bad rating asks why) and complains; the supervisor's console
answers the follow-up (整改反馈) and closes it."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from playwright.async_api import Browser, BrowserContext, expect

from server.auth.models import Role
from tests.e2e.conftest import Shots
from tests.e2e.desk import Desk
from tests.e2e.phone import link_url, no_horizontal_scroll
from tests.fixtures.app import Api
from tests.supervision.feedback import closed_journey, set_badge

pytestmark = pytest.mark.e2e


@pytest.fixture
async def desk(browser: Browser, base_url: str) -> AsyncIterator[Desk]:
    desk = Desk(browser, base_url)
    yield desk
    await desk.close()
    assert not desk.errors, desk.errors


async def test_after_closure_the_applicant_rates_once_and_the_bureau_answers(
    e2e_api: Api, base_url: str, phone: BrowserContext, desk: Desk, shots: Shots
) -> None:
    journey = await closed_journey(e2e_api, "FB-E2E")
    await set_badge(e2e_api, journey.case["inspector_ids"][0], "35010000123", "0591-87000000")
    page = await phone.new_page()
    await page.goto(link_url(base_url, journey))

    await expect(page.locator("#progress-words")).to_have_text("已办结：准予许可")
    await expect(page.locator("#result-outcome")).to_have_text("准予许可")
    await expect(page.locator("#progress-inspectors li").first).to_contain_text("35010000123")
    await expect(page.locator("#progress-contacts")).to_contain_text("咨询电话：12345")
    await expect(page.locator("#progress-contacts")).to_contain_text("0591-87000000")
    card = page.locator("#rating-card")
    await expect(card.locator("label.score").nth(0)).to_have_text("1 非常不满意")
    await expect(page.locator("#rating-reasons-set")).to_be_hidden()
    await card.locator("label.score").nth(1).click()  # 2 不满意
    await expect(page.locator("#rating-reasons-set")).to_be_visible()
    await page.locator("#rating-send").click()
    await expect(page.locator("#rating-message")).to_have_text("请至少选择一个不满意的原因。")
    await page.locator("#rating-reasons label.reason").nth(0).click()
    await no_horizontal_scroll(page)
    await shots(page, "bad_rating")
    await page.locator("#rating-send").click()
    await expect(page.locator("#rating-thanks")).to_be_visible()  # the server holds it now
    await expect(page.locator("#rating-thanks")).to_have_text("感谢您的评价")
    status = await e2e_api.client.get(
        f"/api/v1/cases/{journey.case_id}/rating", headers=journey.dispatcher
    )
    assert status.json()["rating"], status.text
    assert (status.json()["rating"]["score"], status.json()["rating"]["reasons"][0]["code"]) == (
        2,
        "slow",
    )

    await page.locator("#complaint-text").fill("约好的时间没有人联系我")
    await page.locator("#complaint-send").click()
    await expect(page.locator("#complaint-list li")).to_contain_text("处理中")
    await page.reload()
    await expect(page.locator("#rating-thanks")).to_have_text("感谢您的评价")
    await expect(page.locator("#rating-form")).to_be_hidden()

    dispatcher, _ = await e2e_api.staff_headers(Role.dispatcher)
    console = await desk.login(dispatcher.username)
    await console.locator("#nav a[href='#/follow-ups']").click()
    await expect(console.locator("#phone-list tr[data-status=to_call]")).to_have_count(1)
    cards = console.locator("article.follow-up")
    await expect(cards).to_have_count(2)  # the bad rating and the complaint
    first = cards.first
    await expect(first.locator(".close-form")).to_have_count(0)  # not answered yet
    await first.locator(".answer-form textarea").fill("已约谈踏勘人员，改进预约安排")
    await first.locator(".answer-form input").fill("审批科 李四")
    await first.locator(".answer-form button").click()
    first = console.locator("article.follow-up").first
    await expect(first.locator(".answer")).to_contain_text("已约谈踏勘人员")
    await first.locator(".close-form textarea").fill("已电话回访申请人，表示理解")
    await first.locator(".close-form button").click()
    await expect(console.locator("article.follow-up")).to_have_count(1)
    await shots(console, "follow_ups")
