"""The dispatcher's case list in Chromium: the search box, a matter picked by name, paging, and
a bad date range refused in words (cases opened through intake, ``tests.flows``)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from playwright.async_api import Browser, expect

from server.auth.models import Role
from tests.e2e.conftest import WAIT_MS
from tests.e2e.desk import Desk
from tests.fixtures.app import Api
from tests.flows import open_case, start_journey

pytestmark = pytest.mark.e2e
expect.set_options(timeout=WAIT_MS)


@pytest.fixture
async def desk(browser: Browser, base_url: str) -> AsyncIterator[Desk]:
    desk = Desk(browser, base_url)
    yield desk
    await desk.close()
    assert not desk.errors, desk.errors


async def test_dispatcher_searches_filters_and_pages_the_case_list(
    e2e_api: Api, desk: Desk
) -> None:
    journey = await start_journey(e2e_api)
    tea = {"kind": "company", "name": "闽江茶叶商行", "phone": "13800138001"}
    await open_case(journey, "TEA-1", applicant=tea, matters=["XC"])
    for i in range(1, 22):  # 21 more: two pages of 20
        await open_case(journey, f"SHOP-{i}", matters=["CY"])
    dispatcher = await e2e_api.create_staff(Role.dispatcher)
    page = await desk.login(dispatcher.username)
    cases = page.locator("#all-cases")
    rows = cases.locator("table.cases tbody tr")
    await expect(rows).to_have_count(20)
    await expect(cases.locator(".page-of")).to_have_text("第 1 / 2 页，共 22 件")
    await cases.locator("button", has_text="下一页").click()
    await expect(rows).to_have_count(2)
    await expect(cases.locator(".page-of")).to_have_text("第 2 / 2 页，共 22 件")

    await cases.locator("input[name=q]").fill("茶叶")
    await cases.locator("button[type=submit]").click()
    await expect(rows).to_have_count(1)
    await expect(rows.first).to_contain_text("TEA-1")
    await expect(rows.first).to_contain_text("闽江茶叶商行")

    await cases.locator("button[type=reset]").click()
    small = next(m.name for m in e2e_api.ctx.catalogue.matters if m.code == "XC")
    await cases.locator("select[name=matter]").select_option(label=small)  # by name, not code
    await expect(rows).to_have_count(1)
    await expect(rows.first).to_contain_text("TEA-1")

    await cases.locator("input[name=created_from]").fill("2026-03-02")
    await cases.locator("input[name=created_to]").fill("2026-03-01")
    await cases.locator("button[type=submit]").click()
    alert = cases.locator("[role=alert]")
    await expect(alert).to_contain_text("起始日期（2026-03-02）晚于结束日期")
