"""The staff console in a real Chromium against the real app: one test per role's journey."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator, Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import Browser, expect

from server.auth.models import Role
from server.config import Settings
from server.devtools.tsa import DevTsaServer
from server.opinions.bundle_check import check_bundle
from server.opinions.models import Opinion
from server.opinions.service import signing_material
from tests.e2e.conftest import WAIT_MS, Shots
from tests.e2e.desk import Desk, case_page, lead_and_second, sign, slot_inputs
from tests.fixtures.app import Api
from tests.flows import (
    SIGNED,
    Journey,
    add_inspector,
    assign,
    conclude,
    open_case,
    refresh,
    schedule,
    start_journey,
    upload_photo,
)

pytestmark = pytest.mark.e2e

SHANGHAI = timedelta(hours=8)
expect.set_options(timeout=WAIT_MS)  # the machine is shared: allow slow moments


@pytest.fixture
async def desk(browser: Browser, base_url: str) -> AsyncIterator[Desk]:
    desk = Desk(browser, base_url)
    yield desk
    await desk.close()
    assert not desk.errors, desk.errors


async def test_dispatcher_takes_in_a_case_draws_and_issues_a_link(
    e2e_api: Api, desk: Desk, shots: Shots
) -> None:
    journey = await start_journey(e2e_api)
    matter = e2e_api.ctx.catalogue.matters[0].code
    for _ in range(3):
        await add_inspector(journey, [matter])
    dispatcher = await e2e_api.create_staff(Role.dispatcher)
    page = await desk.login(dispatcher.username)
    await expect(page.locator("#intake-form")).to_be_visible()
    await shots(page, "dispatcher_home")

    form = page.locator("#intake-form")
    await form.locator("input[name=application_no]").fill("SQ-E2E-1")
    await form.locator("input[name=applicant_name]").fill("惠民便利店有限公司")
    await form.locator("input[name=applicant_phone]").fill("13800138000")
    await form.locator("input[name=address]").fill("福州市鼓楼区东街88号")
    await form.locator("input[name=matters]").fill(matter)
    await page.locator("#intake-submit").click()
    await expect(page.locator("#case-state")).to_have_text("已受理")
    await expect(page.locator("#current-pair")).to_have_text("尚未分派踏勘人员。")
    # Matters read as their names, not catalogue codes.
    name = next(m.name for m in e2e_api.ctx.catalogue.matters if m.code == matter)
    await expect(page.locator("dl.facts")).to_contain_text(name)
    await shots(page, "case_received")

    await page.locator("#draw").click()
    result = page.locator("#draw-result")
    await expect(result.locator(".pair")).to_contain_text("主办")
    await expect(result.locator(".draw-reason")).not_to_be_empty()
    await expect(result.locator("ul.eligible li")).to_have_count(3)
    await expect(result.locator("ul.eligible")).not_to_contain_text("undefined")
    # The page follows the draw: the pair is shown and the case is no longer "received".
    await expect(page.locator("#current-pair")).to_contain_text("主办")
    await expect(page.locator("#case-state")).not_to_have_text("已受理")
    await shots(page, "drawn")

    await page.locator("#issue-link").click()
    await expect(page.locator("#link-url")).to_have_value(re.compile(r"/applicant/#ap_[\w-]+$"))
    await expect(page.locator("#link-out")).to_contain_text("只显示这一次")
    await shots(page, "link_issued")

    await page.locator("#nav a[href='#/board']").click()
    await expect(page.locator("#card-totals [data-card=red]")).to_be_visible()
    await expect(page.locator("#unassigned")).to_be_visible()
    await shots(page, "board")

    await page.locator("#lang-toggle").click()
    await expect(page.locator("h1")).to_have_text("Cloud inspection · Console")
    await expect(page.locator("#card-totals [data-card=red]")).to_contain_text("Red")
    await shots(page, "board_english")
    await page.locator("#lang-toggle").click()


async def test_inspector_offers_slots_marks_items_and_the_lead_resolves_a_disagreement(
    e2e_api: Api, desk: Desk, shots: Shots
) -> None:
    journey = await start_journey(e2e_api)
    await assign(journey)
    lead, _ = lead_and_second(journey)
    page = await desk.login(lead.username)
    number = journey.case["number"]
    await expect(page.locator(f"table.cases a:has-text('{number}')")).to_be_visible()
    await shots(page, "my_cases")

    await case_page(page, journey.case_id)
    first_at, first, second = slot_inputs()
    starts = page.locator("#slot-rows .slot-start")
    await starts.nth(0).fill(first)
    await starts.nth(1).fill(second)
    await page.locator("#offer-slots").click()
    await expect(page.locator("#open-slots li")).to_have_count(2)
    await shots(page, "slots_offered")

    client = e2e_api.client
    offered = await client.get(
        f"/api/v1/cases/{journey.case_id}/appointment", headers=journey.applicant
    )
    first = offered.json()["open_slots"][0]
    assert datetime.fromisoformat(first["starts_at"]) == first_at, first
    accepted = await client.post(
        f"/api/v1/cases/{journey.case_id}/appointment",
        json={"slot_id": first["id"]},
        headers=journey.applicant,
    )
    assert accepted.status_code == 200, accepted.text

    await page.reload()
    await expect(page.locator("#case-state")).to_have_text("已预约")
    await page.locator("#start-inspection").click()
    await expect(page.locator("#start-out")).to_be_empty()
    await expect(page.locator("#case-state")).to_have_text("踏勘中")
    await expect(page.locator("#join-call")).to_be_visible()
    items = page.locator("#checklist li.item")
    await expect(items.first).to_be_visible()
    await shots(page, "inspection_started")

    first_item, second_item = items.nth(0), items.nth(1)
    item_id = await first_item.get_attribute("data-item")
    await first_item.locator("textarea.note").fill("操作间地面整洁")
    await first_item.locator("button.mark-pass").click()
    await expect(first_item.locator("button.mark-pass")).to_have_attribute("aria-pressed", "true")
    await expect(first_item).to_contain_text("操作间地面整洁")
    await second_item.locator("textarea.note").fill("未见防鼠设施")
    await second_item.locator("button.mark-fail").click()
    await expect(second_item.locator("button.mark-fail")).to_have_attribute("aria-pressed", "true")
    await shots(page, "items_marked")

    other = await client.put(
        f"/api/v1/cases/{journey.case_id}/checklist/items/{item_id}/verdict",
        json={"value": "fail", "note": "地面有积水"},
        headers=journey.inspector_headers(1),
    )
    assert other.status_code == 200, other.text
    await page.reload()
    disputed = page.locator(f"#checklist li.item[data-item='{item_id}']")
    await expect(disputed).to_have_class(re.compile(r"\bdisagreement\b"))
    await expect(disputed).to_contain_text("地面有积水")
    await expect(page.locator("#disagreement-count")).to_be_visible()
    await shots(page, "disagreement")

    form = disputed.locator("form.resolution-form")
    await form.locator("select.resolution-value").select_option("pass")
    await form.locator("textarea.resolution-reason").fill("回看录像，积水为拖地后残留")
    await form.locator("button.resolve").click()
    await expect(disputed).to_contain_text("回看录像，积水为拖地后残留")
    await expect(disputed).not_to_have_class(re.compile(r"\bdisagreement\b"))
    await expect(disputed.locator("form.resolution-form")).to_have_count(0)
    await expect(page.locator("#disagreement-count")).to_have_count(0)

    await disputed.locator("button.show-item").click()
    await expect(disputed.locator("button.show-item")).to_have_attribute("aria-pressed", "true")
    await expect(disputed).to_have_class(re.compile(r"\bcurrent\b"))
    await expect(disputed.locator(".settled")).to_contain_text("符合")
    await shots(page, "resolved")

    await page.locator("#join-call").click()
    await expect(page.locator("#call-status")).to_have_text(re.compile("已进入房间|已连线"))
    await expect(page.locator("#call-people li")).to_have_count(1)
    await shots(page, "in_call")
    await page.locator("#leave-call").click()
    await expect(page.locator("#call-status")).to_have_text("已离开通话。")


async def test_an_inspector_is_told_the_board_is_not_for_them(
    e2e_api: Api, desk: Desk, shots: Shots
) -> None:
    inspector = await e2e_api.create_staff(Role.inspector)
    page = await desk.login(inspector.username)
    await expect(page.locator("#nav a[href='#/board']")).to_have_count(0)
    await page.goto(f"{page.url.split('#')[0]}#/board")
    await expect(page.locator("#banner [role=alert]")).to_contain_text("联系管理员")
    await expect(page.locator("#card-totals")).to_have_count(0)
    await shots(page, "board_refused")


async def review_ready(api: Api) -> Journey:
    """A case whose checklist all passed, drafted, signed and co-signed: awaiting review."""
    journey = await start_journey(api)
    for _ in range(2):
        await add_inspector(journey, ["CB"])
    await open_case(journey, matters=["CB"])
    await assign(journey, pool=0)
    await schedule(journey)
    lead, second = journey.inspector_headers(0), journey.inspector_headers(1)
    base = f"/api/v1/cases/{journey.case_id}"
    assert (await api.client.post(f"{base}/inspection/start", headers=lead)).status_code == 200
    listing = (await api.client.get(f"{base}/checklist", headers=lead)).json()
    taken = await upload_photo(api, journey.case_id, lead, [])  # a photo the verdicts cite
    assert taken.status_code == 200, taken.text
    for item in listing["items"]:
        for who in (lead, second):
            cited = [taken.json()["evidence"]["id"]]
            body: dict[str, Any] = {"value": "pass", "evidence_refs": cited}
            marked = await api.client.put(
                f"{base}/checklist/items/{item['id']}/verdict", json=body, headers=who
            )
            assert marked.status_code == 200, marked.text
    await conclude(api, journey.case_id, lead)
    for step, who in (("draft", lead), ("submit", lead), ("cosign", second)):
        body = SIGNED if step == "cosign" else None
        response = await api.client.post(f"{base}/opinion/{step}", json=body, headers=who)
        assert response.status_code == 200, response.text
    await refresh(journey)
    return journey


async def test_reviewer_approves_and_the_window_verifies_and_acknowledges(
    e2e_api: Api, desk: Desk, shots: Shots
) -> None:
    journey = await review_ready(e2e_api)
    number = journey.case["number"]
    reviewer = await e2e_api.create_staff(Role.reviewer)
    page = await desk.login(reviewer.username)
    await expect(page.locator(f"#awaiting-review a:has-text('{number}')")).to_be_visible()
    await shots(page, "review_queue")

    await page.locator(f"#awaiting-review a:has-text('{number}')").click()
    await expect(page.locator("#opinion-status")).to_have_text("待审核")
    await expect(page.locator("#opinion-conclusion")).to_have_text("符合要求")
    rows = page.locator("#review-checklist tbody tr")
    await expect(rows.first).to_be_visible()  # the checklist with both inspectors' verdicts
    await expect(rows.first.locator(".verdicts li")).to_have_count(2)
    await rows.first.locator("button.photo-open").first.click()
    await expect(rows.first.locator("img.thumb")).to_be_visible()
    await page.locator("#show-preview").click()
    await expect(page.locator("#preview-frame")).to_be_visible()
    await shots(page, "review_case")
    await sign(page, "approve", "not my password")
    await expect(page.locator(".sign-form .banner.error")).to_contain_text("密码不正确")
    await expect(page.locator("#opinion-status")).to_have_text("待审核")
    await sign(page, "approve")
    await expect(page.locator("#opinion-status")).to_have_text("已出具")
    await expect(page.locator("#case-state")).to_have_text("已出具意见")
    await shots(page, "approved")

    window = await e2e_api.create_staff(Role.window)
    desk_page = await desk.login(window.username)
    row = desk_page.locator(f"#opinions tr[data-case-number='{number}']")
    await expect(row).to_contain_text("符合要求")
    await shots(desk_page, "window_list")
    await row.locator("button.verify").click()
    await expect(row.locator(".verify-out")).to_contain_text("有效（现行版本）")
    await expect(row.locator(".verify-out")).to_contain_text("文件摘要一致")
    # The signature check /verify made of the stored PDF: no TSA here, so PAdES B-B.
    opinion = (
        await e2e_api.client.get("/api/v1/opinions", headers=await e2e_api.login(window.username))
    ).json()[0]
    verified = (await e2e_api.client.get(f"/verify/{opinion['verification_code']}")).json()
    assert (verified["signature"]["ok"], verified["signature"]["level"]) == (True, "B-B")
    check = row.locator(".signature-check")
    await expect(check).to_have_attribute("data-ok", "true")
    await expect(check).to_have_attribute("data-level", "B-B")
    await expect(check.locator(".signature-verdict")).to_have_text("数字签名有效。")
    await expect(check).to_contain_text("签名级别 PAdES B-B")
    await expect(check).to_contain_text("无可信时间戳")
    await expect(check.locator(".signature-problems")).to_have_count(0)
    await shots(desk_page, "window_verified")
    async with desk_page.context.expect_page():
        await row.locator("button[id^=open-pdf]").click()
    await expect(row.locator("a.pdf-link")).to_have_attribute("href", re.compile(r"^blob:"))
    # The evidence bundle: exported from the desk, it verifies offline object by object.
    await row.locator("button[id^=export-bundle]").click()
    async with desk_page.expect_download() as download_info:
        await row.locator("a.bundle-link").click()
    download = await download_info.value
    assert download.suggested_filename == f"踏勘证据包-{number}.zip"
    bundle = await asyncio.to_thread(Path(await download.path()).read_bytes)
    roots = signing_material(e2e_api.ctx.settings).trust_roots()
    assert (await asyncio.to_thread(check_bundle, bundle, roots)).ok
    await row.locator("button.acknowledge").click()
    await expect(row.locator("td.ack")).to_contain_text("已签收")
    await shots(desk_page, "acknowledged")
    opinions = await e2e_api.client.get(
        "/api/v1/opinions", headers=await e2e_api.login(window.username)
    )
    assert opinions.json()[0]["acknowledged_by"] == window.id

    # The archived PDF damaged in storage: the desk says the signature does not hold, and why.
    async with e2e_api.ctx.sessionmaker() as session:
        stored = await session.get(Opinion, opinion["id"])
    assert stored is not None
    assert stored.pdf_key
    await e2e_api.ctx.store.put(stored.pdf_key, b"%PDF-1.7 not the signed file", "application/pdf")
    e2e_api.ctx.signature_checks.clear()  # the check is kept for minutes per process
    await row.locator("button.verify").click()
    await expect(check).to_have_attribute("data-ok", "false")
    await expect(check.locator(".signature-verdict")).to_have_text(
        "数字签名未通过验证，请勿使用并联系审核人员。"
    )
    await expect(check).to_contain_text("无 PAdES 签名级别")
    await expect(check.locator(".signature-problems li")).to_contain_text("无法读取存档的 PDF")
    await expect(check.locator(".signature-problems li")).not_to_contain_text("stored PDF")


class TestWithATimestampAuthority:
    """The bureau signs through a TSA (PAdES B-LT): the desk shows the trusted time."""

    @pytest.fixture
    def e2e_settings(self, e2e_settings: Settings) -> Iterator[Settings]:
        with DevTsaServer(e2e_settings.data_dir) as tsa:
            yield e2e_settings.model_copy(update={"tsa_url": tsa.url, "tsa_timeout_seconds": 5})

    async def test_window_sees_the_signature_timestamp_in_beijing_time(
        self, e2e_api: Api, desk: Desk, shots: Shots
    ) -> None:
        journey = await review_ready(e2e_api)
        reviewer = await e2e_api.create_staff(Role.reviewer)
        approved = await e2e_api.client.post(
            f"/api/v1/cases/{journey.case_id}/opinion/approve",
            json=SIGNED,
            headers=await e2e_api.login(reviewer.username),
        )
        assert approved.status_code == 200, approved.text
        code = approved.json()["verification_code"]
        signature = (await e2e_api.client.get(f"/verify/{code}")).json()["signature"]
        assert (signature["ok"], signature["level"], signature["timestamp_valid"]) == (
            True,
            "B-LT",
            True,
        )
        stamped = datetime.fromisoformat(signature["timestamp_time"].replace("Z", "+00:00"))
        beijing = (stamped + SHANGHAI).strftime("%Y-%m-%d %H:%M:%S")
        assert signature["timestamp_time_beijing"] == beijing

        window = await e2e_api.create_staff(Role.window)
        page = await desk.login(window.username)
        row = page.locator(f"#opinions tr[data-case-number='{journey.case['number']}']")
        await row.locator("button.verify").click()
        check = row.locator(".signature-check")
        await expect(check).to_have_attribute("data-ok", "true")
        await expect(check).to_have_attribute("data-level", "B-LT")
        await expect(check).to_contain_text(f"可信时间戳 {beijing}（北京时间）有效")
        await shots(page, "window_timestamp")

        await page.locator("#lang-toggle").click()
        row = page.locator(f"#opinions tr[data-case-number='{journey.case['number']}']")
        await row.locator("button.verify").click()
        check = row.locator(".signature-check")
        await expect(check.locator(".signature-verdict")).to_have_text("Digital signature valid.")
        await expect(check).to_contain_text("PAdES level B-LT")
        await expect(check).to_contain_text(f"Timestamp {beijing} (Beijing time) valid")
        await page.locator("#lang-toggle").click()


async def test_reviewer_sends_back_ticked_items_and_keeps_the_case(
    e2e_api: Api, desk: Desk, shots: Shots
) -> None:
    journey = await review_ready(e2e_api)
    reviewer = await e2e_api.create_staff(Role.reviewer)
    page = await desk.login(reviewer.username)
    await case_page(page, journey.case_id)
    await page.locator("#send-back-box summary").click()
    await page.locator("#send-back-text").fill("请复核第一项")
    await page.locator("#send-back").click()  # nothing ticked: told to tick, nothing sent
    await expect(page.locator("#send-back-box .banner.error")).to_contain_text("至少勾选")
    await expect(page.locator("#opinion-status")).to_have_text("待审核")
    first = page.locator("#review-checklist tbody tr").first
    item_id = await first.get_attribute("data-item")
    await first.locator("input[name=send-back-item]").check()
    await shots(page, "send_back_items")
    await page.locator("#send-back").click()
    await expect(page.locator("#case-state")).to_have_text("意见起草")
    await expect(page.locator("#reopened-items")).to_have_text(str(item_id))
    reopened = page.locator(f"#review-checklist tr[data-item='{item_id}'].reopened")
    await expect(reopened).to_be_visible()

    # The lead may mark again exactly the item sent back; the others stay as they were.
    lead_staff, _ = lead_and_second(journey)
    lead = await desk.login(lead_staff.username)
    await case_page(lead, journey.case_id)
    items = lead.locator("li.item")
    await expect(items.first).to_be_visible()
    await expect(lead.locator(f"li.item[data-item='{item_id}'] button.mark-pass")).to_be_visible()
    await expect(items.locator("button.mark-pass")).to_have_count(1)


async def test_each_desk_shows_only_the_buttons_of_the_actions_the_case_lists(
    e2e_api: Api, desk: Desk
) -> None:
    journey = await start_journey(e2e_api)
    await schedule(journey)
    lead, second = lead_and_second(journey)
    dispatcher = await e2e_api.create_staff(Role.dispatcher)

    page = await desk.login(dispatcher.username)
    await case_page(page, journey.case_id)
    await expect(page.locator("#switch-onsite-form")).to_be_attached()  # rendered last
    await expect(page.locator("#current-pair")).to_be_visible()
    for inspectors_only in ("#start-inspection", "#slots-form", "#draw"):  # drawn already
        await expect(page.locator(inspectors_only)).to_have_count(0)

    page = await desk.login(second.username)
    await case_page(page, journey.case_id)
    await expect(page.locator("#start-inspection")).to_be_visible()
    for not_the_second in ("#switch-onsite-form", "#draw", "#current-pair"):
        await expect(page.locator(not_the_second)).to_have_count(0)

    page = await desk.login(lead.username)
    await case_page(page, journey.case_id)
    await expect(page.locator("#start-inspection")).to_be_visible()
    await expect(page.locator("#switch-onsite-form")).to_be_attached()
    await expect(page.locator("#current-pair")).to_have_count(0)
