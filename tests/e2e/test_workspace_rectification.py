"""Requesting a rectification (补齐补正) from a live call, in Chromium: the lead chooses to keep
the call open or to end it for everyone, and the phone shows the request at once, no reload."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from fastapi import FastAPI
from playwright.async_api import Browser, Page, expect

from signaling.registry import Registry
from tests.e2e.conftest import Shots
from tests.e2e.desk import Desk
from tests.e2e.workspace import PLAYING, everyone_in_call, fail_only, started_case
from tests.fixtures.app import Api
from tests.flows import refresh
from tests.helpers import wait_until

pytestmark = pytest.mark.e2e

FAILED = "SH-02"  # fails, rectifiable


@pytest.fixture
async def desks(browser: Browser, base_url: str) -> AsyncIterator[Desk]:
    desk = Desk(browser, base_url)
    yield desk
    await desk.close()
    assert not desk.errors, desk.errors


async def not_reloaded(page: Page) -> None:
    await page.evaluate("window.__notReloaded = true")


async def still_the_same_page(page: Page) -> None:
    assert await page.evaluate("window.__notReloaded === true"), "the page was reloaded"


async def send_request(lead: Page, choice: str) -> None:
    form = lead.locator("#rect-request-form")
    await expect(form.locator(f".rect-request-item[data-item='{FAILED}']")).to_be_visible()
    await expect(lead.locator("#rect-call-keep")).to_be_checked()  # the default: no one drops
    await lead.locator(f"#rect-call-{choice}").check()
    await lead.locator("#rect-request").click()
    await expect(lead.locator("#rect-flash")).to_contain_text("已向申请人发出 1 项补齐补正要求")


async def test_the_lead_keeps_the_call_open_and_the_phone_sees_the_request_at_once(
    e2e_api: Api, browser: Browser, desks: Desk, shots: Shots
) -> None:
    journey = await started_case(e2e_api)
    await fail_only(journey, FAILED)
    call = await everyone_in_call(desks, browser, journey, second=False)
    phone, lead = call.phone, call.lead
    await not_reloaded(phone)

    await send_request(lead, "keep")

    await expect(phone.locator("#banner")).to_contain_text("补齐补正 1 项")
    await expect(phone.locator("#banner")).to_contain_text("通话继续")
    await expect(phone.locator(f"#rect-items li[data-item-id='{FAILED}']")).to_be_visible()
    await expect(phone.locator("#call-view")).to_be_visible()
    await still_the_same_page(phone)
    # The lead is still in the call after the page moved on to the rectification step.
    await expect(lead.locator("#case-state")).to_have_text("待补齐补正")
    await expect(lead.locator("#leave-call")).to_be_visible()
    await expect(lead.locator("#call-notice")).to_contain_text("通话继续")
    await lead.wait_for_function(PLAYING, arg="#call-video")
    assert (await refresh(journey))["state"] == "rectification_requested"
    await shots(phone, "phone_sees_the_request_in_the_call")
    await shots(lead, "lead_still_in_the_call")


async def test_the_lead_ends_the_call_for_everyone_with_the_request(
    e2e_api: Api, e2e_app: FastAPI, browser: Browser, desks: Desk, shots: Shots
) -> None:
    journey = await started_case(e2e_api)
    await fail_only(journey, FAILED)
    call = await everyone_in_call(desks, browser, journey)
    phone, lead, second = call.phone, call.lead, call.second
    assert second is not None
    await not_reloaded(phone)

    await send_request(lead, "end")

    await expect(phone.locator("#banner")).to_contain_text("补齐补正 1 项")
    await expect(phone.locator("#banner")).to_contain_text("本次通话已结束")
    await expect(phone.locator("#call-view")).to_be_hidden()
    await expect(phone.locator(f"#rect-items li[data-item-id='{FAILED}']")).to_be_visible()
    await still_the_same_page(phone)
    await expect(second.locator("#call-status")).to_have_text("主办踏勘人员已结束本次通话。")
    await expect(second.locator("#call-notice")).to_contain_text("通话随之结束")
    await expect(second.locator("#join-call")).to_be_visible()
    await expect(lead.locator("#leave-call:visible")).to_have_count(0)
    registry: Registry = e2e_app.state.live
    await wait_until(
        lambda: registry.existing_room(journey.case_id) is None, what="the room emptied"
    )
    await shots(phone, "phone_call_ended_with_the_request")
