"""The case base layer reaches the SLA clock only through the hooks wired at start-up: a case
taken in through the API has a clock, and a session made without hooks cannot move a case."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from server.cases.hooks import case_moved
from server.cases.models import Case
from server.cases.states import CaseState
from server.db import make_sessionmaker, utcnow
from server.sla.clock import SlaPolicy
from server.sla.models import SlaClockRow
from server.sla.policy import session_info
from tests.fixtures.app import Api
from tests.flows import open_case, start_journey


async def test_a_case_taken_in_starts_its_clock_through_the_hook(api: Api) -> None:
    journey = await start_journey(api)
    await open_case(journey)
    async with api.ctx.sessionmaker() as session:
        clocks = await session.scalar(
            select(func.count())
            .select_from(SlaClockRow)
            .where(SlaClockRow.case_id == journey.case_id, SlaClockRow.active.is_(True))
        )
    assert clocks == 1


async def test_a_session_without_hooks_cannot_reach_the_case_hooks(
    api: Api, engine: AsyncEngine
) -> None:
    journey = await start_journey(api)
    await open_case(journey)
    bare = make_sessionmaker(engine, info=session_info(SlaPolicy()))  # a policy, no hooks
    async with bare() as session:
        case = await session.get(Case, journey.case_id)
        assert case is not None
        with pytest.raises(RuntimeError, match="no case hooks"):
            await case_moved(session, case, CaseState.received, CaseState.assigned, utcnow())
        await session.rollback()
    shown = await api.client.get(f"/api/v1/cases/{journey.case_id}", headers=journey.dispatcher)
    assert shown.json()["state"] == "received", shown.text
