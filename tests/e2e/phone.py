"""The phone's pages in Chromium: the applicant's link, cases in a given step, layout checks."""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from playwright.async_api import Page

from server.cases.models import Case
from tests.fixtures.app import Api
from tests.flows import (
    Journey,
    add_inspector,
    assign,
    open_case,
    refresh,
    schedule,
    slot,
    start_journey,
)
from tests.images import jpeg
from tests.rectification.steps import FIXABLE, mark_both, photo, request


async def offered_case(api: Api) -> tuple[Journey, list[dict[str, Any]]]:
    """An assigned case whose lead inspector offered two slots; the applicant has a link."""
    journey = await start_journey(api)
    await assign(journey)
    offered = await api.client.post(
        f"/api/v1/cases/{journey.case_id}/slots",
        json={"slots": [slot(2), slot(4)]},
        headers=journey.inspector_headers(0),
    )
    assert offered.status_code == 201, offered.text
    return journey, offered.json()


def link_url(base_url: str, journey: Journey) -> str:
    token = journey.applicant["Authorization"].removeprefix("Bearer ")
    return f"{base_url}/applicant/#{token}"


async def no_horizontal_scroll(page: Page) -> None:
    width = await page.evaluate("document.documentElement.scrollWidth")
    assert width <= 360, f"page is {width} px wide at a 360 px viewport"


async def registered_ago(api: Api, journey: Journey, ago: timedelta) -> None:
    """Date the case's registration back: on-site inspections come days after intake."""
    async with api.ctx.sessionmaker() as session:
        case = await session.get(Case, journey.case_id)
        assert case is not None
        case.created_at = datetime.now(UTC) - ago
        await session.commit()


def photo_taken(tmp_path: Path, ago: timedelta) -> tuple[Path, datetime]:
    """A camera file without an EXIF time, written ``ago`` (the phone's own file time)."""
    taken = (datetime.now(UTC) - ago).replace(microsecond=0)
    path = tmp_path / "site.jpg"
    path.write_bytes(jpeg((640, 480), taken=None))
    os.utime(path, (taken.timestamp(), taken.timestamp()))
    return path, taken


async def in_progress_case(api: Api) -> Journey:
    journey = await start_journey(api)
    for _ in range(2):
        await add_inspector(journey, ["CB"])
    await open_case(journey, matters=["CB"])
    await assign(journey, pool=0)
    await schedule(journey)
    started = await api.client.post(
        f"/api/v1/cases/{journey.case_id}/inspection/start", headers=journey.inspector_headers(0)
    )
    assert started.status_code == 200, started.text
    return journey


async def rectification_open(api: Api) -> tuple[Journey, str]:
    """A case whose round asks to fix SH-02, with the inspector's failure photo of it."""
    journey = await start_journey(api)
    await schedule(journey)
    started = await api.client.post(
        f"/api/v1/cases/{journey.case_id}/inspection/start", headers=journey.inspector_headers(0)
    )
    assert started.status_code == 200, started.text
    await mark_both(journey, FIXABLE, "fail")
    failure_photo = await photo(journey, journey.inspector_headers(1), FIXABLE)
    requested = await request(journey, FIXABLE)
    assert requested.status_code == 201, requested.text
    assert (await refresh(journey))["state"] == "rectification_requested"
    return journey, failure_photo


async def image_loaded(page: Page, selector: str) -> None:
    await page.wait_for_function(
        "(s) => { const i = document.querySelector(s);"
        " return i && i.complete && i.naturalWidth > 0; }",
        arg=selector,
    )
