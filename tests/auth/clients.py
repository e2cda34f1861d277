"""API clients (the approval system) as the admin makes them, and bearer headers."""

from __future__ import annotations

import secrets
from typing import Any

from tests.fixtures.app import Api


async def make_client(api: Api, admin: dict[str, str], scopes: list[str]) -> dict[str, Any]:
    """The admin makes an API client (the approval system) with ``scopes``; its answer."""
    response = await api.client.post(
        "/api/v1/api-clients",
        json={"name": f"审批系统-{secrets.token_hex(3)}", "scopes": scopes},
        headers=admin,
    )
    assert response.status_code == 201, response.text
    made: dict[str, Any] = response.json()
    return made


def bearer(key: str) -> dict[str, str]:
    """Headers that present ``key`` (an API client's key or a link token)."""
    return {"Authorization": f"Bearer {key}"}
