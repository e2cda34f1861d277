"""Delivery state in people's words, and migration 0017: feed rows that were stored as
"delivered" (nothing was ever sent for them) become in-app only."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import insert, select

from server.db import make_engine, new_id, utcnow
from server.migrate import upgrade
from server.notifications.delivery_state import describe
from server.notifications.models import Notification
from tests.fixtures.databases import BACKENDS, pg_admin, pg_url


def row(**values: Any) -> Notification:
    defaults: dict[str, Any] = {"status": "pending", "attempts": 0, "last_error": ""}
    return Notification(channel="sms", **(defaults | values))


def test_each_state_in_words() -> None:
    assert (describe(row()).state, describe(row()).zh) == ("queued", "已排队")
    retrying = describe(row(attempts=2, last_error="HTTP 503"))
    assert retrying.zh == "已排队（第2次发送未成功，将重试：HTTP 503）"
    assert retrying.en == "queued (attempt 2 did not go through, will retry: HTTP 503)"
    assert describe(row(status="sending")).state == "queued"
    assert (describe(row(status="delivered")).zh, describe(row(status="delivered")).en) == (
        "已发送",
        "sent",
    )
    failed = describe(row(status="failed", last_error="SMTP 550: User unknown"))
    assert (failed.state, failed.zh) == ("failed", "发送失败：SMTP 550: User unknown")
    assert describe(row(status="in_app")).zh == "仅站内"


@pytest.fixture(params=BACKENDS)
async def blank_url(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    """An empty database of each kind, for migrating step by step."""
    if request.param == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'blank.db'}"
        return
    name = f"ci_{secrets.token_hex(6)}"
    await pg_admin(f'CREATE DATABASE "{name}"')
    try:
        yield pg_url(name)
    finally:
        await pg_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def stored(channel: str, status: str) -> dict[str, Any]:
    now = utcnow() - timedelta(days=1)
    return {
        "id": new_id(),
        "created_at": now,
        "case_id": None,
        "event": f"old:{channel}",
        "audience": "role",
        "recipient": "window",
        "channel": channel,
        "template": "sla_red",
        "params": {},
        "text_zh": "旧消息",
        "text_en": "old message",
        "body": None,
        "status": status,
        "attempts": 0 if channel == "feed" else 1,
        "next_attempt_at": None,
        "claim": "",
        "last_error": "",
        "delivered_at": now,
        "dedupe_key": new_id() + new_id(),
    }


async def test_migration_0017_makes_old_feed_rows_in_app_only(blank_url: str) -> None:
    await upgrade(blank_url, "0016")
    engine = make_engine(blank_url)
    try:
        async with engine.begin() as conn:
            await conn.execute(
                insert(Notification.__table__),  # type: ignore[arg-type]
                [stored("feed", "delivered"), stored("sms", "delivered")],
            )
        await upgrade(blank_url, "0017")
        async with engine.connect() as conn:
            rows = (
                await conn.execute(
                    select(Notification.channel, Notification.status, Notification.delivered_at)
                )
            ).all()
    finally:
        await engine.dispose()
    found = {channel: (status, at is not None) for channel, status, at in rows}
    assert found == {"feed": ("in_app", False), "sms": ("delivered", True)}
