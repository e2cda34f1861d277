"""Offline on-site mode: the console opens without signal (its service worker keeps the app
shell, the last case is kept on the device), work done offline survives a reload and is
uploaded once the connection returns, without duplicates or loss, with the phone's GPS fix and
the time each photo was taken (not the time it reached the server)."""

from __future__ import annotations

import re
import shutil
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles
from playwright.async_api import Browser, BrowserContext, Page, expect
from sqlalchemy import select
from starlette.routing import Mount

from server.evidence.service import haversine_m
from server.inspection.models import VerdictRow
from tests.e2e.conftest import WAIT_MS, Shots, phone_context
from tests.e2e.phone import in_progress_case, photo_taken, registered_ago
from tests.fixtures.app import PASSWORD, Api
from tests.flows import Journey, assign, open_case
from tests.helpers import wait_until

pytestmark = pytest.mark.e2e
expect.set_options(timeout=WAIT_MS)
WAIT_S = WAIT_MS / 1000  # the same bound for what the page does behind the scenes

CLIENT = Path(__file__).resolve().parents[2] / "mini_client"
VERSION = re.compile(r'const VERSION = "([^"]+)";')

SITE = (26.0878, 119.3036)  # the intake's site (tests/test_intake.py)
AT_SITE = {"latitude": 26.0881, "longitude": 119.3040, "accuracy": 15}  # ~50 m from it
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
# The paths of the API answers kept on the device for offline use (offline.js).
KEPT_PATHS = """() => new Promise((resolve, reject) => {
  const open = indexedDB.open("ci-console-reads", 1);
  open.onupgradeneeded = () => open.result.createObjectStore("reads", { keyPath: "key" });
  open.onsuccess = () => {
    const request = open.result.transaction("reads").objectStore("reads").getAll();
    request.onsuccess = () => resolve(request.result.map((r) => r.path).sort());
    request.onerror = () => reject(request.error);
  };
})"""
# Every URL path in the service worker's caches.
CACHED = """async () => {
  const paths = [];
  for (const name of await caches.keys()) {
    const cache = await caches.open(name);
    for (const request of await cache.keys()) paths.push(new URL(request.url).pathname);
  }
  return paths;
}"""
# The text of one cached file ('' when it is not cached).
CACHED_TEXT = """async (path) => {
  for (const name of await caches.keys()) {
    const hit = await (await caches.open(name)).match(path);
    if (hit) return hit.text();
  }
  return "";
}"""
SHELL_READY = "navigator.serviceWorker.controller !== null"
UPDATE = "navigator.serviceWorker.getRegistration().then((r) => r.update()).then(() => true)"


def when(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


@pytest.fixture
async def phone_page(browser: Browser) -> AsyncIterator[tuple[BrowserContext, Page, list[str]]]:
    context = await phone_context(browser)
    await context.set_geolocation(AT_SITE)
    page = await context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    yield context, page, errors
    await context.close()
    assert not errors, errors


async def login_and_open(page: Page, base_url: str, username: str, case_id: str) -> None:
    await page.goto(f"{base_url}/console/?#/case/{case_id}")
    await page.locator("#login-form input[name=username]").fill(username)
    await page.locator("#login-form input[name=password]").fill(PASSWORD)
    await page.locator("#login-submit").click()
    await expect(page.locator("#case-title")).to_be_visible()


async def kept_paths(page: Page) -> list[str]:
    return list(await page.evaluate(KEPT_PATHS))


async def case_kept(page: Page, case_id: str, part: str = "/checklist") -> None:
    """Wait until the case's answer is kept on the device (it is written after it shows)."""
    path = f"/api/v1/cases/{case_id}{part}"

    async def kept() -> bool:
        return path in await kept_paths(page)

    await wait_until(kept, within=WAIT_S, what=f"{path} kept on the device")


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


async def test_console_opens_offline_and_uploads_the_work_once(
    e2e_api: Api,
    base_url: str,
    phone_page: tuple[BrowserContext, Page, list[str]],
    shots: Shots,
    tmp_path: Path,
) -> None:
    journey = await in_progress_case(e2e_api)
    await registered_ago(e2e_api, journey, timedelta(days=1))
    lead = next(s for s in journey.inspectors if s.id == journey.case["inspector_ids"][0])
    context, page, _ = phone_page
    await login_and_open(page, base_url, lead.username, journey.case_id)
    items = page.locator("#checklist li.item:has(button.mark-pass)")
    await expect(items.nth(2)).to_be_visible()
    item_ids = [str(await items.nth(i).get_attribute("data-item")) for i in range(3)]
    await page.wait_for_function(SHELL_READY)  # installed, and in charge of this page
    await case_kept(page, journey.case_id)
    scope = await page.evaluate("navigator.serviceWorker.getRegistration().then(r => r.scope)")
    assert scope == f"{base_url}/console/"
    cached = set(await page.evaluate(CACHED))
    shell = {"/console/", "/console/app.js", "/console/offline.js", "/console/inspector.js"}
    assert shell | {"/console/console.css", "/shared/api.js", "/shared/ui.css"} <= cached
    assert all(p.startswith(("/console/", "/shared/")) for p in cached), cached  # no API answer
    await shots(page, "online")

    # No signal at the site. Two marks (item 0 changed its mind), then the page is reloaded.
    await context.set_offline(True)
    for index, value in [(0, "pass"), (0, "fail"), (1, "pass")]:
        item = items.nth(index)
        await item.locator(f"button.mark[data-value={value}]").click()
        await expect(item.locator(f"button.mark[data-value={value}]")).to_have_attribute(
            "aria-pressed", "true"
        )
        await expect(item).to_have_class(re.compile(r"\bqueued\b"))
    reloaded = await page.reload()

    assert reloaded is not None
    assert reloaded.from_service_worker  # the page itself came from the shell cache
    await expect(page.locator("#case-title")).to_be_visible()
    await expect(page.locator("#offline-state")).to_contain_text(
        "离线 — 显示的是本设备上保存的内容"
    )
    await expect(items.nth(2)).to_be_visible()  # the kept checklist, still editable
    await expect(items.nth(0).locator("button.mark-fail")).to_have_attribute("aria-pressed", "true")
    await expect(items.nth(1).locator("button.mark-pass")).to_have_attribute("aria-pressed", "true")
    await expect(page.locator("#outbox-count")).to_have_text("待上传 2 项")
    await shots(page, "offline_reloaded")
    # A new tab without signal (no login in it yet): the console opens and says why it waits.
    tab = await context.new_page()
    opened = await tab.goto(f"{base_url}/console/")
    assert opened is not None
    assert opened.from_service_worker
    await expect(tab.locator("#login-form")).to_be_visible()
    await expect(tab.locator("#offline-state")).to_contain_text("当前没有网络")
    await shots(tab, "offline_new_tab")
    await tab.close()

    # Still offline: one more mark and a photo (with the phone's position) after the reload.
    # The photo was taken 40 minutes ago and has no EXIF time: its file's time is when.
    await items.nth(2).locator("button.mark[data-value=not_applicable]").click()
    await expect(items.nth(2)).to_have_class(re.compile(r"\bqueued\b"))
    site_photo, taken = photo_taken(tmp_path, timedelta(minutes=40))
    await items.nth(0).locator("input.take-photo").set_input_files(files=[site_photo])
    await expect(items.nth(0).locator(".photo-out")).to_contain_text("照片已保存在本机")
    await expect(page.locator("#outbox-count")).to_have_text("待上传 4 项")
    saved = await page.evaluate(f"{OUTBOX}.then(m => m.queued())")
    assert [r["kind"] for r in saved] == ["verdict", "verdict", "verdict", "photo"], saved
    assert saved[0]["body"]["value"] == "fail"  # the later tap replaced the queued one
    photo = saved[3]
    assert re.fullmatch(r"[0-9a-f]{64}", photo["sha256"])
    assert (photo["gps"]["lat"], photo["gps"]["lng"]) == (AT_SITE["latitude"], AT_SITE["longitude"])
    assert photo["gps"]["accuracy_m"] == AT_SITE["accuracy"]
    assert when(photo["capturedAt"]) == taken  # recorded at capture, not at upload
    await shots(page, "offline_queued")

    # Signal again: the queue goes by itself; the page offers to load the server's view.
    back_online = datetime.now(UTC)
    await context.set_offline(False)
    await expect(page.locator("#outbox-count")).to_have_text("已全部上传")
    await expect(page.locator("#offline-state")).to_contain_text("网络已恢复")
    await page.locator("#offline-reload").click()
    await expect(page.locator("#offline-state")).to_be_hidden()
    await expect(items.nth(0).locator("button.mark-fail")).to_have_attribute("aria-pressed", "true")
    await shots(page, "uploaded")

    seen = await server_view(e2e_api, journey, item_ids)
    assert len(seen["uploads"]) == 1
    assert seen["uploads"][0]["status"] == "finalized"
    assert seen["uploads"][0]["sha256"] == photo["sha256"]
    assert len(seen["photos"]) == 1
    evidence = seen["photos"][0]
    assert evidence["item_ids"] == [item_ids[0]]
    assert evidence["meta"]["position_source"] == "device"  # the JPEG has no EXIF GPS
    where = evidence["position"]
    assert (where["lat"], where["lng"]) == (AT_SITE["latitude"], AT_SITE["longitude"])
    assert where["accuracy_m"] == AT_SITE["accuracy"]
    assert where["distance_m"] == pytest.approx(
        haversine_m(AT_SITE["latitude"], AT_SITE["longitude"], *SITE), abs=0.1
    )
    assert where["off_site"] is False
    # Dated by the phone's time of capture, before the signal came back and the upload began.
    assert evidence["meta"]["captured_at_source"] == "device"  # the JPEG has no EXIF time
    assert when(evidence["captured_at"]) == taken
    assert when(evidence["captured_at"]) < back_online <= when(seen["uploads"][0]["created_at"])
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


async def test_a_verdict_marked_offline_cites_the_photo_taken_with_it(
    e2e_api: Api,
    base_url: str,
    phone_page: tuple[BrowserContext, Page, list[str]],
    shots: Shots,
    tmp_path: Path,
) -> None:
    """An item that needs a photo when it fails, failed and photographed with no signal: once
    both are uploaded, the verdict cites the photo (it could not while the photo was queued)."""
    journey = await in_progress_case(e2e_api)
    await registered_ago(e2e_api, journey, timedelta(days=1))
    lead = next(s for s in journey.inspectors if s.id == journey.case["inspector_ids"][0])
    base = f"/api/v1/cases/{journey.case_id}"
    headers = journey.inspector_headers(0)
    listing = (await e2e_api.client.get(f"{base}/checklist", headers=headers)).json()
    item_id = next(i["id"] for i in listing["items"] if i["evidence"] in ("on_fail", "always"))
    context, page, _ = phone_page
    await login_and_open(page, base_url, lead.username, journey.case_id)
    await page.wait_for_function(SHELL_READY)
    await case_kept(page, journey.case_id)

    await context.set_offline(True)
    item = page.locator(f"#checklist li.item[data-item='{item_id}']")
    await item.locator("button.mark[data-value=fail]").click()
    await expect(item).to_have_class(re.compile(r"\bqueued\b"))
    site_photo, _ = photo_taken(tmp_path, timedelta(minutes=5))
    await item.locator("input.take-photo").set_input_files(files=[site_photo])
    await expect(page.locator("#outbox-count")).to_have_text("待上传 2 项")
    await context.set_offline(False)
    await expect(page.locator("#outbox-count")).to_have_text("已全部上传")

    async def cited() -> bool:
        answer = (await e2e_api.client.get(f"{base}/checklist", headers=headers)).json()
        row = next(i for i in answer["items"] if i["id"] == item_id)
        mine = next(v for v in row["verdicts"] if v["inspector_id"] == lead.id)
        return (
            mine["value"] == "fail"
            and bool(mine["evidence_refs"])
            and not row["evidence_violation"]
        )

    await wait_until(cited, within=WAIT_S, what=f"the fail verdict on {item_id} cites the photo")
    evidence = (await e2e_api.client.get(f"{base}/evidence", headers=headers)).json()
    (photo,) = [e for e in evidence if e["kind"] == "photo"]
    answer = (await e2e_api.client.get(f"{base}/checklist", headers=headers)).json()
    row = next(i for i in answer["items"] if i["id"] == item_id)
    mine = next(v for v in row["verdicts"] if v["inspector_id"] == lead.id)
    assert photo["id"] in mine["evidence_refs"]
    await shots(page, "offline_verdict_cites_photo")


async def test_a_photo_with_an_impossible_file_time_is_still_uploaded(
    e2e_api: Api,
    base_url: str,
    phone_page: tuple[BrowserContext, Page, list[str]],
    tmp_path: Path,
) -> None:
    """A file dated before the case existed (a wrong clock, an old picture): the server refuses
    that time, the console announces the photo again without it, the server's clock dates it."""
    journey = await in_progress_case(e2e_api)
    lead = next(s for s in journey.inspectors if s.id == journey.case["inspector_ids"][0])
    _, page, _ = phone_page
    await login_and_open(page, base_url, lead.username, journey.case_id)
    item = page.locator("#checklist li.item:has(button.mark-pass)").first
    old_photo, taken = photo_taken(tmp_path, timedelta(days=400))
    before = datetime.now(UTC)

    await item.locator("input.take-photo").set_input_files(files=[old_photo])

    await expect(page.locator("#outbox-count")).to_have_text("已全部上传")
    await expect(item.locator(".photo-count")).to_have_text("已归档照片 1 张")
    seen = await server_view(e2e_api, journey, [])
    assert [u["status"] for u in seen["uploads"]] == ["finalized"]
    [evidence] = seen["photos"]
    assert evidence["meta"]["captured_at_source"] == "server"
    assert evidence["meta"]["device_captured_at"] is None  # the refused time was not stored
    assert before <= when(evidence["captured_at"]) != taken
    assert evidence["meta"]["position_source"] == "device"  # the fix still went with it


async def test_only_the_last_case_is_kept_and_logout_forgets_it(
    e2e_api: Api,
    base_url: str,
    phone_page: tuple[BrowserContext, Page, list[str]],
) -> None:
    journey = await in_progress_case(e2e_api)
    lead = next(s for s in journey.inspectors if s.id == journey.case["inspector_ids"][0])
    _, page, _ = phone_page
    await login_and_open(page, base_url, lead.username, journey.case_id)
    await case_kept(page, journey.case_id)

    base = f"/api/v1/cases/{journey.case_id}"
    parts = ["", "/appointment", "/checklist", "/clock", "/opinion", "/rectification"]
    kept = await kept_paths(page)
    # No evidence links, tokens or other lists: only what the offline page needs.
    assert set(kept) <= {"/api/v1/matters", *(base + part for part in parts)}, kept
    assert {base, f"{base}/checklist"} <= set(kept)

    # Another case opened: the first one's copies are dropped.
    first = journey.case_id
    await open_case(journey, number="SQ-2", matters=["CB"])
    await assign(journey, pool=0)
    assert lead.id in journey.case["inspector_ids"]
    await page.goto(f"{base_url}/console/?#/case/{journey.case_id}")
    await expect(page.locator("#case-title")).to_contain_text(journey.case["number"])
    await case_kept(page, journey.case_id, "")

    async def first_dropped() -> bool:
        return not [p for p in await kept_paths(page) if first in p]

    await wait_until(first_dropped, within=WAIT_S, what="the first case's copies dropped")

    await page.locator("#logout").click()
    await expect(page.locator("#login-form")).to_be_visible()
    assert await kept_paths(page) == []


async def test_service_worker_is_served_as_javascript(e2e_api: Api) -> None:
    response = await e2e_api.client.get("/console/sw.js")

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/javascript")
    assert "ci-console-shell-" in response.text


@pytest.fixture
def shell_copy(e2e_app: FastAPI, tmp_path: Path) -> Path:
    """The app serves a copy of mini_client/, so a test can ship a new console version."""
    copy = tmp_path / "mini_client"
    shutil.copytree(CLIENT, copy)
    mount = next(r for r in e2e_app.routes if isinstance(r, Mount) and r.name == "client")
    mount.app = StaticFiles(directory=copy, html=True)
    return copy


async def test_a_new_console_version_is_used_from_the_next_load(
    e2e_api: Api,
    shell_copy: Path,
    base_url: str,
    phone_page: tuple[BrowserContext, Page, list[str]],
) -> None:
    journey = await in_progress_case(e2e_api)
    lead = next(s for s in journey.inspectors if s.id == journey.case["inspector_ids"][0])
    _, page, _ = phone_page
    await login_and_open(page, base_url, lead.username, journey.case_id)
    await page.wait_for_function(SHELL_READY)
    worker = shell_copy / "console" / "sw.js"
    match = VERSION.search(worker.read_text())
    assert match is not None
    assert await page.evaluate("caches.keys()") == [f"ci-console-shell-v{match[1]}"]

    # A changed module, same service worker: this load gets the cached copy, the next the new.
    module = shell_copy / "console" / "matters.js"
    module.write_text(module.read_text() + "\n// release 1.1\n")
    await page.reload()
    await expect(page.locator("#case-title")).to_be_visible()

    async def refreshed() -> bool:
        return "release 1.1" in await page.evaluate(CACHED_TEXT, "/console/matters.js")

    await wait_until(refreshed, within=WAIT_S, what="the changed module refreshed in the cache")

    # A new service worker: it installs a fresh cache, takes over, and the old cache goes.
    worker.write_text(VERSION.sub(f'const VERSION = "{match[1]}-next";', worker.read_text()))
    assert await page.evaluate(UPDATE) is True
    new_cache = f"ci-console-shell-v{match[1]}-next"

    async def replaced() -> bool:
        return await page.evaluate("caches.keys()") == [new_cache]

    await wait_until(replaced, within=WAIT_S, what="the new version's cache replacing the old one")
    reloaded = await page.reload()
    assert reloaded is not None
    assert reloaded.from_service_worker
    await expect(page.locator("#case-title")).to_be_visible()
    assert "release 1.1" in await page.evaluate(CACHED_TEXT, "/console/matters.js")
    assert "/console/app.js" in await page.evaluate(CACHED)
