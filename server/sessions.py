"""Sessions as the app opens them: carrying the configured SLA policy and the case hooks.

Every process (the app, the CLI, demo data, the benchmarks, the tests) opens its sessions here,
so no case moves without its clock and no clock uses other thresholds than configured.
"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from server.cases.hooks import hooks_info
from server.db import make_sessionmaker
from server.sla.clock import SlaPolicy
from server.sla.hooks import SlaClockHook
from server.sla.policy import session_info


def app_sessionmaker(engine: AsyncEngine, policy: SlaPolicy) -> async_sessionmaker[AsyncSession]:
    """Sessions that carry ``policy`` and keep every case's SLA clock in step with the case."""
    return make_sessionmaker(engine, info=session_info(policy) | hooks_info([SlaClockHook()]))
