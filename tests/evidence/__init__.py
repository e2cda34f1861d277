"""Evidence tests: a signaling client that keeps its socket alive, and app wiring helpers."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Callable
from typing import Any

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from tests.helpers import wait_until

WAIT = 10.0


class Member:
    """A joined WebSocket: a reader answers pings and keeps every message for the test."""

    def __init__(self, ws: ClientConnection) -> None:
        self.ws = ws
        self.messages: list[dict[str, Any]] = []
        self._task = asyncio.create_task(self._read())

    async def _read(self) -> None:
        with contextlib.suppress(ConnectionClosed):
            async for text in self.ws:
                message = json.loads(text)
                if message["type"] == "ping":
                    await self.send(type="pong")
                else:
                    self.messages.append(message)

    async def send(self, **message: Any) -> None:
        await self.ws.send(json.dumps(message))

    async def wait(
        self,
        kind: str,
        start: int = 0,
        where: Callable[[dict[str, Any]], bool] = lambda m: True,
        within: float = WAIT,
    ) -> dict[str, Any]:
        """The first message of type ``kind`` at or after index ``start`` (bounded polling)."""

        def first() -> dict[str, Any] | None:
            wanted = (m for m in self.messages[start:] if m["type"] == kind and where(m))
            return next(wanted, None)

        await wait_until(lambda: first() is not None, within=within, interval=0.02, what=kind)
        message = first()
        assert message is not None
        return message

    async def answer(self, sdp: str) -> str:
        """Send an offer, return the server's answer (used as ``tests.media.connect``'s hook)."""
        start = len(self.messages)
        await self.send(type="offer", sdp=sdp)
        return str((await self.wait("answer", start))["sdp"])

    async def close(self) -> None:
        await self.ws.close()
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task


async def join(url: str, token: str) -> Member:
    """Connect and join; the caller closes the member (leaving the room)."""
    joined = Member(await connect(url, max_size=None))
    await joined.send(type="join", token=token)
    await joined.wait("joined")
    return joined


def token(headers: dict[str, str]) -> str:
    return headers["Authorization"].removeprefix("Bearer ")
