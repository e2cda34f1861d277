"""The inspector's workspace during a live call, in Chromium: a case in progress with its pair,
the phone and both consoles joined, and the checklist marked through the API where a test
needs a later step (helpers for tests/e2e/test_workspace*.py)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from playwright.async_api import Browser, Page, expect

from tests.e2e.conftest import phone_context
from tests.e2e.desk import Desk, case_page, lead_and_second
from tests.e2e.phone import link_url
from tests.fixtures.app import Api
from tests.flows import (
    Journey,
    add_inspector,
    assign,
    open_case,
    schedule,
    start_journey,
    upload_photo,
)

PLAYING = """(sel) => { const v = document.querySelector(sel);
  return v && v.readyState >= 2 && v.videoWidth > 0; }"""
# The element's box lies inside the window (what "pinned at any scroll" means for the picture).
IN_VIEWPORT = """(sel) => { const r = document.querySelector(sel).getBoundingClientRect();
  return r.height > 0 && r.top >= 0 && r.bottom <= window.innerHeight; }"""


async def started_case(api: Api, matter: str = "CB") -> Journey:
    """A case of ``matter`` in progress, its pair drawn among two qualified inspectors."""
    journey = await start_journey(api)
    for _ in range(2):
        await add_inspector(journey, [matter])
    await open_case(journey, matters=[matter])
    await assign(journey, pool=0)
    await schedule(journey)
    started = await api.client.post(
        f"/api/v1/cases/{journey.case_id}/inspection/start", headers=journey.inspector_headers(0)
    )
    assert started.status_code == 200, started.text
    return journey


@dataclass
class Call:
    phone: Page
    lead: Page
    second: Page | None


async def phone_in_call(desks: Desk, browser: Browser, journey: Journey) -> Page:
    context = await phone_context(browser)
    desks.contexts.append(context)
    phone = await context.new_page()
    phone.on("pageerror", lambda error: desks.errors.append(f"phone: {error}"))
    await phone.goto(link_url(desks.base_url, journey))
    await phone.locator("#join-call").click()
    await phone.wait_for_function(PLAYING, arg="#call-preview")
    return phone


async def console_in_call(desks: Desk, username: str, case_id: str) -> Page:
    page = await desks.login(username)
    await case_page(page, case_id)
    await page.locator("#join-call").click()
    await expect(page.locator("#call-status")).to_have_text("已连线。")
    await page.wait_for_function(PLAYING, arg="#call-video")
    return page


async def everyone_in_call(
    desks: Desk, browser: Browser, journey: Journey, *, second: bool = True
) -> Call:
    lead_staff, second_staff = lead_and_second(journey)
    phone = await phone_in_call(desks, browser, journey)
    lead = await console_in_call(desks, lead_staff.username, journey.case_id)
    other = await console_in_call(desks, second_staff.username, journey.case_id) if second else None
    return Call(phone, lead, other)


def item(page: Page, item_id: str) -> Any:
    return page.locator(f"#checklist li.item[data-item='{item_id}']")


async def my_verdicts(journey: Journey, position: int) -> dict[str, str]:
    """Item id → the stored value of this inspector's latest verdict (read through the API)."""
    headers = journey.inspector_headers(position)
    me = (await journey.api.client.get("/api/v1/auth/me", headers=headers)).json()["id"]
    listing = await journey.api.client.get(
        f"/api/v1/cases/{journey.case_id}/checklist", headers=headers
    )
    return {
        i["id"]: v["value"]
        for i in listing.json()["items"]
        for v in i["verdicts"]
        if v["inspector_id"] == me
    }


async def fail_only(journey: Journey, failed: str) -> None:
    """Both inspectors mark every item, ``failed`` as failed and the rest passed, each citing
    a photo of the site: the conclusion is then "pass after rectification" of ``failed``."""
    api, base = journey.api, f"/api/v1/cases/{journey.case_id}"
    taken = await upload_photo(api, journey.case_id, journey.inspector_headers(1), [])
    assert taken.status_code == 200, taken.text
    cited = taken.json()["evidence"]["id"]
    listing = await api.client.get(f"{base}/checklist", headers=journey.inspector_headers(0))
    for entry in listing.json()["items"]:
        if entry["record_only"]:
            continue
        failing = entry["id"] == failed
        body = {
            "value": "fail" if failing else "pass",
            "note": "租赁合同已到期" if failing else "",
            "evidence_refs": [cited],
        }
        for position in (0, 1):
            marked = await api.client.put(
                f"{base}/checklist/items/{entry['id']}/verdict",
                json=body,
                headers=journey.inspector_headers(position),
            )
            assert marked.status_code == 200, marked.text
