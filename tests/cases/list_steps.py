"""Steps for the case-list tests: cases opened through intake (``tests.flows``), pages read."""

from __future__ import annotations

from typing import Any

import httpx

from tests.fixtures.app import Api
from tests.flows import Headers, Journey, open_case


async def case_page(api: Api, headers: Headers, **params: Any) -> httpx.Response:
    """One page of the case list as ``headers``' caller sees it (``GET /cases/page``)."""
    return await api.client.get("/api/v1/cases/page", params=params, headers=headers)


async def page_applications(api: Api, headers: Headers, **params: Any) -> list[str]:
    """The application numbers on a page, in order (the page must answer 200)."""
    response = await case_page(api, headers, **params)
    assert response.status_code == 200, response.text
    return [c["application_no"] for c in response.json()["items"]]


async def open_cases(journey: Journey, count: int, prefix: str = "L", **changes: Any) -> list[str]:
    """``count`` more cases through intake (application numbers ``<prefix>-1`` …); their ids."""
    return [
        (await open_case(journey, f"{prefix}-{i}", **changes))["id"] for i in range(1, count + 1)
    ]
