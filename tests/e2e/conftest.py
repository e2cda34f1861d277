"""The real app on uvicorn (SQLite + the session's SeaweedFS) and one headless Chromium.

Browser tests run on SQLite only: the database is not what they exercise. Chromium is Debian's
``/usr/bin/chromium`` (no browser downloads here); if it is missing the tests fail, never skip.
"""

from __future__ import annotations

import re
import shutil
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from playwright.async_api import Browser, BrowserContext, Page, Playwright, async_playwright
from pydantic import SecretStr

from server.app import create_app
from server.config import Environment, Settings
from server.context import AppContext
from tests.fixtures.app import Api
from tests.signaling.live_server import running

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--use-fake-device-for-media-stream",
    "--use-fake-ui-for-media-stream",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
PHONE = {"width": 360, "height": 740}
ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"
WAIT_MS = 10_000  # bound on every wait for the page


@pytest.fixture
def e2e_settings(tmp_path: Path, sqlite_template: Path, seaweed: Any) -> Settings:
    database = tmp_path / "e2e.db"
    shutil.copyfile(sqlite_template, database)
    return Settings(
        environment=Environment.test,
        data_dir=tmp_path / "data",
        database_url=f"sqlite+aiosqlite:///{database}",
        s3_endpoint=seaweed.endpoint,
        s3_access_key=SecretStr(seaweed.access_key),
        s3_secret_key=SecretStr(seaweed.secret_key),
        s3_bucket=seaweed.bucket,
        secret_key=SecretStr("test-secret-key"),
        scheduler_enabled=False,
        password_time_cost=1,
        password_memory_kib=1024,
    )


@pytest.fixture
async def e2e_app(e2e_settings: Settings) -> AsyncIterator[FastAPI]:
    app = create_app(e2e_settings)
    async with app.router.lifespan_context(app):
        yield app


@pytest.fixture
async def base_url(e2e_app: FastAPI) -> AsyncIterator[str]:
    """``http://127.0.0.1:<port>`` of the app served by uvicorn."""
    async with running(e2e_app) as ws_url:
        yield ws_url.replace("ws://", "http://")


@pytest.fixture
async def e2e_api(e2e_app: FastAPI) -> AsyncIterator[Api]:
    """The test's own API driver: the same app and database the browser talks to."""
    transport = httpx.ASGITransport(app=e2e_app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        ctx: AppContext = e2e_app.state.ctx
        yield Api(client, ctx)


def require_chromium() -> None:
    """CI installs Chromium: its absence is a failure, not a reason to skip."""
    if not CHROMIUM.exists():
        pytest.fail(f"Chromium not found at {CHROMIUM}: install Debian's chromium package")


@pytest.fixture(scope="session")
async def playwright() -> AsyncIterator[Playwright]:
    require_chromium()
    async with async_playwright() as playwright:
        yield playwright


@pytest.fixture(scope="session")
async def browser(playwright: Playwright) -> AsyncIterator[Browser]:
    browser = await playwright.chromium.launch(
        executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
    )
    yield browser
    await browser.close()


@pytest.fixture
async def strict_browser(playwright: Playwright) -> AsyncIterator[Browser]:
    """Without the fake permission prompt, so a permission not granted is really denied."""
    args = [a for a in CHROMIUM_ARGS if a != "--use-fake-ui-for-media-stream"]
    browser = await playwright.chromium.launch(
        executable_path=str(CHROMIUM), headless=True, args=args
    )
    yield browser
    await browser.close()


async def phone_context(
    browser: Browser,
    *,
    permissions: list[str] | None = None,
    viewport: dict[str, int] | None = None,
    **options: Any,
) -> BrowserContext:
    """A phone-sized context (portrait unless ``viewport`` says otherwise); camera, microphone
    and location allowed unless told otherwise."""
    context = await browser.new_context(
        viewport=viewport or PHONE,
        device_scale_factor=2,
        is_mobile=True,
        has_touch=True,
        locale="zh-CN",
        timezone_id="Asia/Shanghai",
        permissions=["camera", "microphone", "geolocation"] if permissions is None else permissions,
        geolocation={"latitude": 31.2304, "longitude": 121.4737, "accuracy": 20},
        **options,
    )
    context.set_default_timeout(WAIT_MS)
    return context


@pytest.fixture
async def phone(browser: Browser) -> AsyncIterator[BrowserContext]:
    context = await phone_context(browser)
    yield context
    await context.close()


class Shots:
    """Screenshots of each step, named ``<test>-<nn>-<step>.png`` under tests/artifacts/."""

    def __init__(self, test_name: str) -> None:
        self.prefix = re.sub(r"[^A-Za-z0-9_]+", "_", test_name)
        self.count = 0
        ARTIFACTS.mkdir(exist_ok=True)

    async def __call__(self, page: Page, step: str) -> Path:
        self.count += 1
        path = ARTIFACTS / f"{self.prefix}-{self.count:02d}-{step}.png"
        await page.screenshot(path=str(path), full_page=True)
        return path


@pytest.fixture
def shots(request: pytest.FixtureRequest) -> Shots:
    return Shots(request.node.name)
