"""Benchmark: can response time tell a real user name from an unknown one at login?

    .venv/bin/python -m bench.login_enumeration            # 40 pairs at the production cost
    .venv/bin/python -m bench.login_enumeration --quick    # 10 pairs

Runs ``auth.service.login`` (lookup, argon2id at the production cost, throttle counters, audit
record, commit) on a throwaway SQLite database, alternating a wrong password for a real name
with any password for an unknown name, each from a fresh address so the back-off never
answers first. Reports the median of each and the gap. Nothing is asserted: the figure goes
to ``bench/results/login_enumeration.json`` and ``.md``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import platform
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from server.auth import passwords
from server.auth.models import Role, Staff
from server.auth.service import login
from server.config import Environment, Settings
from server.db import make_engine
from server.errors import NotAuthenticated
from server.migrate import upgrade
from server.sessions import app_sessionmaker
from server.sla.policy import policy_from_settings

RESULTS = Path(__file__).resolve().parent / "results"


async def _timed_failure(
    sessionmaker: Any, settings: Settings, username: str, address: str
) -> float:
    async with sessionmaker() as session:
        started = time.perf_counter()
        try:
            await login(session, settings, username=username, password="wrong", client_ip=address)
        except NotAuthenticated:
            await session.commit()
        else:  # pragma: no cover - a wrong password never logs in
            raise AssertionError("logged in with a wrong password")
        return time.perf_counter() - started


async def run(pairs: int) -> dict[str, Any]:
    settings = Settings(environment=Environment.test)  # production argon2id cost (3, 64 MiB)
    passwords.configure(
        time_cost=settings.password_time_cost, memory_kib=settings.password_memory_kib
    )
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite+aiosqlite:///{tmp}/bench.db"
        await upgrade(url)
        engine = make_engine(url)
        sessionmaker = app_sessionmaker(engine, policy_from_settings(settings))
        async with sessionmaker() as session:
            session.add(
                Staff(
                    username="real.user",
                    display_name="Real",
                    role=Role.window,
                    password_hash=await passwords.hash_password("correct horse battery"),
                )
            )
            await session.commit()
        known, unknown = [], []
        for n in range(pairs):
            known.append(await _timed_failure(sessionmaker, settings, "real.user", f"10.1.{n}.1"))
            unknown.append(await _timed_failure(sessionmaker, settings, f"ghost{n}", f"10.2.{n}.1"))
        await engine.dispose()
    median_known, median_unknown = statistics.median(known), statistics.median(unknown)
    return {
        "pairs": pairs,
        "argon2id": {
            "time_cost": settings.password_time_cost,
            "memory_kib": settings.password_memory_kib,
        },
        "median_known_ms": round(median_known * 1000, 2),
        "median_unknown_ms": round(median_unknown * 1000, 2),
        "gap_ms": round((median_known - median_unknown) * 1000, 2),
        "gap_share": round((median_known - median_unknown) / median_known, 4),
        "stdev_known_ms": round(statistics.stdev(known) * 1000, 2),
        "stdev_unknown_ms": round(statistics.stdev(unknown) * 1000, 2),
        "machine": f"{platform.python_version()} on {platform.machine()}",
    }


def write(result: dict[str, Any]) -> None:
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "login_enumeration.json").write_text(json.dumps(result, indent=2) + "\n")
    table = (
        "| pairs | real name, wrong password (median ms) | unknown name (median ms) | gap (ms) |\n"
        "|---:|---:|---:|---:|\n"
        f"| {result['pairs']} | {result['median_known_ms']} | {result['median_unknown_ms']} "
        f"| {result['gap_ms']} ({result['gap_share']:.1%}) |\n"
    )
    (RESULTS / "login_enumeration.md").write_text(table)
    print(table)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="10 pairs instead of 40")
    parser.add_argument("--pairs", type=int, default=40)
    args = parser.parse_args()
    result = asyncio.run(run(10 if args.quick else args.pairs))
    print(json.dumps(result, indent=2))
    write(result)


if __name__ == "__main__":
    main()
