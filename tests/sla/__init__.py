"""Tests of the SLA clocks: service, tick and calendar API. Shared helpers live here: cases are
opened and moved through the endpoints (``tests/flows.py``) at moments set on the ``clock``."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from server.audit.models import AuditRecord
from server.platform.time import CHINA_TZ
from server.sla.models import SlaClockRow
from tests.fixtures.app import Api
from tests.fixtures.clock import AppClock
from tests.flows import Journey, log_in_again, open_case, start_journey


def sh(y: int, m: int, d: int, hour: int = 0, minute: int = 0) -> datetime:
    """A moment given in Asia/Shanghai wall time, as UTC (how it is stored)."""
    return datetime(y, m, d, hour, minute, tzinfo=CHINA_TZ).astimezone(UTC)


async def opened_at(
    api: Api,
    clock: AppClock,
    moment: datetime,
    sla_class: str = "general",
    *,
    journey: Journey | None = None,
    number: str = "SQ-SLA-1",
) -> Journey:
    """The dispatcher takes a case of ``sla_class`` in at ``moment`` (its clock starts then);
    the clock stays at ``moment``. Give ``journey`` to open another case with the same staff."""
    clock.at(moment)
    journey = journey or await start_journey(api)
    await open_case(journey, number, sla_class=sla_class, override_reason="按申请情况调整时限")
    return journey


async def now_at(clock: AppClock, moment: datetime, *journeys: Journey) -> None:
    """Set the clock to ``moment``; the journeys' staff log in anew (a login idles out)."""
    clock.at(moment)
    for journey in journeys:
        await log_in_again(journey)


async def clocks_of(session: AsyncSession, case_id: str) -> list[SlaClockRow]:
    query = select(SlaClockRow).where(SlaClockRow.case_id == case_id)
    return list((await session.scalars(query.order_by(SlaClockRow.started_at))).all())


async def stored_clocks(api: Api, case_id: str) -> list[SlaClockRow]:
    async with api.ctx.sessionmaker() as session:
        return await clocks_of(session, case_id)


async def get_clock(api: Api, case_id: str, headers: dict[str, str]) -> dict[str, Any]:
    """The case's clock as ``GET /cases/{id}/clock`` shows it."""
    response = await api.client.get(f"/api/v1/cases/{case_id}/clock", headers=headers)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def audit_count(session: AsyncSession, action: str, case_id: str | None = None) -> int:
    query = select(func.count()).select_from(AuditRecord).where(AuditRecord.action == action)
    if case_id is not None:
        query = query.where(AuditRecord.case_id == case_id)
    return int(await session.scalar(query) or 0)
