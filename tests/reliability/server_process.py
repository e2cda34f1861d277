"""The app as a real OS process, for kill -9 drills (reliability tests #13, #14, #28, #29).

``ServerProcess`` starts uvicorn on the app factory in a process group of its own, with the
test's database and the session's SeaweedFS passed as ``CLOUDINSPECT_*`` settings, waits for
``/healthz``, and can be killed with SIGKILL (the whole group: no orphan workers) and started
again on the same database and port. Media runs in-process (``media_workers=0``) and the
scheduler is off unless asked for, so a start costs only the import and the lifespan.
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx

from server.config import Settings
from tests.fixtures.app import Api
from tests.helpers import wait_until
from tests.reliability.serve import DELAY_VARIABLE

ROOT = Path(__file__).resolve().parents[2]
START_TIMEOUT_S = 60.0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def settings_env(
    settings: Settings, port: int, *, commit_delay_ms: float = 0, **extra: Any
) -> dict[str, str]:
    """The ``CLOUDINSPECT_*`` variables that make a process run with ``settings``."""
    values: dict[str, Any] = {
        "environment": settings.environment.value,
        "data_dir": settings.data_dir,
        "database_url": settings.effective_database_url,
        "sqlite_synchronous_full": settings.sqlite_synchronous_full,
        "s3_endpoint": settings.s3_endpoint,
        "s3_access_key": settings.s3_access_key.get_secret_value(),
        "s3_secret_key": settings.s3_secret_key.get_secret_value(),
        "s3_bucket": settings.s3_bucket,
        "secret_key": settings.secret_key.get_secret_value(),
        "password_time_cost": settings.password_time_cost,
        "password_memory_kib": settings.password_memory_kib,
        "host": "127.0.0.1",
        "port": port,
        "base_url": f"http://127.0.0.1:{port}",
        "media_workers": 0,
        "scheduler_enabled": False,
        # drills send many requests from one address; the limits are tested elsewhere
        "login_address_concurrency": 1000,
        "token_lookup_failures_per_minute": 100000,
    }
    values.update(extra)
    env = {k: v for k, v in os.environ.items() if not k.startswith("CLOUDINSPECT_")}
    env.update({f"CLOUDINSPECT_{k.upper()}": _env_value(v) for k, v in values.items()})
    env["PYTHONPATH"] = str(ROOT)
    env[DELAY_VARIABLE] = str(commit_delay_ms)
    return env


def _env_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


class ServerProcess:
    """One app process at a time on a fixed port; ``kill`` is SIGKILL to its process group."""

    def __init__(self, env: Mapping[str, str], port: int, log_path: Path) -> None:
        self.env = dict(env)
        self.port = port
        self.log_path = log_path
        self.base_url = f"http://127.0.0.1:{port}"
        self.process: subprocess.Popen[bytes] | None = None
        self.starts = 0
        self.kills = 0
        self.last_group: int | None = None

    def command(self) -> list[str]:
        return [sys.executable, "-m", "tests.reliability.serve"]

    async def start(self) -> float:
        """Start and wait until ``/healthz`` answers; returns the seconds it took."""
        assert self.process is None, "already running"
        began = time.monotonic()
        with self.log_path.open("ab") as log:
            log.write(f"--- start {self.starts + 1}\n".encode())
            log.flush()
            self.process = subprocess.Popen(  # noqa: ASYNC220 - returns at once
                self.command(),
                env=self.env,
                cwd=ROOT,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its own process group, killed as one
            )
        self.starts += 1
        await self._wait_healthy(began)
        return time.monotonic() - began

    async def _wait_healthy(self, began: float) -> None:
        async with httpx.AsyncClient(base_url=self.base_url, timeout=2) as client:

            async def healthy() -> bool:
                assert self.process is not None
                if self.process.poll() is not None:
                    raise RuntimeError(f"server exited {self.process.returncode}: {self.tail()}")
                try:
                    return (await client.get("/healthz")).status_code == 200
                except httpx.TransportError:
                    return False

            left = START_TIMEOUT_S - (time.monotonic() - began)
            try:
                await wait_until(healthy, within=left, interval=0.1, what="server health")
            except AssertionError:
                self.kill()
                raise RuntimeError(
                    f"server not healthy after {START_TIMEOUT_S} s: {self.tail()}"
                ) from None

    def kill(self) -> None:
        """SIGKILL the process group at once and reap the process."""
        if self.process is None:
            return
        self.last_group = self.process.pid  # the leader's pid is the group id
        try:
            os.killpg(self.last_group, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.process.wait()
        self.process = None
        self.kills += 1

    def group_members(self, pgid: int | None = None) -> list[int]:
        """Live (not zombie) processes in the group: the server's, or the last killed one."""
        pgid = pgid or (self.process.pid if self.process else self.last_group)
        members = []
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except (FileNotFoundError, ProcessLookupError, IndexError):
                continue
            if int(fields[2]) == pgid and fields[0] != "Z":
                members.append(int(entry.name))
        return members

    async def restart(self) -> float:
        self.kill()
        return await self.start()

    def tail(self, lines: int = 30) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""
        return "\n".join(text.splitlines()[-lines:])


@asynccontextmanager
async def running_server(
    settings: Settings, log_dir: Path, *, commit_delay_ms: float = 0, **extra: Any
) -> AsyncIterator[ServerProcess]:
    """A started ``ServerProcess`` on ``settings``' database and store, killed afterwards."""
    port = free_port()
    await asyncio.to_thread(log_dir.mkdir, parents=True, exist_ok=True)
    env = settings_env(settings, port, commit_delay_ms=commit_delay_ms, **extra)
    server = ServerProcess(env, port, log_dir / "server.log")
    await server.start()
    try:
        yield server
    finally:
        server.kill()


def http_client(server: ServerProcess, *, connections: int = 200) -> httpx.AsyncClient:
    limits = httpx.Limits(max_connections=connections, max_keepalive_connections=connections)
    return httpx.AsyncClient(base_url=server.base_url, timeout=60, limits=limits)


async def reconnect(api: Api, server: ServerProcess) -> None:
    """A new connection pool after a restart (the old sockets died with the process)."""
    await api.client.aclose()
    api.client = http_client(server)
