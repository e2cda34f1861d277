"""A real local HTTP receiver for the signed webhook, recording what it was sent."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import pytest
import uvicorn


@dataclass(frozen=True)
class Received:
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class Receiver:
    """Answers ``fail_status`` to the first ``fail_first`` requests, then ``ok_status``."""

    fail_first: int = 0
    fail_status: int = 503
    ok_status: int = 200
    url: str = ""
    requests: list[Received] = field(default_factory=list)

    def on(self, path: str) -> list[Received]:
        return [r for r in self.requests if r.path == path]

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        assert scope["type"] == "http"
        body, more = b"", True
        while more:
            message = await receive()
            body += message.get("body", b"")
            more = message.get("more_body", False)
        headers = {k.decode().lower(): v.decode() for k, v in scope["headers"]}
        self.requests.append(Received(scope["path"], headers, body))
        status = self.fail_status if len(self.requests) <= self.fail_first else self.ok_status
        await send({"type": "http.response.start", "status": status, "headers": []})
        await send({"type": "http.response.body", "body": f"status {status}".encode()})


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    receiver = Receiver()
    config = uvicorn.Config(
        receiver, host="127.0.0.1", port=0, lifespan="off", ws="none", log_level="warning"
    )
    server = uvicorn.Server(config)
    # A socket that already listens: requests queue in its backlog until uvicorn accepts.
    with socket.create_server(("127.0.0.1", 0)) as sock:
        receiver.url = f"http://127.0.0.1:{sock.getsockname()[1]}"
        task = asyncio.create_task(server.serve(sockets=[sock]))
        try:
            yield receiver
        finally:
            server.should_exit = True
            await task
