"""Writes that must finish even when whoever asked for them goes away (a replaced WebSocket).

A request's writes live and die with its transaction. Writes made from live code (who joined a
call, who left, where the phone was) have no request: the connection that triggers one can be
cancelled at any await, by a rejoin, a kick or shutdown. Such a write is handed to this writer,
which runs it in a task of its own with its own session, retries a transient database error,
logs loudly when it finally fails, and is drained at shutdown before the engine goes.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from server.errors import AppError

log = logging.getLogger(__name__)

Write = Callable[[AsyncSession], Awaitable[None]]
"""One unit of work; it only flushes, the writer commits."""

RETRY_DELAYS = (0.05, 0.2, 0.5, 1.0)  # seconds between attempts; then the write is given up
DRAIN_GRACE = 30.0  # seconds shutdown waits for writes in flight


def _transient(exc: DBAPIError) -> bool:
    """Locked (SQLite), connection lost or serialisation conflict: worth another attempt."""
    if exc.connection_invalidated:
        return True
    text = str(exc.orig).lower()
    return any(
        marker in text
        for marker in ("locked", "busy", "connection", "serializ", "deadlock", "timeout")
    )


class DetachedWriter:
    """Runs each write in its own task and session; cancelling the caller never cancels it."""

    def __init__(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        *,
        retry_delays: tuple[float, ...] = RETRY_DELAYS,
    ) -> None:
        self._sessionmaker = sessionmaker
        self._retry_delays = retry_delays
        self._tasks: set[asyncio.Task[None]] = set()
        self._last: dict[str, asyncio.Task[None]] = {}  # the latest write of each order key

    @property
    def pending(self) -> int:
        return len(self._tasks)

    def submit(self, write: Write, *, what: str, order: str | None = None) -> asyncio.Future[None]:
        """Start ``write`` now; await the result to wait for it (a cancelled wait leaves it be).

        ``what`` names the write in the log if it is finally given up. Writes with the same
        ``order`` key (a case id) are committed in the order submitted, so a room's audit
        records chain in the order its events happened.
        """
        previous = self._last.get(order) if order is not None else None
        task = asyncio.get_running_loop().create_task(self._run(write, what, previous))
        self._tasks.add(task)
        if order is not None:
            self._last[order] = task
        task.add_done_callback(lambda done: self._settle(done, order))
        return asyncio.shield(task)

    def _settle(self, task: asyncio.Task[None], order: str | None) -> None:
        self._tasks.discard(task)
        if order is not None and self._last.get(order) is task:
            del self._last[order]
        if not task.cancelled():
            task.exception()  # logged in _run; a waiter still gets it, nobody else must

    async def _run(self, write: Write, what: str, previous: asyncio.Task[None] | None) -> None:
        """Commit ``write``; a failure is logged here and raised to whoever still waits."""
        if previous is not None:
            await asyncio.wait([previous])  # whatever became of it
        for attempt, delay in enumerate((*self._retry_delays, None), start=1):
            try:
                async with self._sessionmaker() as session:
                    await write(session)
                    await session.commit()
                return
            except DBAPIError as exc:
                if delay is None or not _transient(exc):
                    log.error(
                        "detached write given up: %s (attempt %d)", what, attempt, exc_info=True
                    )
                    raise
                log.warning("detached write retried: %s (attempt %d): %s", what, attempt, exc.orig)
                await asyncio.sleep(delay)
            except AppError:
                raise  # a rule refused it: the caller's answer to give, not a write lost
            except Exception:
                log.error("detached write failed: %s", what, exc_info=True)
                raise

    async def drain(self, grace: float = DRAIN_GRACE) -> int:
        """At shutdown: wait for every write in flight; returns how many did not finish."""
        if not self._tasks:
            return 0
        _, unfinished = await asyncio.wait(set(self._tasks), timeout=grace)
        if unfinished:
            log.error("shutdown left %d detached writes unfinished", len(unfinished))
        return len(unfinished)
