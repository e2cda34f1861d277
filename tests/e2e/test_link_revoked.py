"""A bad path of the whole product not covered elsewhere: the applicant's link stops working
while the page is open (the dispatcher re-sent the link, which revokes the old one).

The whole product itself, from intake to the bureau's follow-up, runs once in
``test_whole_case.py`` (its steps in ``whole.py``).
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator

import pytest
from playwright.async_api import Browser, expect

from tests.e2e.conftest import Shots
from tests.e2e.desk import Desk
from tests.e2e.phone import link_url, offered_case
from tests.e2e.whole import phone_page
from tests.fixtures.app import Api

pytestmark = pytest.mark.e2e


@pytest.fixture
async def desks(browser: Browser, base_url: str) -> AsyncIterator[Desk]:
    """Every person's page; each page's script errors fail the test at the end."""
    desk = Desk(browser, base_url)
    yield desk
    await desk.close()
    assert not desk.errors, desk.errors


async def test_a_link_revoked_while_open_says_ask_the_window(
    e2e_api: Api, base_url: str, browser: Browser, desks: Desk, shots: Shots
) -> None:
    journey, _ = await offered_case(e2e_api)
    phone = await phone_page(desks, browser)
    await phone.goto(link_url(base_url, journey))
    await expect(phone.locator("#slots input[name=slot]")).to_have_count(2)
    case_url = f"/api/v1/cases/{journey.case_id}"
    resent = await e2e_api.client.post(f"{case_url}/links/resend", headers=journey.dispatcher)
    assert resent.status_code == 201, resent.text

    await phone.locator("#slots label").first.click()
    await phone.locator("#confirm-slot").click()

    await expect(phone.locator("#banner")).to_contain_text("链接已失效")
    await expect(phone.locator("#banner")).to_contain_text("受理窗口")
    await expect(phone.locator("#appointment-card")).to_be_hidden()
    case = await e2e_api.client.get(case_url, headers=journey.dispatcher)
    assert case.json()["state"] == "assigned", "nothing was booked with the expired link"
    await shots(phone, "link_expired")
    assert re.search(r"/applicant/$", phone.url), "the token stays out of the address bar"
