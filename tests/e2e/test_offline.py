"""Offline on-site mode: verdicts and a photo taken without signal survive a reload and are
uploaded once the connection returns, without duplicates or loss."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import Browser, BrowserContext, Page, Route, expect
from sqlalchemy import select

from server.inspection.models import VerdictRow
from tests.e2e.conftest import WAIT_MS, Shots, phone_context
from tests.fixtures.app import PASSWORD, Api
from tests.flows import Journey, add_inspector, assign, open_case, schedule, start_journey
from tests.uploads.test_images import jpeg

pytestmark = pytest.mark.e2e
expect.set_options(timeout=WAIT_MS)

CLIENT = Path(__file__).resolve().parents[2] / "mini_client"
TYPES = {".html": "text/html", ".js": "text/javascript", ".css": "text/css"}
OUTBOX = "import('/console/offline.js')"
# Put records back into the outbox as if the device crashed after sending, before confirming.
REQUEUE = """records => new Promise((resolve, reject) => {
  const open = indexedDB.open("ci-console-outbox", 1);
  open.onsuccess = () => {
    const tx = open.result.transaction("actions", "readwrite");
    for (const r of records) tx.objectStore("actions").put(r);
    tx.oncomplete = () => resolve(records.length);
    tx.onerror = () => reject(tx.error);
  };
})"""


async def in_progress_case(api: Api) -> Journey:
    journey = await start_journey(api)
    for _ in range(2):
        await add_inspector(journey, ["CB"])
    await open_case(journey, matters=["CB"])
    await assign(journey, pool=0)
    await schedule(journey)
    started = await api.client.post(
        f"/api/v1/cases/{journey.case_id}/inspection/start", headers=journey.inspector_headers(0)
    )
    assert started.status_code == 200, started.text
    return journey


@pytest.fixture
async def phone_page(browser: Browser) -> AsyncIterator[tuple[BrowserContext, Page, list[str]]]:
    context = await phone_context(browser)
    page = await context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    yield context, page, errors
    await context.close()
    assert not errors, errors


async def login_and_open(page: Page, base_url: str, username: str, case_id: str) -> None:
    await page.goto(f"{base_url}/console/?#/case/{case_id}")
    await page.reload()
    await page.locator("#login-form input[name=username]").fill(username)
    await page.locator("#login-form input[name=password]").fill(PASSWORD)
    await page.locator("#login-submit").click()
    await expect(page.locator("#case-title")).to_be_visible()


async def app_shell(route: Route) -> None:
    """The console's own files from disk, as a cached app shell would give them offline."""
    path = route.request.url.split("#")[0].split("?")[0].split("/", 3)[3]
    file = CLIENT / (path + "index.html" if path.endswith("/") else path)
    await route.fulfill(body=file.read_bytes(), content_type=TYPES.get(file.suffix, "text/plain"))


async def server_view(api: Api, journey: Journey, item_ids: list[str]) -> dict[str, Any]:
    headers = journey.inspector_headers(0)
    base = f"/api/v1/cases/{journey.case_id}"
    uploads = (await api.client.get(f"{base}/uploads", headers=headers)).json()
    evidence = (await api.client.get(f"{base}/evidence", headers=headers)).json()
    checklist = (await api.client.get(f"{base}/checklist", headers=headers)).json()
    lead_id = journey.case["inspector_ids"][0]
    latest = {
        item["id"]: next(v["value"] for v in item["verdicts"] if v["inspector_id"] == lead_id)
        for item in checklist["items"]
        if item["id"] in item_ids
    }
    rows: dict[str, list[str]] = {}
    async with api.ctx.sessionmaker() as session:
        query = (
            select(VerdictRow.item_id, VerdictRow.value)
            .where(VerdictRow.case_id == journey.case_id, VerdictRow.inspector_id == lead_id)
            .order_by(VerdictRow.id)
        )
        for item, value in (await session.execute(query)).all():
            rows.setdefault(str(item), []).append(str(value))
    photos = [e for e in evidence if e["kind"] == "photo"]
    return {"uploads": uploads, "photos": photos, "latest": latest, "rows": rows}


async def test_offline_work_survives_a_reload_and_is_uploaded_once(
    e2e_api: Api,
    base_url: str,
    phone_page: tuple[BrowserContext, Page, list[str]],
    shots: Shots,
) -> None:
    journey = await in_progress_case(e2e_api)
    lead = next(s for s in journey.inspectors if s.id == journey.case["inspector_ids"][0])
    context, page, _ = phone_page
    await login_and_open(page, base_url, lead.username, journey.case_id)
    items = page.locator("#checklist li.item:has(button.mark-pass)")
    await expect(items.nth(2)).to_be_visible()
    item_ids = [str(await items.nth(i).get_attribute("data-item")) for i in range(3)]

    await context.set_offline(True)
    taps = [(0, "pass"), (0, "fail"), (1, "pass"), (2, "not_applicable")]  # item 0 changed
    for index, value in taps:
        item = items.nth(index)
        await item.locator(f"button.mark[data-value={value}]").click()
        await expect(item.locator(f"button.mark[data-value={value}]")).to_have_attribute(
            "aria-pressed", "true"
        )
        await expect(item).to_have_class(re.compile(r"\bqueued\b"))
    await (
        items.nth(0)
        .locator("input.take-photo")
        .set_input_files(
            files=[{"name": "site.jpg", "mimeType": "image/jpeg", "buffer": jpeg((640, 480))}]
        )
    )
    await expect(items.nth(0).locator(".photo-out")).to_contain_text("照片已保存在本机")
    await expect(page.locator("#outbox-count")).to_have_text("待上传 4 项")
    await shots(page, "offline_queued")

    await context.route(re.compile(r"/(console|shared)/"), app_shell)
    await page.reload()  # still offline: the shell comes from the "cache", the queue from IDB
    await expect(page.locator("#outbox-count")).to_have_text("待上传 4 项")
    saved = await page.evaluate(f"{OUTBOX}.then(m => m.queued())")
    assert [r["kind"] for r in saved] == ["verdict", "verdict", "verdict", "photo"], saved
    assert saved[0]["body"]["value"] == "fail"  # the later tap replaced the queued one
    photo = saved[3]
    assert re.fullmatch(r"[0-9a-f]{64}", photo["sha256"])
    assert photo["gps"]["accuracy_m"] == 20
    await shots(page, "offline_reloaded")
    await context.unroute(re.compile(r"/(console|shared)/"), app_shell)

    await context.set_offline(False)
    # Back online the inspector reopens the console (a document from the route above would be
    # denied loopback storage by Chromium's local network access rules). The login survived
    # the time offline: no need to log in again.
    await page.goto(f"{base_url}/console/?#/case/{journey.case_id}")
    await page.reload()
    await expect(page.locator("#case-title")).to_be_visible()
    await expect(page.locator("#outbox-count")).to_have_text("已全部上传")
    await expect(items.nth(0).locator("button.mark-fail")).to_have_attribute("aria-pressed", "true")
    await shots(page, "uploaded")

    seen = await server_view(e2e_api, journey, item_ids)
    assert len(seen["uploads"]) == 1
    assert seen["uploads"][0]["status"] == "finalized"
    assert seen["uploads"][0]["sha256"] == photo["sha256"]
    assert len(seen["photos"]) == 1
    assert seen["photos"][0]["item_ids"] == [item_ids[0]]
    expected = dict(zip(item_ids, ["fail", "pass", "not_applicable"], strict=True))
    assert seen["latest"] == expected
    # The replaced "pass" never went out. Delivery is at least once (a replay interrupted by
    # a reload may send a verdict twice: history rows, the latest counts), never a stale value.
    assert "pass" not in seen["rows"][item_ids[0]]
    assert {item: set(values) for item, values in seen["rows"].items()} == {
        item: {value} for item, value in expected.items()
    }

    # Connection lost and back again: nothing left to replay, nothing sent twice.
    await context.set_offline(True)
    await context.set_offline(False)
    assert await page.evaluate(f"{OUTBOX}.then(m => m.flush())") is True
    assert (await server_view(e2e_api, journey, item_ids))["rows"] == seen["rows"]

    # A crash after the server answered but before the device forgot: the same records replay.
    assert await page.evaluate(REQUEUE, saved) == 4
    assert await page.evaluate(f"{OUTBOX}.then(m => m.flush())") is True
    await expect(page.locator("#outbox-count")).to_have_text("已全部上传")
    again = await server_view(e2e_api, journey, item_ids)
    assert [u["id"] for u in again["uploads"]] == [u["id"] for u in seen["uploads"]]
    assert [p["id"] for p in again["photos"]] == [p["id"] for p in seen["photos"]]
    assert again["latest"] == expected
    await shots(page, "replayed_again")
