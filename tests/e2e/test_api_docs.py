"""The API docs render in Chromium with every request to another host refused (no internet).

The pages' CSP keeps the bundles' own remote URLs (ReDoc's footer logo) from being requested at
all, so no request may reach the route that plays the missing internet.
"""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest
from playwright.async_api import Browser, Route

pytestmark = pytest.mark.e2e


async def test_swagger_ui_renders_the_operations_offline(browser: Browser, base_url: str) -> None:
    context = await browser.new_context()
    refused: list[str] = []

    async def offline(route: Route) -> None:
        if urlsplit(route.request.url).hostname in ("127.0.0.1", "localhost"):
            await route.continue_()
        else:
            refused.append(route.request.url)
            await route.abort("internetdisconnected")

    await context.route("**/*", offline)
    page = await context.new_page()
    try:
        await page.goto(f"{base_url}/api/docs")
        await page.locator(".opblock-summary-path").first.wait_for(timeout=30_000)
        paths = await page.locator(".opblock-summary-path").all_inner_texts()
        assert "/api/v1/auth/login" in [p.replace("\u200b", "") for p in paths]
        assert refused == []

        await page.goto(f"{base_url}/api/redoc")
        await page.get_by_text("/api/v1/auth/login").first.wait_for(state="attached")
        assert refused == []
    finally:
        await context.close()
