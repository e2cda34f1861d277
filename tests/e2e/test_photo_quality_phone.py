"""The phone at 360 px: a blurred or dark rectification photo is flagged the moment it is
uploaded, in words; the applicant retakes one and keeps the other, and only what was kept goes
into the round."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.async_api import BrowserContext, expect

from tests.e2e.conftest import Shots
from tests.e2e.phone import link_url, no_horizontal_scroll, rectification_open
from tests.fixtures.app import Api
from tests.images import blurred, darkened, encoded, scene
from tests.rectification.steps import FIXABLE

pytestmark = pytest.mark.e2e


async def test_the_applicant_retakes_a_blurred_photo_and_keeps_a_dark_one(
    e2e_api: Api, base_url: str, phone: BrowserContext, shots: Shots, tmp_path: Path
) -> None:
    journey, _ = await rectification_open(e2e_api)
    shaky, dim = tmp_path / "shaky.jpg", tmp_path / "dim.jpg"
    shaky.write_bytes(encoded(blurred(scene(31), 3.0)))
    dim.write_bytes(encoded(darkened(scene(32), 0.2)))
    page = await phone.new_page()
    await page.goto(link_url(base_url, journey))
    item = page.locator(f'li[data-item-id="{FIXABLE}"]')
    flag = item.locator(".quality-flag")

    await item.locator("input[type=file]").set_input_files(str(shaky))
    await expect(item).to_have_attribute("data-state", "done")
    await expect(flag).to_contain_text("照片模糊，请保持手机稳定后重拍")
    await no_horizontal_scroll(page)
    await shots(page, "blurred_flagged")
    await flag.get_by_role("button", name="重拍").click()
    await expect(flag).to_have_attribute("data-decision", "retake")
    await expect(item).to_have_attribute("data-state", "todo")
    await expect(page.locator("#rect-submit")).to_be_disabled()

    await item.locator("input[type=file]").set_input_files(str(dim))
    await expect(flag).to_contain_text("照片太暗")
    await flag.get_by_role("button", name="保留这张").click()
    await expect(flag).to_have_attribute("data-decision", "keep")
    await expect(flag).to_contain_text("已决定保留")
    await shots(page, "dark_kept")
    await page.locator("#rect-submit").click()
    await expect(page.locator("#rect-done")).to_be_visible()

    rounds = await e2e_api.client.get(
        f"/api/v1/cases/{journey.case_id}/rectification", headers=journey.inspector_headers(0)
    )
    (submitted,) = [i for i in rounds.json()[-1]["items"] if i["item_id"] == FIXABLE]
    listed = await e2e_api.client.get(
        f"/api/v1/cases/{journey.case_id}/evidence?kind=photo",
        headers=journey.inspector_headers(0),
    )
    decided = {e["id"]: e["quality"]["decision"]["decision"] for e in listed.json()
               if e["quality"] and e["quality"]["decision"]}  # fmt: skip
    assert sorted(decided.values()) == ["keep", "retake"]
    kept = next(e for e, d in decided.items() if d == "keep")
    assert submitted["photo_evidence_ids"] == [kept]
