"""An open-loop HTTP load generator: requests leave at fixed, scheduled times whatever the
server does, and each latency is measured from its scheduled send time (so a server that falls
behind is charged for the queue it causes — no coordinated omission).

HTTP/1.1 keep-alive over plain asyncio streams: a request costs the generator a few
microseconds, so one Python process can offer well over 1,000 requests/s to the app under test.
"""

from __future__ import annotations

import asyncio
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

PathFor = Callable[[int], str]  # request number → path (with query)


@dataclass
class Run:
    rate: float
    duration_s: float
    latencies_ms: list[float] = field(default_factory=list)
    statuses: dict[int, int] = field(default_factory=dict)
    errors: int = 0
    body_bytes: int = 0
    wall_s: float = 0.0

    def summary(self) -> dict[str, Any]:
        ok = sorted(self.latencies_ms)
        sent = len(ok) + self.errors
        return {
            "rate_offered": self.rate,
            "duration_s": self.duration_s,
            "requests": sent,
            "throughput": round(len(ok) / self.wall_s, 1) if self.wall_s else 0.0,
            "statuses": {str(k): v for k, v in sorted(self.statuses.items())},
            "errors": self.errors,
            "p50_ms": _quantile(ok, 0.50),
            "p90_ms": _quantile(ok, 0.90),
            "p99_ms": _quantile(ok, 0.99),
            "max_ms": round(ok[-1], 2) if ok else None,
            "mean_body_bytes": round(self.body_bytes / len(ok)) if ok else 0,
        }


def _quantile(ordered: list[float], q: float) -> float | None:
    if not ordered:
        return None
    if len(ordered) == 1:
        return round(ordered[0], 2)
    return round(statistics.quantiles(ordered, n=1000, method="inclusive")[int(q * 1000) - 1], 2)


class Connection:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer

    @classmethod
    async def open(cls, host: str, port: int) -> Connection:
        reader, writer = await asyncio.open_connection(host, port)
        return cls(reader, writer)

    async def get(self, request: bytes) -> tuple[int, int]:
        """Send one request, read the whole response; (status, body length)."""
        self.writer.write(request)
        head = await self.reader.readuntil(b"\r\n\r\n")
        lines = head.split(b"\r\n")
        status = int(lines[0].split(b" ", 2)[1])
        length = 0
        for line in lines[1:]:
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value)
        await self.reader.readexactly(length)
        return status, length

    def close(self) -> None:
        self.writer.close()


def request_bytes(host: str, port: int, path: str, token: str) -> bytes:
    return (
        f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\nAuthorization: Bearer {token}\r\n"
        "Accept: application/json\r\n\r\n"
    ).encode()


async def open_loop(
    host: str,
    port: int,
    token: str,
    path_for: PathFor,
    *,
    rate: float,
    duration_s: float,
    max_connections: int = 256,
) -> Run:
    """Offer ``rate`` requests/s for ``duration_s``; each request leaves at ``start + i/rate``
    on an idle keep-alive connection (a new one when none is idle, up to ``max_connections``;
    past that the request waits, and the wait counts in its latency)."""
    run = Run(rate, duration_s)
    idle: list[Connection] = []
    slots = asyncio.Semaphore(max_connections)
    loop = asyncio.get_running_loop()
    total = int(rate * duration_s)
    start = loop.time() + 0.05
    tasks: set[asyncio.Task[None]] = set()

    async def one(i: int, scheduled: float) -> None:
        async with slots:
            conn = idle.pop() if idle else None
            try:
                conn = conn or await Connection.open(host, port)
                status, size = await conn.get(request_bytes(host, port, path_for(i), token))
            except (OSError, asyncio.IncompleteReadError, ValueError):
                run.errors += 1
                if conn is not None:
                    conn.close()
                return
            run.latencies_ms.append((loop.time() - scheduled) * 1000)
            run.statuses[status] = run.statuses.get(status, 0) + 1
            run.body_bytes += size
            idle.append(conn)

    began = time.perf_counter()
    for i in range(total):
        scheduled = start + i / rate
        delay = scheduled - loop.time()
        if delay > 0:
            await asyncio.sleep(delay)
        task = asyncio.create_task(one(i, scheduled))
        tasks.add(task)
        task.add_done_callback(tasks.discard)
    if tasks:
        await asyncio.wait(tasks)
    run.wall_s = time.perf_counter() - began
    for conn in idle:
        conn.close()
    return run
