"""Runs the SLA job in a process of its own (``tick_runner``), optionally SIGKILLing it once
``kill_after`` cards have been heard (#29)."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import time
from dataclasses import dataclass
from datetime import timedelta

from server.config import Settings
from server.db import utcnow
from tests.reliability.server_process import ROOT, settings_env

# Far enough ahead that every clock opened now is past red, whatever the calendar.
LATER = timedelta(days=60)


@dataclass
class TickRun:
    cards: int  # "card" lines heard
    done: bool  # the job finished
    killed: bool
    seconds: float  # start of the process until it finished or was killed


async def run_tick(settings: Settings, *, batch: int, kill_after: int | None = None) -> TickRun:
    env = settings_env(settings, port=0)
    env["DRILL_TICK_NOW"] = (utcnow() + LATER).isoformat()
    env["DRILL_TICK_BATCH"] = str(batch)
    began = time.monotonic()
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "tests.reliability.tick_runner",
        env=env,
        cwd=ROOT,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.DEVNULL,
        start_new_session=True,
    )
    assert process.stdout is not None
    cards, done, killed = 0, False, False
    async for line in process.stdout:
        if line.startswith(b"card "):
            cards += 1
            if cards == kill_after:
                os.killpg(process.pid, signal.SIGKILL)
                killed = True
                break
        elif line.startswith(b"done"):
            done = True
    await process.wait()
    return TickRun(cards, done, killed, time.monotonic() - began)
