"""The SLA policy the app runs with: built once from Settings at start-up, carried by sessions.

Every database session the app opens comes from ``server.sessions.app_sessionmaker``, which
requires the policy and stores it in the session's ``info``; whatever moves a clock reads it
back with ``session_policy``. There is no default to fall back to: a session made without a policy
cannot move a clock, it fails loudly instead of using other thresholds than configured.
"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from server.config import Settings
from server.sla.calendar import Allowance
from server.sla.clock import SlaPolicy

_KEY = "sla_policy"


def policy_from_settings(settings: Settings) -> SlaPolicy:
    return SlaPolicy(
        simple=Allowance.minutes(settings.sla_simple_minutes),
        general=Allowance.working_days(settings.sla_general_working_days),
        reinspection=Allowance.minutes(settings.sla_reinspection_minutes),
        complex=Allowance.working_days(settings.sla_complex_working_days),
        yellow_share=settings.sla_yellow_share,
    )


def session_info(policy: SlaPolicy) -> dict[str, object]:
    """What ``app_sessionmaker`` puts in each session's ``info``."""
    return {_KEY: policy}


def session_policy(session: AsyncSession) -> SlaPolicy:
    """The policy the session was made with (see ``app_sessionmaker``)."""
    policy = session.info.get(_KEY)
    if not isinstance(policy, SlaPolicy):
        raise RuntimeError("this session was not made by app_sessionmaker: it has no SLA policy")
    return policy
