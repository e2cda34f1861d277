"""The offline verification page in headless Chromium, opened from disk (file://, no server):
it recomputes the evidence root with WebCrypto and checks each object of a real bundle."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

from playwright.async_api import Browser

from server.opinions.qr import QR_KEYWORD_PREFIX, from_keywords
from server.opinions.verify import signed_keywords
from tests.fixtures.app import Api
from tests.opinions.issued import issued_with_photos

PAGE = Path(__file__).resolve().parents[2] / "mini_client" / "offline-verify" / "index.html"


def unzip(data: bytes, target: Path) -> list[Path]:
    with zipfile.ZipFile(io.BytesIO(data)) as bundle:
        bundle.extractall(target)
        return [target / name for name in bundle.namelist()]


async def check(browser: Browser, files: list[Path], qr: str) -> tuple[str, list[str]]:
    context = await browser.new_context(locale="zh-CN")
    try:
        page = await context.new_page()
        await page.goto(PAGE.as_uri())
        await page.set_input_files("#files", [str(f) for f in files])
        await page.fill("#qr", qr)
        await page.click("#check")
        verdict = await page.locator("#verdict").inner_text(timeout=10_000)
        problems = await page.locator("#problems li").all_inner_texts()
        return verdict, problems
    finally:
        await context.close()


async def test_the_offline_page_checks_a_real_bundle_and_names_a_changed_photo(
    e2e_api: Api, browser: Browser, tmp_path: Path
) -> None:
    issued = await issued_with_photos(e2e_api, photos=2)
    response = await e2e_api.client.get(
        f"/api/v1/cases/{issued.case_id}/opinion/bundle", headers=issued.reviewer
    )
    assert response.status_code == 200, response.text
    files = unzip(response.content, tmp_path / "bundle")
    qr = from_keywords(
        signed_keywords((tmp_path / "bundle" / "opinion.pdf").read_bytes()), QR_KEYWORD_PREFIX
    )
    assert qr is not None

    verdict, problems = await check(browser, files, qr)
    assert verdict == "通过 / VALID", problems

    photo = next(f for f in files if "/objects/photo/" in f.as_posix())
    body = bytearray(photo.read_bytes())
    body[-10] ^= 0x01
    photo.write_bytes(bytes(body))
    verdict, problems = await check(browser, files, qr)
    assert verdict == "未通过 / NOT VALID"
    assert problems == [
        f"对象被改动 / changed object: photo/{photo.stem} (objects/photo/{photo.name})"
    ]

    wrong_qr = qr.rsplit("&h=", 1)[0] + "&h=" + "f" * 64
    verdict, problems = await check(browser, [f for f in files if f != photo], wrong_qr)
    assert verdict == "未通过 / NOT VALID"
    assert any("the QR's twin hash differs" in p for p in problems)
    assert any(f"missing object: photo/{photo.stem}" in p for p in problems)
