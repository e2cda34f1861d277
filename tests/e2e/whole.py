"""The steps of the whole-product browser test (``test_whole_case``: intake to closure, the
rating and the bureau's follow-up), kept apart so other browser tests can reuse them.

Each step drives the pages as the person would and waits on what the page shows.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from PIL import Image, ImageDraw
from playwright.async_api import Browser, Page, expect

from server.auth.models import Role, Staff
from tests.e2e.conftest import WAIT_MS, Shots, phone_context
from tests.e2e.desk import Desk, case_page, sign, slot_inputs
from tests.e2e.phone import image_loaded, no_horizontal_scroll
from tests.fixtures.app import Api
from tests.flows import add_inspector, start_journey

expect.set_options(timeout=WAIT_MS)  # the machine is shared: allow slow moments

MATTER = "CB"  # 出版物批发许可: a short checklist with photo-always items and rectifiable ones
FAILED = "SH-02"  # 场所使用权: fails, rectifiable by a photo of the renewed lease
APPLICATION_NO = "SQ-2026-0518"
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


async def phone_page(desk: Desk, browser: Browser) -> Page:
    """The applicant's phone (360 px); its script errors fail the test with the desks'."""
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


async def intake_and_draw(page: Page, *, email: str = "") -> str:
    """The dispatcher takes the case in (with the applicant's e-mail when given) and draws the
    pair; the case's id."""
    form = page.locator("#intake-form")
    await form.locator("input[name=application_no]").fill(APPLICATION_NO)
    await form.locator("input[name=applicant_name]").fill("福州书香图书发行有限公司")
    await form.locator("input[name=applicant_phone]").fill("13800138000")
    if email:
        await form.locator("input[name=applicant_email]").fill(email)
    await form.locator("input[name=address]").fill("福州市鼓楼区东街88号")
    await form.locator("input[name=matters]").fill(MATTER)
    await page.locator("#intake-submit").click()
    await expect(page.locator("#case-state")).to_have_text("已受理")
    case_id = page.url.rsplit("/", 1)[-1]
    await page.locator("#draw").click()
    await expect(page.locator("#current-pair")).to_contain_text("主办")
    await expect(page.locator("#case-state")).to_have_text("已分派")
    return case_id


async def the_pair(api: Api, people: Cast, case_id: str) -> tuple[Staff, Staff]:
    """The drawn lead and second inspector, as the case says."""
    headers = await api.login(people.dispatcher.username)
    case = await api.client.get(f"/api/v1/cases/{case_id}", headers=headers)
    lead_id, second_id = case.json()["inspector_ids"]
    return people.by_id(lead_id), people.by_id(second_id)


async def fresh_case_page(page: Page, case_id: str) -> None:
    """The case page as it is now (a reload when it is already open: no hash change)."""
    if page.url.endswith(f"#/case/{case_id}"):
        await page.reload()
        await expect(page.locator("#case-title")).to_be_visible()
    else:
        await case_page(page, case_id)


async def offer_slots(page: Page, case_id: str, shots: Shots) -> datetime:
    """The lead offers two times; the first one (Beijing time, as entered)."""
    await case_page(page, case_id)
    first_time, first, second = slot_inputs()
    starts = page.locator("#slot-rows .slot-start")
    await starts.nth(0).fill(first)
    await starts.nth(1).fill(second)
    await page.locator("#offer-slots").click()
    await expect(page.locator("#open-slots li")).to_have_count(2)
    await shots(page, "lead_offered_slots")
    return first_time


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


async def the_call(
    api: Api,
    desks: Desk,
    pair: tuple[Staff, Staff],
    case_id: str,
    lead: Page,
    phone: Page,
    shots: Shots,
) -> Page:
    """The lead (on the case page) starts, the phone joins, both consoles see its moving
    picture and walk the checklist (the lead with snapshots); the second inspector's page."""
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
    second = await desks.login(pair[1].username)
    await case_page(second, case_id)
    await join_and_see_moving_video(second)
    await expect(lead.locator("#call-people li")).to_have_count(3)
    await shots(lead, "lead_in_call")

    as_lead = await api.login(pair[0].username)
    checklist = await api.client.get(f"/api/v1/cases/{case_id}/checklist", headers=as_lead)
    items = [i for i in checklist.json()["items"] if not i["record_only"]]
    assert any(i["evidence"] in PHOTO_ON_PASS for i in items), "the walk must need snapshots"
    await walk(lead, items, photos=True)
    photographed = [i["id"] for i in items if i["evidence"] in PHOTO_ON_PASS or i["id"] == FAILED]
    evidence = await api.client.get(f"/api/v1/cases/{case_id}/evidence", headers=as_lead)
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
    return second


async def request_rectification(lead: Page, shots: Shots) -> None:
    """Only a rectifiable item failed: the lead's conclusion is a rectification request."""
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


async def rectify_on_the_phone(phone: Page, shots: Shots) -> None:
    """The request, the earlier failure photo, the new photo, submitted."""
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
    # The line is in the page from the start, hidden: shown once the server holds the round.
    await expect(phone.locator("#rect-done")).to_be_visible()
    await expect(phone.locator("#rect-done")).to_contain_text("整改材料已提交")


async def both_accept(lead: Page, second: Page, case_id: str, shots: Shots) -> None:
    """Both inspectors compare the photos and accept."""
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


async def issue_the_opinion(
    desks: Desk, reviewer: Staff, lead: Page, second: Page, case_id: str, shots: Shots
) -> None:
    """Drafted and signed by the lead, co-signed, approved by a reviewer."""
    await fresh_case_page(lead, case_id)
    await lead.locator("#draft-opinion").click()
    await expect(lead.locator("#opinion-status")).to_have_text("草稿")
    await lead.locator("#submit-opinion").click()
    await expect(lead.locator("#case-state")).to_have_text("待会签")
    await fresh_case_page(second, case_id)
    await expect(second.locator("#show-preview")).to_be_visible()  # the draft PDF, to read first
    await sign(second, "cosign")
    await expect(second.locator("#case-state")).to_have_text("待审核")
    page = await desks.login(reviewer.username)
    await page.locator("#awaiting-review a").first.click()
    await expect(page.locator("#opinion-status")).to_have_text("待审核")
    await shots(page, "reviewer_before_approval")
    await expect(page.locator("#review-checklist tbody tr").first).to_be_visible()
    await sign(page, "approve")
    await expect(page.locator("#opinion-status")).to_have_text("已出具")
    await expect(page.locator("#case-state")).to_have_text("已出具意见")


async def window_verifies(desks: Desk, window: Staff, shots: Shots) -> Page:
    """The window: the issued opinion, verified against the public record, received; the
    window's page, on its list of opinions."""
    page = await desks.login(window.username)
    row = page.locator("#opinions tr[data-case-number]").first
    await expect(row).to_contain_text(APPLICATION_NO)
    await expect(row.locator(".conclusion")).to_have_text("整改后符合")
    await row.locator("button.verify").click()
    await expect(row.locator(".verify-out")).to_contain_text("有效（现行版本）")
    await expect(row.locator(".verify-out")).to_contain_text("文件摘要一致")
    await row.locator("button.acknowledge").click()
    await expect(row.locator("td.ack")).to_contain_text("已签收")
    await shots(page, "window_verified_and_received")
    return page
