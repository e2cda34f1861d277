"""The whole product through its pages, once, as issue 7 asks: intake and the draw at the
dispatcher's desk, the applicant's phone (360 px) booking, checking and joining a real live call,
two inspector consoles watching its moving video and walking the checklist with snapshots, a
failed rectifiable item, the rectification photo from the phone, both inspectors accepting it,
the opinion drafted, co-signed, approved and issued, and the window staff verifying it.

Also the issue's bad path not covered elsewhere: a link that expires while the page is open.
"""

from __future__ import annotations

import io
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest
from PIL import Image, ImageDraw
from playwright.async_api import Browser, Page, expect
from sqlalchemy import update

from server.auth.models import Role, Staff
from server.cases.models import CaseLink
from server.db import utcnow
from tests.e2e.conftest import Shots, phone_context
from tests.e2e.desk import Desk, case_page, sign, slot_inputs
from tests.e2e.phone import image_loaded, link_url, no_horizontal_scroll, offered_case
from tests.fixtures.app import Api
from tests.flows import add_inspector, start_journey

pytestmark = pytest.mark.e2e

MATTER = "CB"  # 出版物批发许可: a short checklist with photo-always items and rectifiable ones
FAILED = "SH-02"  # 场所使用权: fails, rectifiable by a photo of the renewed lease
SHANGHAI = timedelta(hours=8)
PHOTO_ON_PASS = {"always", "on_pass"}
PHOTO_ON_FAIL = {"always", "on_fail"}
# A <video> is moving when it decodes more frames and its clock advances (bounded polling).
MOVING = """([sel, frames, time]) => { const v = document.querySelector(sel);
  if (!v) return false;
  return v.getVideoPlaybackQuality().totalVideoFrames > frames + 10 && v.currentTime > time; }"""
PLAYING = """(sel) => { const v = document.querySelector(sel);
  return v && v.readyState >= 2 && v.videoWidth > 0; }"""
PLAYBACK = """(sel) => { const v = document.querySelector(sel);
  return [v.getVideoPlaybackQuality().totalVideoFrames, v.currentTime]; }"""


@pytest.fixture
async def desks(browser: Browser, base_url: str) -> AsyncIterator[Desk]:
    """Every person's page; each page's script errors fail the test at the end."""
    desk = Desk(browser, base_url)
    yield desk
    await desk.close()
    assert not desk.errors, desk.errors


async def phone_page(desk: Desk, browser: Browser) -> Page:
    context = await phone_context(browser)
    desk.contexts.append(context)
    page = await context.new_page()
    page.on("pageerror", lambda error: desk.errors.append(f"phone: {error}"))
    return page


def lease_photo() -> bytes:
    """A camera-sized JPEG of a (drawn) renewed lease on a desk, made with PIL."""
    image = Image.new("RGB", (1024, 768), (176, 142, 104))
    draw = ImageDraw.Draw(image)
    draw.rectangle((262, 84, 762, 704), fill=(250, 249, 244), outline=(90, 90, 90), width=3)
    for y in range(170, 600, 34):
        draw.line((312, y, 712 - (y % 3) * 40, y), fill=(60, 60, 70), width=5)
    draw.ellipse((560, 560, 700, 690), outline=(200, 30, 30), width=8)
    out = io.BytesIO()
    image.save(out, "JPEG", quality=88)
    return out.getvalue()


@dataclass
class Cast:
    dispatcher: Staff
    inspectors: list[Staff]
    reviewer: Staff
    window: Staff

    def by_id(self, staff_id: str) -> Staff:
        return next(s for s in self.inspectors if s.id == staff_id)


async def cast(api: Api) -> Cast:
    """Two inspectors qualified for the matter (so the draw picks both), and the other desks."""
    journey = await start_journey(api)
    inspectors = [await add_inspector(journey, [MATTER]) for _ in range(2)]
    return Cast(
        dispatcher=await api.create_staff(Role.dispatcher),
        inspectors=inspectors,
        reviewer=await api.create_staff(Role.reviewer),
        window=await api.create_staff(Role.window),
    )


async def intake_and_draw(page: Page, shots: Shots) -> tuple[str, str]:
    """The dispatcher takes the case in, draws the pair and issues the link: (case id, token)."""
    form = page.locator("#intake-form")
    await form.locator("input[name=application_no]").fill("SQ-2026-0518")
    await form.locator("input[name=applicant_name]").fill("福州书香图书发行有限公司")
    await form.locator("input[name=applicant_phone]").fill("13800138000")
    await form.locator("input[name=address]").fill("福州市鼓楼区东街88号")
    await form.locator("input[name=matters]").fill(MATTER)
    await page.locator("#intake-submit").click()
    await expect(page.locator("#case-state")).to_have_text("已受理")
    case_id = page.url.rsplit("/", 1)[-1]
    await page.locator("#draw").click()
    await expect(page.locator("#current-pair")).to_contain_text("主办")
    await expect(page.locator("#case-state")).to_have_text("已分派")
    await page.locator("#issue-link").click()
    url = await page.locator("#link-url").input_value()
    await shots(page, "dispatcher_drawn_and_linked")
    return case_id, url.split("#", 1)[1]


async def fresh_case_page(page: Page, case_id: str) -> None:
    """The case page as it is now (a reload when it is already open: no hash change)."""
    if page.url.endswith(f"#/case/{case_id}"):
        await page.reload()
        await expect(page.locator("#case-title")).to_be_visible()
    else:
        await case_page(page, case_id)


async def offer_slots(page: Page, case_id: str, shots: Shots) -> None:
    await case_page(page, case_id)
    _, first, second = slot_inputs()
    starts = page.locator("#slot-rows .slot-start")
    await starts.nth(0).fill(first)
    await starts.nth(1).fill(second)
    await page.locator("#offer-slots").click()
    await expect(page.locator("#open-slots li")).to_have_count(2)
    await shots(page, "lead_offered_slots")


async def book_and_check(phone: Page, shots: Shots) -> None:
    """The applicant picks the first time and runs the pre-call check."""
    await expect(phone.locator("#slots input[name=slot]")).to_have_count(2)
    await phone.locator("#slots label").first.click()
    await phone.locator("#confirm-slot").click()
    await expect(phone.locator("#appointment-message")).to_contain_text("预约成功")
    await phone.locator("#start-check").click()
    await expect(phone.locator("#check-results li[data-key=camera_ok]")).to_be_visible()
    await phone.wait_for_function(PLAYING, arg="#check-preview")
    await expect(phone.locator("#check-results li[data-key^=network_]").last).to_be_visible()
    await expect(phone.locator("#check-results li[data-key=network_failed]")).to_have_count(0)
    await no_horizontal_scroll(phone)
    await shots(phone, "phone_booked_and_checked")


async def join_and_see_moving_video(page: Page) -> None:
    await page.locator("#join-call").click()
    await expect(page.locator("#call-status")).to_have_text("已连线。")
    await page.wait_for_function(PLAYING, arg="#call-video")
    frames, time = await page.evaluate(PLAYBACK, "#call-video")
    await page.wait_for_function(MOVING, arg=["#call-video", frames, time])


async def snapshot(page: Page, item_id: str) -> None:
    """Show the item to the applicant, then file a snapshot of the live picture under it."""
    item = page.locator(f"#checklist li.item[data-item='{item_id}']")
    await item.locator("button.show-item").click()
    await expect(item.locator("button.show-item")).to_have_attribute("aria-pressed", "true")
    await page.locator("#snapshot").click()
    await expect(page.locator("#snapshot-out")).to_have_text(f"照片已归入 {item_id}。")
    await expect(item.locator(".photo-count")).to_be_visible()


async def mark(page: Page, item_id: str, value: str, note: str = "") -> None:
    item = page.locator(f"#checklist li.item[data-item='{item_id}']")
    if note:
        await item.locator("textarea.note").fill(note)
    await item.locator(f"button.mark-{value}").click()
    await expect(item.locator(f"button.mark-{value}")).to_have_attribute("aria-pressed", "true")


async def walk(page: Page, items: list[dict[str, Any]], *, photos: bool) -> None:
    """Mark every item: pass, except FAILED; with ``photos``, snapshot what needs one first."""
    for item in items:
        failing = item["id"] == FAILED
        needs_photo = item["evidence"] in (PHOTO_ON_FAIL if failing else PHOTO_ON_PASS)
        if photos and needs_photo:
            await snapshot(page, item["id"])
        if failing:
            await mark(page, item["id"], "fail", "租赁合同已于上月到期，未见续签合同")
        else:
            await mark(page, item["id"], "pass")


async def test_whole_product_from_intake_to_the_window_verifying_the_opinion(
    e2e_api: Api, base_url: str, browser: Browser, desks: Desk, shots: Shots
) -> None:
    people = await cast(e2e_api)

    dispatcher = await desks.login(people.dispatcher.username)
    case_id, token = await intake_and_draw(dispatcher, shots)
    pair = await e2e_api.client.get(
        f"/api/v1/cases/{case_id}", headers=await e2e_api.login(people.dispatcher.username)
    )
    lead_id, second_id = pair.json()["inspector_ids"]
    lead_staff, second_staff = people.by_id(lead_id), people.by_id(second_id)

    lead = await desks.login(lead_staff.username)
    await offer_slots(lead, case_id, shots)

    phone = await phone_page(desks, browser)
    await phone.goto(f"{base_url}/applicant/#{token}")
    await expect(phone.locator("#timeline li.current")).to_have_text("已分派踏勘人员")
    await book_and_check(phone, shots)

    # The call: the lead starts, the phone joins, both consoles see its moving picture.
    await lead.reload()
    await expect(lead.locator("#case-state")).to_have_text("已预约")
    await lead.locator("#start-inspection").click()
    await expect(lead.locator("#case-state")).to_have_text("踏勘中")
    await phone.locator("#join-call").click()
    await expect(phone.locator("#call-status")).to_have_text("等待踏勘人员加入")
    await phone.wait_for_function(PLAYING, arg="#call-preview")
    await join_and_see_moving_video(lead)
    await expect(phone.locator("#call-status")).to_have_text("已连线，请按踏勘人员的指示拍摄。")
    await expect(phone.locator("#call-recording")).to_be_visible()
    second = await desks.login(second_staff.username)
    await case_page(second, case_id)
    await join_and_see_moving_video(second)
    await expect(lead.locator("#call-people li")).to_have_count(3)
    await shots(lead, "lead_in_call")

    as_lead = await e2e_api.login(lead_staff.username)
    checklist = await e2e_api.client.get(f"/api/v1/cases/{case_id}/checklist", headers=as_lead)
    items = [i for i in checklist.json()["items"] if not i["record_only"]]
    assert any(i["evidence"] in PHOTO_ON_PASS for i in items), "the walk must need snapshots"
    await walk(lead, items, photos=True)
    photographed = [i["id"] for i in items if i["evidence"] in PHOTO_ON_PASS or i["id"] == FAILED]
    evidence = await e2e_api.client.get(f"/api/v1/cases/{case_id}/evidence", headers=as_lead)
    snapshots = [e for e in evidence.json() if e["kind"] == "snapshot"]
    assert [e["item_ids"] for e in snapshots] == [[i] for i in photographed], snapshots
    last_shown = next(i for i in items if i["id"] == photographed[-1])
    await expect(phone.locator("#current-item")).to_have_attribute("data-item-id", last_shown["id"])
    await expect(phone.locator("#current-item")).to_contain_text(last_shown["title"])
    await no_horizontal_scroll(phone)
    await shots(phone, "phone_in_call")
    await walk(second, items, photos=False)
    await expect(second.locator("#checklist-summary")).to_contain_text(
        f"已确定 {len(items)}/{len(items)} 项"
    )
    await expect(second.locator("#checklist-summary")).not_to_contain_text("null")
    await shots(second, "second_marked_everything")

    # Only a rectifiable item failed: the lead's conclusion is a rectification request.
    await lead.locator("#conclude-refresh").click()
    await expect(lead.locator("#conclude-preview")).to_contain_text("整改后符合")
    request = lead.locator("#rect-request-form")
    await expect(
        request.locator(f".rect-request-item[data-item='{FAILED}'] .rect-instruction")
    ).to_have_value("租赁合同已于上月到期，未见续签合同")
    await request.locator(".rect-instruction").fill("请上传续签后的租赁合同（含签章页）照片")
    await shots(lead, "lead_requests_rectification")
    await lead.locator("#rect-request").click()
    await expect(lead.locator("#rect-flash")).to_contain_text("已向申请人发出 1 项补齐补正要求")
    await expect(lead.locator("#case-state")).to_have_text("待补齐补正")
    await expect(lead.locator("#rectification .before a[data-evidence]")).to_have_count(1)

    # The phone: the request, the earlier failure photo, the new photo, submitted.
    await phone.reload()
    item = phone.locator(f"#rect-items li[data-item-id='{FAILED}']")
    await expect(item.locator(".rect-instruction")).to_have_text(
        "请上传续签后的租赁合同（含签章页）照片"
    )
    await image_loaded(phone, f"li[data-item-id='{FAILED}'] img.rect-original")
    await item.locator("input[type=file]").set_input_files(
        {"name": "lease.jpg", "mimeType": "image/jpeg", "buffer": lease_photo()}
    )
    await expect(item).to_have_attribute("data-state", "done")
    await no_horizontal_scroll(phone)
    await shots(phone, "phone_rectification_uploaded")
    await phone.locator("#rect-submit").click()
    await expect(phone.locator("#rect-done")).to_contain_text("整改材料已提交")

    # Both inspectors compare the photos and accept.
    for page, who in ((lead, "lead"), (second, "second")):
        await fresh_case_page(page, case_id)
        row = page.locator(f"#rectification li.rect-item[data-item='{FAILED}']")
        await image_loaded(page, "#rectification .before img")
        await image_loaded(page, "#rectification .after img")
        if who == "second":
            await shots(page, "second_compares_before_and_after")
        await row.locator("button.accept").click()
    await expect(second.locator("#rect-flash")).to_have_text(
        "第 1 轮补正核验通过，案件进入意见起草。"
    )
    await expect(second.locator("#case-state")).to_have_text("意见起草")

    # The opinion: drafted and signed by the lead, co-signed, approved by a reviewer.
    await fresh_case_page(lead, case_id)
    await lead.locator("#draft-opinion").click()
    await expect(lead.locator("#opinion-status")).to_have_text("草稿")
    await lead.locator("#submit-opinion").click()
    await expect(lead.locator("#case-state")).to_have_text("待会签")
    await fresh_case_page(second, case_id)
    await expect(second.locator("#show-preview")).to_be_visible()  # the draft PDF, to read first
    await sign(second, "cosign")
    await expect(second.locator("#case-state")).to_have_text("待审核")
    reviewer = await desks.login(people.reviewer.username)
    await reviewer.locator("#awaiting-review a").first.click()
    await expect(reviewer.locator("#opinion-status")).to_have_text("待审核")
    await shots(reviewer, "reviewer_before_approval")
    await expect(reviewer.locator("#review-checklist tbody tr").first).to_be_visible()
    await sign(reviewer, "approve")
    await expect(reviewer.locator("#opinion-status")).to_have_text("已出具")
    await expect(reviewer.locator("#case-state")).to_have_text("已出具意见")

    # The window: the issued opinion, verified against the public record, received.
    window = await desks.login(people.window.username)
    row = window.locator("#opinions tr[data-case-number]").first
    await expect(row).to_contain_text("SQ-2026-0518")
    await expect(row.locator(".conclusion")).to_have_text("整改后符合")
    await row.locator("button.verify").click()
    await expect(row.locator(".verify-out")).to_contain_text("有效（现行版本）")
    await expect(row.locator(".verify-out")).to_contain_text("文件摘要一致")
    await row.locator("button.acknowledge").click()
    await expect(row.locator("td.ack")).to_contain_text("已签收")
    await shots(window, "window_verified_and_received")

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
