"""Telling the parts that hold open connections that someone's access has ended.

Logout, disabling an account, changing its role or password, and revoking an applicant link
make REST refuse the token at once. A live WebSocket was authenticated once, at join, so it
must be told: the change announces an ``AccessEnded`` once its transaction has committed, to
the hooks wired at start-up (``AppContext.access_ended``). The auth side never imports the
live side; a rolled-back change announces nothing.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Literal

from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

log = logging.getLogger(__name__)

EndReason = Literal["logout", "disabled", "role_changed", "password_changed", "link_revoked"]


@dataclass(frozen=True, slots=True)
class AccessEnded:
    principal_id: str  # the staff id, or the applicant link id
    reason: EndReason
    session_id: str | None = None  # the one login that ended; None: every login of theirs


AccessEndedHook = Callable[[AccessEnded], None]


def announce_after_commit(
    session: AsyncSession, hooks: Sequence[AccessEndedHook], ended: AccessEnded
) -> None:
    """Tell every hook about ``ended`` once ``session`` commits (a hook that fails is logged)."""
    told = tuple(hooks)

    def after_commit(_: Session) -> None:
        for hook in told:
            try:
                hook(ended)
            except Exception:
                log.exception("access-ended hook failed for %s", ended)

    if told:
        event.listen(session.sync_session, "after_commit", after_commit, once=True)
