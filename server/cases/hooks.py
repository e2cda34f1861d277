"""What other domains do when a case opens or moves, wired once at start-up.

``cases/`` is the base layer: it imports no other domain. The SLA clock (and anything else that
must follow every case) registers here instead, through the session: every session the app opens
comes from :func:`server.sessions.app_sessionmaker`, which puts the hooks in the session's
``info``. A session without hooks cannot move a case: it fails loudly rather than skip a clock.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Protocol

from sqlalchemy.ext.asyncio import AsyncSession

from server.cases.models import Case
from server.cases.states import CaseState

_KEY = "case_hooks"


class CaseHook(Protocol):
    async def case_opened(self, session: AsyncSession, case: Case, now: datetime) -> None:
        """A case was taken in (its row is flushed)."""

    async def case_moved(
        self, session: AsyncSession, case: Case, old: CaseState, new: CaseState, now: datetime
    ) -> None:
        """A case moved from ``old`` to ``new`` (flushed, before its audit record)."""


def hooks_info(hooks: Sequence[CaseHook]) -> dict[str, object]:
    """What a sessionmaker puts in each session's ``info`` so cases reach their hooks."""
    return {_KEY: tuple(hooks)}


def session_hooks(session: AsyncSession) -> tuple[CaseHook, ...]:
    hooks = session.info.get(_KEY)
    if not isinstance(hooks, tuple):
        raise RuntimeError("this session was not made by app_sessionmaker: it has no case hooks")
    return hooks


async def case_opened(session: AsyncSession, case: Case, now: datetime) -> None:
    for hook in session_hooks(session):
        await hook.case_opened(session, case, now)


async def case_moved(
    session: AsyncSession, case: Case, old: CaseState, new: CaseState, now: datetime
) -> None:
    for hook in session_hooks(session):
        await hook.case_moved(session, case, old, new, now)
