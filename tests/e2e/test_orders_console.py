"""Supervision orders in the console (real Chromium): the lead inspector records why the case
ran over, the head answers and the order is closed; the head approves a special procedure and
the board lists the case."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from playwright.async_api import Browser, expect

from server.auth.models import Role
from tests.e2e.conftest import WAIT_MS, Shots
from tests.e2e.desk import Desk, lead_and_second
from tests.fixtures.app import Api
from tests.flows import overdue, start_journey

pytestmark = pytest.mark.e2e
expect.set_options(timeout=WAIT_MS)


@pytest.fixture
async def desk(browser: Browser, base_url: str) -> AsyncIterator[Desk]:
    desk = Desk(browser, base_url)
    yield desk
    await desk.close()
    assert not desk.errors, desk.errors


async def test_the_lead_gives_the_reason_and_the_head_answers_the_order(
    e2e_api: Api, desk: Desk, shots: Shots
) -> None:
    journey = await start_journey(e2e_api)
    order = await overdue(journey)
    lead, _ = lead_and_second(journey)
    page = await desk.login(lead.username)
    await page.locator("nav a[href='#/orders']").click()
    card = page.locator(f"li.order[data-order-id='{order['id']}']")
    await expect(card).to_contain_text(journey.case["number"])
    await card.locator("textarea[name=reason]").fill("申请人临时外出，现场无法按时踏勘")
    await card.locator("button[type=submit]").click()
    await expect(card.locator(".order-reason-text")).to_contain_text("申请人临时外出")
    await shots(page, "inspector_reason")

    head = await e2e_api.create_staff(Role.head)
    desk_head = await desk.login(head.username)
    card = desk_head.locator(f"li.order[data-order-id='{order['id']}']")
    await expect(card).to_contain_text("申请人临时外出")
    await card.locator("textarea[name=measures]").fill("已约谈主办人员，当日完成踏勘")
    await card.locator("button[type=submit]").click()
    closed = desk_head.locator(f"li.order[data-order-id='{order['id']}'][data-status='closed']")
    await expect(closed).to_contain_text("已约谈主办人员")
    await shots(desk_head, "head_answered")


async def test_the_head_approves_a_special_procedure_and_the_board_lists_it(
    e2e_api: Api, desk: Desk, shots: Shots
) -> None:
    journey = await start_journey(e2e_api)
    await overdue(journey)  # the case is assigned (and overdue)
    head = await e2e_api.create_staff(Role.head)
    asked = await e2e_api.client.post(
        f"/api/v1/cases/{journey.case_id}/special-procedures",
        json={"kind": "hearing", "reason": "申请人要求听证", "approver_id": head.id},
        headers=journey.dispatcher,
    )
    assert asked.status_code == 201, asked.text
    page = await desk.login(head.username)
    item = page.locator(f"#procedure-approvals li[data-procedure-id='{asked.json()['id']}']")
    await expect(item).to_contain_text("听证")
    await item.get_by_role("button", name="批准", exact=True).click()
    await expect(page.locator("#procedure-approvals")).to_have_text("没有待审批的特别程序。")
    await shots(page, "head_approved")

    dispatcher = await e2e_api.create_staff(Role.dispatcher)
    board = await desk.login(dispatcher.username)
    await board.locator("nav a[href='#/board']").click()
    await expect(board.locator("#special-procedures")).to_contain_text(journey.case["number"])
    await expect(board.locator("#special-procedures")).to_contain_text("申请人要求听证")
    await expect(board.locator("#special-procedures")).to_contain_text("共 1 件")

    # The dispatcher ends it from the orders page: the clock runs again.
    board.on("dialog", lambda dialog: dialog.accept())
    await board.locator("nav a[href='#/orders']").click()
    running = board.locator(f"#procedures-running li[data-procedure-id='{asked.json()['id']}']")
    await running.get_by_role("button").click()
    await expect(board.locator("#procedures-running")).to_have_text("没有进行特别程序的案件。")
    clock = await e2e_api.client.get(
        f"/api/v1/cases/{journey.case_id}/clock", headers=journey.dispatcher
    )
    assert clock.json()["paused"] is False
