"""One case through its whole life, only through the pages (issue 15): the app's e-mail notices
go to a real local SMTP server; the applicant's link is read out of the received mail and opened
on the phone (360 px); the case runs through the call, rectification and the signed opinion to
the window, whose decision closes it (办结); the phone shows the result and the opinion PDF; the
applicant gives a bad rating (差评) with a reason; the bureau answers the follow-up it opened
(整改反馈), records the follow-up call and closes it. Every mail is in words, with its times in
Beijing time.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest
from fastapi import FastAPI
from playwright.async_api import Browser, Page, expect

from server.config import Settings
from tests.e2e.conftest import Shots
from tests.e2e.desk import Desk
from tests.e2e.mails import Mail, Mailbox, in_words
from tests.e2e.phone import no_horizontal_scroll
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
from tests.notifications.smtp_server import Inbox, free_port, smtp_inbox
from tests.signaling.live_server import running

__all__ = ["smtp_inbox"]
pytestmark = [pytest.mark.e2e, pytest.mark.timeout(420)]

EMAIL = "shuxiang@example.cn"
DECISION_NO = "闽审批许字〔2026〕第0518号"


@pytest.fixture
def app_port() -> int:
    return free_port()


@pytest.fixture
def e2e_settings(e2e_settings: Settings, smtp_inbox: Inbox, app_port: int) -> Settings:
    """Notices by e-mail to the local SMTP server; links name the port the app is served on."""
    return e2e_settings.model_copy(
        update={
            "base_url": f"http://127.0.0.1:{app_port}",
            "smtp_host": "127.0.0.1",
            "smtp_port": smtp_inbox.port,
            "smtp_from": "云踏勘 <noreply@ytk.example.gov.cn>",
            "smtp_starttls": False,
            "smtp_timeout_seconds": 5,
        }
    )


@pytest.fixture
async def base_url(e2e_app: FastAPI, app_port: int) -> AsyncIterator[str]:
    async with running(e2e_app, port=app_port) as ws_url:
        yield ws_url.replace("ws://", "http://")


@pytest.fixture
async def desks(browser: Browser, base_url: str) -> AsyncIterator[Desk]:
    """Every person's page; each page's script errors fail the test at the end."""
    desk = Desk(browser, base_url)
    yield desk
    await desk.close()
    assert not desk.errors, desk.errors


async def record_the_decision(window: Page) -> None:
    """From the window's list of opinions to the case, where the decision closes it."""
    await window.locator("#opinions tr[data-case-number] a").first.click()
    await expect(window.locator("#case-state")).to_have_text("已出具意见")
    form = window.locator("#decision-form")
    await expect(form.locator("#decision-outcome")).to_have_value("granted")
    await form.locator("#decision-no").fill(DECISION_NO)
    await form.locator("#record-decision").click()
    await expect(window.locator("#decision")).to_contain_text("准予许可")
    await expect(window.locator("#decision")).to_contain_text(DECISION_NO)
    await expect(window.locator("#case-state")).to_have_text("已办结")


async def result_and_opinion_on_the_phone(phone: Page, shots: Shots) -> None:
    await phone.reload()
    await expect(phone.locator("#progress-words")).to_have_text("已办结（经过 1 次整改）：准予许可")
    await expect(phone.locator("#result-outcome")).to_have_text("准予许可")
    await expect(phone.locator("#timeline li.current")).to_have_text("已办结")
    await expect(phone.locator("#case-state")).to_have_text("已办结")
    await expect(phone.locator("#result-number")).to_contain_text(DECISION_NO)
    await expect(phone.locator("#opinion-conclusion")).to_have_text("结论：经整改后符合要求")
    async with phone.expect_download() as waiting:
        await phone.locator("#opinion-download").click()
    download = await waiting.value
    assert download.suggested_filename.endswith(".pdf"), download.suggested_filename
    assert (await download.path()).read_bytes().startswith(b"%PDF")
    await no_horizontal_scroll(phone)
    await shots(phone, "phone_result_and_opinion")


async def bad_rating(phone: Page, shots: Shots) -> None:
    """差评: 1 (very dissatisfied), the reason that the appointment was hard, in own words."""
    card = phone.locator("#rating-card")
    await card.locator("label.score").nth(0).click()
    await expect(card.locator("label.score").nth(0)).to_have_text("1 非常不满意")
    await expect(phone.locator("#rating-reasons-set")).to_be_visible()
    await phone.locator("#rating-reasons label.reason", has_text="预约不方便").click()
    await phone.locator("#rating-comment").fill("等了两天才约上视频踏勘时间")
    await no_horizontal_scroll(phone)
    await shots(phone, "phone_bad_rating")
    await phone.locator("#rating-send").click()
    await expect(phone.locator("#rating-thanks")).to_be_visible()
    await expect(phone.locator("#rating-thanks")).to_have_text("感谢您的评价")
    await expect(phone.locator("#rating-form")).to_be_hidden()


async def follow_up_answered_called_and_closed(console: Page, case_id: str, shots: Shots) -> None:
    """The bad rating's follow-up: answered (整改反馈), the applicant called, then closed."""
    await console.locator("#nav a[href='#/follow-ups']").click()
    card = console.locator(f"article.follow-up:has(a[href='#/case/{case_id}'])")
    await expect(card).to_have_count(1)
    await expect(card.locator("h3")).to_contain_text("差评")
    await expect(card.locator("h3")).to_contain_text("预约不方便、等待久")
    await expect(card.locator("blockquote")).to_have_text("等了两天才约上视频踏勘时间")
    await expect(card.locator(".close-form")).to_have_count(0)  # not answered yet
    await card.locator(".answer-form textarea").fill("已约谈踏勘人员，预约改为当日回复")
    await card.locator(".answer-form input").fill("审批科 李四")
    await card.locator(".answer-form button").click()
    await expect(card.locator(".answer")).to_contain_text("已约谈踏勘人员")

    call = console.locator(f"#phone-list tr[data-case-id='{case_id}']")
    await expect(call).to_have_attribute("data-status", "to_call")
    form = call.locator("form.call-form")
    await form.locator(f"input[name='reached-{case_id}'][value=yes]").check()
    await form.locator(f"input[name='satisfied-{case_id}'][value=yes]").check()
    await form.locator("textarea").fill("申请人认可整改措施")
    await form.locator("button[type=submit]").click()
    await expect(call).to_have_attribute("data-status", "done")
    await shots(console, "follow_up_answered_and_called")

    await card.locator(".close-form textarea").fill("已电话回访申请人，认可整改措施")
    await card.locator(".close-form button").click()
    await expect(card).to_have_count(0)  # the list shows open follow-ups
    await console.locator("#show-closed").check()
    await expect(card).to_have_attribute("data-status", "closed")
    await shots(console, "follow_up_closed")


async def test_one_case_from_intake_to_the_bureaus_follow_up_of_a_bad_rating(
    e2e_api: Api, base_url: str, browser: Browser, desks: Desk, shots: Shots, smtp_inbox: Inbox
) -> None:
    people = await cast(e2e_api)
    mails = Mailbox(e2e_api, smtp_inbox, EMAIL)

    dispatcher = await desks.login(people.dispatcher.username)
    case_id = await intake_and_draw(dispatcher, email=EMAIL)
    number = await mails.case_number(people.dispatcher, case_id)
    [assigned] = await mails.delivered(number)
    assert f"您的踏勘申请（案件编号{number}）已受理并安排踏勘人员" in assigned.text
    url = assigned.link()
    assert url.startswith(f"{base_url}/applicant/#"), url

    pair = await the_pair(e2e_api, people, case_id)
    lead = await desks.login(pair[0].username)
    first_slot = await offer_slots(lead, case_id, shots)
    phone = await phone_page(desks, browser)
    await phone.goto(url)  # the link as the mail carried it
    await expect(phone.locator("#timeline li.current")).to_have_text("已分派踏勘人员")
    await book_and_check(phone, shots)
    booked = await mails.delivered(number)  # sent in parallel: in either order
    assert len(booked) == 2, booked
    texts = "\n".join(m.text for m in booked)
    beijing, utc = f"{first_slot:%Y-%m-%d %H:%M}", f"{first_slot.astimezone(UTC):%Y-%m-%d %H:%M}"
    assert f"拟定于{beijing}进行视频踏勘" in texts, texts
    assert f"视频踏勘时间已确定为{beijing}" in texts, texts
    assert utc not in texts, "times are written in Beijing time"

    second = await the_call(e2e_api, desks, pair, case_id, lead, phone, shots)
    await request_rectification(lead, shots)
    [rectify] = await mails.delivered(number)
    deadline = await rectification_deadline(e2e_api, pair[0].username, case_id)
    assert f"请于{deadline:%Y-%m-%d %H:%M}前通过踏勘链接" in rectify.text, rectify.text
    await rectify_on_the_phone(phone, shots)
    await both_accept(lead, second, case_id, shots)
    await issue_the_opinion(desks, people.reviewer, lead, second, case_id, shots)
    [issued] = await mails.delivered(number)
    assert "踏勘结论：经整改后符合要求" in issued.text, issued.text

    window = await window_verifies(desks, people.window, shots)
    await record_the_decision(window)
    await shots(window, "window_recorded_the_decision")
    [closed] = await mails.delivered(number)
    assert f"已办结：准予许可（决定书编号{DECISION_NO}）" in closed.text, closed.text
    assert "欢迎通过踏勘链接对本次踏勘服务进行评价" in closed.text

    await result_and_opinion_on_the_phone(phone, shots)
    await bad_rating(phone, shots)
    await follow_up_answered_called_and_closed(dispatcher, case_id, shots)

    assert all(in_words(m.text) for m in mails.seen), [m.text for m in mails.seen]
    rating = await e2e_api.client.get(
        f"/api/v1/cases/{case_id}/rating", headers=await e2e_api.login(people.dispatcher.username)
    )
    assert rating.json()["rating"]["score"] == 1, rating.text


async def rectification_deadline(api: Api, lead_username: str, case_id: str) -> datetime:
    """The open round's deadline as the API gives it in Beijing time."""
    rounds = await api.client.get(
        f"/api/v1/cases/{case_id}/rectification", headers=await api.login(lead_username)
    )
    return datetime.fromisoformat(rounds.json()[-1]["deadline_local"])


async def test_intake_stops_a_mistyped_email_before_sending_it(
    e2e_api: Api, desks: Desk, shots: Shots
) -> None:
    people = await cast(e2e_api)
    page = await desks.login(people.dispatcher.username)
    form = page.locator("#intake-form")
    await form.locator("input[name=application_no]").fill("SQ-2026-0519")
    await form.locator("input[name=applicant_name]").fill("福州书香图书发行有限公司")
    await form.locator("input[name=applicant_phone]").fill("13800138000")
    await form.locator("input[name=address]").fill("福州市鼓楼区东街88号")
    await form.locator("input[name=matters]").fill("CB")
    email = form.locator("input[name=applicant_email]")
    await email.fill("zhang@localhost")  # an address the server would refuse (no domain)
    await page.locator("#intake-submit").click()

    assert await email.evaluate("e => !e.validity.valid")
    message = await email.evaluate("e => e.validationMessage")
    assert "请填写完整的邮箱地址，例如 name@example.cn" in message, message
    await shots(page, "intake_mistyped_email")
    headers = await e2e_api.login(people.dispatcher.username)
    cases = await e2e_api.client.get("/api/v1/cases", headers=headers)
    assert cases.json() == [], "nothing was taken in"
    await email.fill("zhang@example.cn")
    await page.locator("#intake-submit").click()
    await expect(page.locator("#case-state")).to_have_text("已受理")


def test_the_words_check_catches_internal_names() -> None:
    """The mail check above can fail: codes in either language and unfilled fields are caught."""
    link = "http://127.0.0.1:1/applicant/#ytk_assigned_closed"
    fine = f"您好，案件已受理。\n\nYour case was assigned.\n\n链接 / Link: {link}\n"
    assert in_words(fine)
    assert Mail("", fine).link() == link
    assert not in_words("您好，案件状态：assigned。\n\nIt is assigned.")
    assert not in_words("您好。\n\nState: rectification_requested.")
    assert not in_words("您好，案件{case_number}。\n\nCase None.")
