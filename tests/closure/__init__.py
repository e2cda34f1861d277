"""Tests of closure (办结): the licensing decision on the issued opinion. Shared helpers here."""

from __future__ import annotations

from datetime import date, timedelta

from sqlalchemy import func, select

from server.audit.models import AuditRecord
from server.closure.models import CaseDecision
from server.db import utcnow
from server.platform.time import CHINA_TZ
from tests.fixtures.app import Api
from tests.flows import Journey, issue_opinion, open_case, start_journey


def decision_url(case_id: str) -> str:
    return f"/api/v1/cases/{case_id}/decision"


def beijing_today(days: int = 0) -> date:
    """Today on the Beijing calendar, moved by ``days``."""
    return utcnow().astimezone(CHINA_TZ).date() + timedelta(days=days)


async def issued_case(api: Api, number: str) -> Journey:
    """A new journey whose case has its opinion issued (the window's turn)."""
    journey = await start_journey(api)
    await open_case(journey, number)
    await issue_opinion(journey)
    return journey


async def stored_decisions(api: Api) -> int:
    async with api.ctx.sessionmaker() as session:
        return int(await session.scalar(select(func.count()).select_from(CaseDecision)) or 0)


async def closings(api: Api, case_id: str) -> list[AuditRecord]:
    """The case's audited transitions by the close action."""
    async with api.ctx.sessionmaker() as session:
        rows = await session.scalars(
            select(AuditRecord).where(
                AuditRecord.case_id == case_id, AuditRecord.action == "case.transition"
            )
        )
        return [r for r in rows if r.detail.get("action") == "close"]
