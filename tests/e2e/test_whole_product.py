"""The whole product through its pages, once, as issue 7 asks: intake and the draw at the
dispatcher's desk, the applicant's phone (360 px) booking, checking and joining a real live call,
two inspector consoles watching its moving video and walking the checklist with snapshots, a
failed rectifiable item, the rectification photo from the phone, both inspectors accepting it,
the opinion drafted, co-signed, approved and issued, and the window staff verifying it.

Also the issue's bad path not covered elsewhere: a link that expires while the page is open.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from datetime import timedelta

import pytest
from playwright.async_api import Browser, Page, expect
from sqlalchemy import update

from server.cases.models import CaseLink
from server.db import utcnow
from tests.e2e.conftest import Shots
from tests.e2e.desk import Desk
from tests.e2e.phone import link_url, no_horizontal_scroll, offered_case
from tests.e2e.whole import (
    book_and_check,
    both_accept,
    cast,
    intake_and_draw,
    issue_the_opinion,
    offer_slots,
    phone_page,
    rectify_on_the_phone,
    request_rectification,
    the_call,
    the_pair,
    window_verifies,
)
from tests.fixtures.app import Api

pytestmark = pytest.mark.e2e


@pytest.fixture
async def desks(browser: Browser, base_url: str) -> AsyncIterator[Desk]:
    """Every person's page; each page's script errors fail the test at the end."""
    desk = Desk(browser, base_url)
    yield desk
    await desk.close()
    assert not desk.errors, desk.errors


async def issue_link(page: Page, shots: Shots) -> str:
    """The dispatcher issues the applicant's link on the case page and copies it: its token."""
    await page.locator("#issue-link").click()
    url = await page.locator("#link-url").input_value()
    await shots(page, "dispatcher_drawn_and_linked")
    return url.split("#", 1)[1]


async def test_whole_product_from_intake_to_the_window_verifying_the_opinion(
    e2e_api: Api, base_url: str, browser: Browser, desks: Desk, shots: Shots
) -> None:
    people = await cast(e2e_api)

    dispatcher = await desks.login(people.dispatcher.username)
    case_id = await intake_and_draw(dispatcher)
    token = await issue_link(dispatcher, shots)
    pair = await the_pair(e2e_api, people, case_id)

    lead = await desks.login(pair[0].username)
    await offer_slots(lead, case_id, shots)

    phone = await phone_page(desks, browser)
    await phone.goto(f"{base_url}/applicant/#{token}")
    await expect(phone.locator("#timeline li.current")).to_have_text("已分派踏勘人员")
    await book_and_check(phone, shots)

    second = await the_call(e2e_api, desks, pair, case_id, lead, phone, shots)
    await request_rectification(lead, shots)
    await rectify_on_the_phone(phone, shots)
    await both_accept(lead, second, case_id, shots)
    await issue_the_opinion(desks, people.reviewer, lead, second, case_id, shots)
    await window_verifies(desks, people.window, shots)

    await phone.reload()
    await expect(phone.locator("#opinion-card")).to_be_visible()
    await expect(phone.locator("#opinion-conclusion")).to_have_text("结论：经整改后符合要求")
    await no_horizontal_scroll(phone)
    await shots(phone, "phone_opinion_issued")


async def test_link_that_expires_while_open_says_ask_the_window(
    e2e_api: Api, base_url: str, browser: Browser, desks: Desk, shots: Shots
) -> None:
    journey, _ = await offered_case(e2e_api)
    phone = await phone_page(desks, browser)
    await phone.goto(link_url(base_url, journey))
    await expect(phone.locator("#slots input[name=slot]")).to_have_count(2)
    async with e2e_api.ctx.sessionmaker() as session:
        await session.execute(
            update(CaseLink)
            .where(CaseLink.case_id == journey.case_id)
            .values(expires_at=utcnow() - timedelta(minutes=1))
        )
        await session.commit()

    await phone.locator("#slots label").first.click()
    await phone.locator("#confirm-slot").click()

    await expect(phone.locator("#banner")).to_contain_text("链接已失效")
    await expect(phone.locator("#banner")).to_contain_text("受理窗口")
    await expect(phone.locator("#appointment-card")).to_be_hidden()
    case = await e2e_api.client.get(f"/api/v1/cases/{journey.case_id}", headers=journey.dispatcher)
    assert case.json()["state"] == "assigned", "nothing was booked with the expired link"
    await shots(phone, "link_expired")
    assert re.search(r"/applicant/$", phone.url), "the token stays out of the address bar"
