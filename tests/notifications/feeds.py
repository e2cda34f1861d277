"""Reading a person's in-app feed through the API, for the notification tests."""

from __future__ import annotations

from typing import Any

from tests.fixtures.app import Api


async def feed(api: Api, headers: dict[str, str]) -> list[dict[str, Any]]:
    response = await api.client.get("/api/v1/feed", headers=headers)
    assert response.status_code == 200, response.text
    return list(response.json())


async def templates(api: Api, headers: dict[str, str]) -> list[str]:
    """The template codes of the caller's in-app messages, newest first."""
    return [item["template"] for item in await feed(api, headers)]
