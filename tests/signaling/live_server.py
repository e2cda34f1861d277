"""Serve an ASGI app on a real socket at 127.0.0.1:0, and a small WebSocket client helper."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import AsyncIterator
from typing import Any

import uvicorn
from fastapi import FastAPI
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from tests.helpers import wait_until

WAIT = 5.0  # bound on every wait in these tests


@contextlib.asynccontextmanager
async def running(app: FastAPI, port: int = 0) -> AsyncIterator[str]:
    """The app on uvicorn (lifespan already entered by the caller); yields ``ws://host:port``.

    ``port`` 0 takes a free one; a chosen port lets the app's settings name its public URL."""
    config = uvicorn.Config(app, host="127.0.0.1", port=port, lifespan="off", log_level="warning")
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())

    def started() -> bool:
        assert not task.done(), task  # it stopped (a bind error…): say so at once
        return bool(server.started)

    await wait_until(started, within=WAIT, interval=0.01, what="uvicorn start")
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"ws://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await asyncio.wait_for(task, WAIT)


async def send(ws: ClientConnection, **message: Any) -> None:
    await ws.send(json.dumps(message))


async def next_of(ws: ClientConnection, kind: str, within: float = WAIT) -> dict[str, Any]:
    """The next message of type ``kind``, answering pings on the way (as a real client does)."""
    deadline = time.monotonic() + within
    while True:
        remaining = deadline - time.monotonic()
        assert remaining > 0, f"no {kind!r} within {within} s"
        message = json.loads(await asyncio.wait_for(ws.recv(), remaining))
        if message["type"] == kind:
            return dict(message)
        if message["type"] == "ping":
            await send(ws, type="pong")


async def close_code(ws: ClientConnection, within: float = WAIT) -> int | None:
    """Read until the server closes; the close code it sent."""
    deadline = time.monotonic() + within
    with contextlib.suppress(ConnectionClosed):
        while True:
            remaining = deadline - time.monotonic()
            assert remaining > 0, f"not closed within {within} s"
            await asyncio.wait_for(ws.recv(), remaining)
    assert ws.close_code is not None or ws.protocol.close_rcvd is not None
    return ws.protocol.close_rcvd.code if ws.protocol.close_rcvd else ws.close_code


@contextlib.asynccontextmanager
async def joined(url: str, token: str) -> AsyncIterator[tuple[ClientConnection, dict[str, Any]]]:
    """A connection that sent ``join`` and got ``joined``."""
    async with connect(url, max_size=None) as ws:
        await send(ws, type="join", token=token)
        yield ws, await next_of(ws, "joined")


@contextlib.asynccontextmanager
async def refused(url: str, token: str) -> AsyncIterator[int | None]:
    async with connect(url) as ws:
        await send(ws, type="join", token=token)
        yield await close_code(ws)
