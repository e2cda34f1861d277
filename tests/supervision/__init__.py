"""Tests of the supervision board, ratings (好差评) and follow-ups. Shared helpers live here."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import func, select

from server.audit.models import AuditRecord
from server.platform.time import CHINA_TZ
from tests.fixtures.app import Api
from tests.flows import intake_body

BOARD = "/api/v1/board"
FOLLOW_UPS = "/api/v1/follow-ups"


def sh(y: int, m: int, d: int, hour: int = 0, minute: int = 0) -> datetime:
    """A moment given in Asia/Shanghai wall time, as UTC (how it is stored)."""
    return datetime(y, m, d, hour, minute, tzinfo=CHINA_TZ).astimezone(UTC)


async def open_case(
    api: Api, dispatcher: dict[str, str], number: str, **changes: object
) -> tuple[str, dict[str, str]]:
    """A case through intake, and its applicant's link headers."""
    response = await api.client.post(
        "/api/v1/cases", json=intake_body(api, number=number, **changes), headers=dispatcher
    )
    assert response.status_code == 201, response.text
    case_id: str = response.json()["id"]
    link = await api.client.post(f"/api/v1/cases/{case_id}/links", headers=dispatcher)
    assert link.status_code == 201, link.text
    return case_id, {"Authorization": f"Bearer {link.json()['token']}"}


async def audit_count(api: Api, action: str) -> int:
    async with api.ctx.sessionmaker() as session:
        query = select(func.count()).select_from(AuditRecord).where(AuditRecord.action == action)
        return int(await session.scalar(query) or 0)
