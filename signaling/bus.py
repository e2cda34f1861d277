"""Fan-out of server messages to connections: in-process now, a Redis-backed bus later.

A connection's writer drains its ``Outbox``; everything else only puts frames in. With several
app processes, a ``Bus`` would publish to the process that holds the connection instead.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Protocol

from signaling.messages import CloseCode, ServerMessage, dump

OUTBOX_LIMIT = 256  # frames queued for a client that does not read: it is closed instead


@dataclass(frozen=True, slots=True)
class CloseRequest:
    code: CloseCode
    reason: str = ""


class Outbox:
    """Frames waiting to go to one client, then at most one close."""

    def __init__(self, limit: int = OUTBOX_LIMIT) -> None:
        self._queue: asyncio.Queue[str | CloseRequest] = asyncio.Queue()
        self._limit = limit
        self.closing: CloseRequest | None = None

    def put(self, frame: str) -> None:
        if self.closing is not None:
            return
        if self._queue.qsize() >= self._limit:
            self.close(CloseCode.policy, "client does not read")
            return
        self._queue.put_nowait(frame)

    def close(self, code: CloseCode, reason: str = "") -> None:
        if self.closing is None:
            self.closing = CloseRequest(code, reason)
            self._queue.put_nowait(self.closing)

    async def next(self) -> str | CloseRequest:
        return await self._queue.get()


class Bus(Protocol):
    def open(self, conn: str) -> Outbox: ...
    def deliver(self, conn: str, message: ServerMessage) -> None: ...
    def close(self, conn: str, code: CloseCode, reason: str = "") -> None: ...
    def release(self, conn: str) -> None: ...


class LocalBus:
    """Every connection lives in this process."""

    def __init__(self) -> None:
        self._outboxes: dict[str, Outbox] = {}

    def open(self, conn: str) -> Outbox:
        outbox = self._outboxes[conn] = Outbox()
        return outbox

    def deliver(self, conn: str, message: ServerMessage) -> None:
        outbox = self._outboxes.get(conn)
        if outbox is not None:
            outbox.put(dump(message))

    def close(self, conn: str, code: CloseCode, reason: str = "") -> None:
        outbox = self._outboxes.get(conn)
        if outbox is not None:
            outbox.close(code, reason)

    def release(self, conn: str) -> None:
        self._outboxes.pop(conn, None)

    def __len__(self) -> int:
        return len(self._outboxes)
