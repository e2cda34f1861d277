"""Tests of the SLA clocks: service, tick and calendar API. Shared helpers live here."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from server.audit.models import AuditRecord
from server.cases.models import Case
from server.platform.time import CHINA_TZ
from server.sla.models import SlaClockRow


def sh(y: int, m: int, d: int, hour: int = 0, minute: int = 0) -> datetime:
    """A moment given in Asia/Shanghai wall time, as UTC (how it is stored)."""
    return datetime(y, m, d, hour, minute, tzinfo=CHINA_TZ).astimezone(UTC)


async def new_case(
    session: AsyncSession, *, sla_class: str = "general", state: str = "received"
) -> Case:
    tag = secrets.token_hex(4)
    case = Case(
        number=f"YTK-{tag}",
        application_no=f"SQ-{tag}",
        intake_fingerprint=tag,
        applicant_kind="company",
        applicant_name="惠民便利店有限公司",
        applicant_phone="13800138000",
        site_address="福州市鼓楼区东街88号",
        matters=["food_retail"],
        mode="online_video",
        sla_class=sla_class,
        state=state,
    )
    session.add(case)
    await session.flush()
    return case


async def clocks_of(session: AsyncSession, case_id: str) -> list[SlaClockRow]:
    query = select(SlaClockRow).where(SlaClockRow.case_id == case_id)
    return list((await session.scalars(query.order_by(SlaClockRow.started_at))).all())


async def audit_count(session: AsyncSession, action: str, case_id: str | None = None) -> int:
    query = select(func.count()).select_from(AuditRecord).where(AuditRecord.action == action)
    if case_id is not None:
        query = query.where(AuditRecord.case_id == case_id)
    return int(await session.scalar(query) or 0)
