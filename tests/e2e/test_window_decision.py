"""The window desk records the licensing decision on an issued case, which closes it (办结)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from playwright.async_api import Browser, expect

from server.auth.models import Role
from tests.e2e.conftest import Shots
from tests.e2e.desk import Desk
from tests.fixtures.app import Api
from tests.flows import issue_opinion, open_case, refresh, start_journey

pytestmark = pytest.mark.e2e


@pytest.fixture
async def desk(browser: Browser, base_url: str) -> AsyncIterator[Desk]:
    desk = Desk(browser, base_url)
    yield desk
    await desk.close()
    assert not desk.errors, desk.errors


async def test_window_staff_record_the_decision_on_the_case_page(
    e2e_api: Api, desk: Desk, shots: Shots
) -> None:
    journey = await start_journey(e2e_api)
    number = (await open_case(journey, "CL-DESK"))["number"]
    await issue_opinion(journey)
    window = await e2e_api.create_staff(Role.window)
    page = await desk.login(window.username)
    await page.locator(f"#opinions tr[data-case-number='{number}'] a").click()
    await expect(page.locator("#case-state")).to_have_text("已出具意见")
    form = page.locator("#decision-form")
    await form.locator("#record-decision").click()
    await expect(form).to_contain_text("请填写决定书编号。")
    await form.locator("#decision-no").fill("闽审批许字〔2026〕第0009号")
    await shots(page, "decision_form")
    await form.locator("#record-decision").click()

    decision = page.locator("#decision")
    await expect(decision).to_have_attribute("data-outcome", "granted")
    await expect(decision).to_contain_text("准予许可")
    await expect(decision).to_contain_text("闽审批许字〔2026〕第0009号")
    await expect(page.locator("#case-state")).to_have_text("已办结")
    await shots(page, "decision_recorded")
    assert (await refresh(journey))["state"] == "closed"
    await page.reload()
    await expect(page.locator("#decision")).to_contain_text("闽审批许字〔2026〕第0009号")
    await expect(page.locator("#decision-form")).to_have_count(0)
