"""The SLA clock as a case hook: started when a case is taken in, moved with every transition."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from server.cases.models import Case
from server.cases.states import CaseState
from server.sla.policy import session_policy
from server.sla.service import on_transition, start_for_case


class SlaClockHook:
    """Keeps each case's clock in step with the case (wired by ``app_sessionmaker``)."""

    async def case_opened(self, session: AsyncSession, case: Case, now: datetime) -> None:
        await start_for_case(session, case, now=now, policy=session_policy(session))

    async def case_moved(
        self, session: AsyncSession, case: Case, old: CaseState, new: CaseState, now: datetime
    ) -> None:
        await on_transition(session, case, old, new, now)
