"""The configured SLA policy reaches every clock change, not only the clock's start; a session
made without a policy cannot move a clock (no silent default)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from server.config import Settings
from server.db import utcnow
from server.sessions import app_sessionmaker
from server.sla.calendar import Allowance, AllowanceUnit, WorkCalendar
from server.sla.clock import SlaPolicy
from server.sla.jobs import TickResult, sla_tick
from server.sla.policy import session_policy
from tests.fixtures.app import Api
from tests.flows import reschedule, start_journey

YELLOW_SHARE = 0.5  # the default is 0.75
BETWEEN = 0.625  # past the configured yellow share, short of the default one


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.model_copy(update={"sla_yellow_share": YELLOW_SHARE})


async def test_a_resumed_clock_turns_yellow_at_the_configured_share(api: Api) -> None:
    journey = await start_journey(api)
    await reschedule(journey)  # paused by the applicant's request, resumed by the new slot
    seen = utcnow()
    response = await api.client.get(
        f"/api/v1/cases/{journey.case_id}/clock", headers=journey.dispatcher
    )
    assert response.status_code == 200, response.text
    clock = response.json()
    assert clock["active"], clock
    assert not clock["paused"], clock
    calendar = WorkCalendar()
    allowance = calendar.duration(
        Allowance(clock["allowance_amount"], AllowanceUnit(clock["allowance_unit"]))
    )
    left = allowance * BETWEEN - timedelta(minutes=clock["used_minutes"])
    moment = calendar.add_working_time(seen, left).due_utc

    ticked = await sla_tick(api.ctx.sessionmaker, now=moment)

    assert ticked == TickResult(checked=1, yellow=1), ticked
    shown = await api.client.get(
        f"/api/v1/cases/{journey.case_id}/clock", headers=journey.dispatcher
    )
    assert shown.json()["yellow_at"] is not None, shown.text


async def test_sessions_carry_the_policy_they_were_made_with(engine: AsyncEngine) -> None:
    policy = SlaPolicy(yellow_share=YELLOW_SHARE)
    async with app_sessionmaker(engine, policy)() as session:
        assert session_policy(session) is policy


async def test_a_session_without_a_policy_refuses_instead_of_defaulting(
    engine: AsyncEngine,
) -> None:
    async with AsyncSession(engine) as session:
        with pytest.raises(RuntimeError, match="no SLA policy"):
            session_policy(session)
