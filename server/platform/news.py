"""News for the live rooms (a verdict stored, a rectification requested), told once committed.

A domain never imports the live side: its router announces news to the hooks wired at start-up
(``AppContext.room_news``, see ``server.live.news``) and they run only after the request's
transaction committed, so nobody in a call is told of a write that was rolled back.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class VerdictNews:
    """An inspector's verdict on an item was stored."""

    case_id: str
    item_id: str
    inspector_id: str
    value: str


@dataclass(frozen=True, slots=True)
class RectificationNews:
    """The lead asked for a rectification (补齐补正); ``end_call``: the call ends for all."""

    case_id: str
    items: tuple[str, ...]
    deadline: datetime
    end_call: bool


RoomNews = VerdictNews | RectificationNews
RoomNewsHook = Callable[[RoomNews], None]


def announce_after_commit(
    session: AsyncSession, hooks: Sequence[RoomNewsHook], news: RoomNews
) -> None:
    """Tell every hook about ``news`` once ``session`` commits (a hook that fails is logged:
    the write stands, the rooms learn of it at the next reload)."""
    told = tuple(hooks)

    def after_commit(_: Session) -> None:
        for hook in told:
            try:
                hook(news)
            except Exception:
                log.exception("room news hook failed for %s", news)

    if told:
        event.listen(session.sync_session, "after_commit", after_commit, once=True)
