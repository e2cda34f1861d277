"""The staff console driven in Chromium: a staff member's desk, a case's page, a drawn pair."""

from __future__ import annotations

from datetime import datetime, timedelta

from playwright.async_api import Browser, BrowserContext, Page, expect

from server.auth.models import Staff
from server.platform.time import CHINA_TZ
from tests.e2e.conftest import WAIT_MS
from tests.fixtures.app import PASSWORD
from tests.flows import (
    Journey,
    slot,
)


class Desk:
    """Staff desks: one browser context per person, every page's script errors collected."""

    def __init__(self, browser: Browser, base_url: str) -> None:
        self.browser = browser
        self.base_url = base_url
        self.contexts: list[BrowserContext] = []
        self.errors: list[str] = []

    async def login(self, username: str) -> Page:
        context = await self.browser.new_context(
            viewport=DESKTOP, locale="zh-CN", timezone_id="Europe/London"
        )
        context.set_default_timeout(WAIT_MS)
        self.contexts.append(context)
        page = await context.new_page()
        page.on("pageerror", lambda error: self.errors.append(str(error)))
        await page.goto(f"{self.base_url}/console/")
        await page.locator("#login-form input[name=username]").fill(username)
        await page.locator("#login-form input[name=password]").fill(PASSWORD)
        await page.locator("#login-submit").click()
        await expect(page.locator("#logout")).to_be_visible()
        return page

    async def close(self) -> None:
        for context in self.contexts:
            await context.close()


def lead_and_second(journey: Journey) -> tuple[Staff, Staff]:
    by_id = {s.id: s for s in journey.inspectors}
    lead_id, second_id = journey.case["inspector_ids"]
    return by_id[lead_id], by_id[second_id]


async def sign(page: Page, button_id: str, password: str = PASSWORD) -> None:
    """A signing step on the page: confirm with the password, then press the button."""
    await page.locator(f"#{button_id}-password").fill(password)
    await page.locator(f"#{button_id}").click()


async def case_page(page: Page, case_id: str) -> None:
    await page.goto(f"{page.url.split('#')[0]}#/case/{case_id}")
    await expect(page.locator("#case-title")).to_be_visible()


DESKTOP = {"width": 1280, "height": 900}


def slot_inputs() -> tuple[datetime, str, str]:
    """Two times for the slots form (Beijing wall time, on its quarter hours), two hours apart,
    on a working day before a fresh case's due time as the booking rules want; and the first
    as an instant."""
    first = datetime.fromisoformat(slot(2)["starts_at"]).astimezone(CHINA_TZ)
    first = first.replace(second=0, microsecond=0) + timedelta(minutes=15 - first.minute % 15)
    later = first + timedelta(hours=2)
    return first, f"{first:%Y-%m-%dT%H:%M}", f"{later:%Y-%m-%dT%H:%M}"
