"""Benchmark: the case API under an open-loop load, today's code against the baseline.

    .venv/bin/python -m bench.api_load                 # 100,000 cases, 3 rounds
    .venv/bin/python -m bench.api_load --quick         # 5,000 cases, short runs

PostgreSQL on 127.0.0.1:5432 (trust auth; ``CLOUDINSPECT_BENCH_PG_DSN`` for another): creates a
throwaway database, migrates it, seeds N cases by COPY (``bench.api_seed``), starts ONE app
process (uvicorn, ``bench.api_baseline:create_bench_app``: the app plus the baseline routes,
so both are served by the same process in the same run), logs a dispatcher in once (login is
excluded from the figures), then offers fixed request rates (``bench.open_loop``; latency from
the scheduled send time) in rounds, each scenario alternating with its baseline:

* ``detail``: ``GET /api/v1/cases/{id}`` (random ids) — baseline: the old detail code path;
* ``list``: a filtered page of 50 (state + matter, by due time) ``GET /api/v1/cases/page`` —
  baseline: the old ``GET /cases`` (all visible cases, ≤ 500, one inspector query per case),
  which the console filtered in the browser;
* ``search``: a search-box page (``q`` over number, application, applicant, address).

Writes ``bench/results/api_load.json`` and ``.md`` (medians over the rounds).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import random
import secrets
import socket
import statistics
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import asyncpg  # type: ignore[import-untyped]
import httpx

from bench.api_seed import MATTERS, OPEN_STATES, PASSWORD, Seeded, seed
from bench.open_loop import open_loop
from server.migrate import upgrade

ADMIN_DSN = os.environ.get(
    "CLOUDINSPECT_BENCH_PG_DSN", "postgresql://postgres@127.0.0.1:5432/postgres"
)
RESULTS = Path(__file__).resolve().parent / "results"
HOST = "127.0.0.1"
KEEP_LOG = bool(os.environ.get("BENCH_SHOW_APP_LOG"))
SEARCH_WORDS = ("茶叶", "东街", "SQ-B00012", "便利店12", "五一北路1")


@dataclass(frozen=True)
class Scenario:
    name: str
    variant: str  # "today" | "baseline"
    rate: float
    path_for: Callable[[int], str]
    seconds: float = 5.0  # how long the rate is offered (times the --duration factor)


def dsn(name: str) -> str:
    return ADMIN_DSN.rsplit("/", 1)[0] + f"/{name}"


def sa_url(name: str) -> str:
    return dsn(name).replace("postgresql://", "postgresql+asyncpg://")


async def admin(statement: str) -> None:
    conn = await asyncpg.connect(ADMIN_DSN)
    try:
        await conn.execute(statement)
    finally:
        await conn.close()


@asynccontextmanager
async def database(cases: int) -> AsyncIterator[tuple[str, Seeded, float]]:
    name = f"bench_api_{secrets.token_hex(4)}"
    await admin(f'CREATE DATABASE "{name}"')
    try:
        await upgrade(sa_url(name))
        began = time.perf_counter()
        seeded = await seed(sa_url(name), dsn(name), cases)
        await prewarm(name)
        yield name, seeded, time.perf_counter() - began
    finally:
        await admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


async def prewarm(name: str) -> None:
    """Read every table the scenarios touch once, so the first scenario does not pay for a cold
    cache that the ones after it find warm."""
    conn = await asyncpg.connect(dsn(name))
    try:
        for table in ("cases", "sla_clocks", "case_inspectors", "staff", "staff_sessions"):
            await conn.execute(f"SELECT count(*), max(length(t::text)) FROM {table} t")
    finally:
        await conn.close()


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


@asynccontextmanager
async def app_process(name: str) -> AsyncIterator[int]:
    """One uvicorn process serving the app and the baseline routes."""
    port = free_port()
    with tempfile.TemporaryDirectory(prefix="bench-api-") as data:
        env = dict(
            os.environ,
            CLOUDINSPECT_DATABASE_URL=sa_url(name),
            CLOUDINSPECT_DATA_DIR=data,
            CLOUDINSPECT_LOG_LEVEL="WARNING",
            # the API alone: the scheduler's jobs (SLA tick, reminders) run in another process
            CLOUDINSPECT_SCHEDULER_ENABLED="false",
        )
        command = [
            sys.executable, "-m", "uvicorn", "--factory", "bench.api_baseline:create_bench_app",
            "--host", HOST, "--port", str(port), "--no-access-log", "--log-level", "warning",
        ]  # fmt: skip
        log = await asyncio.to_thread(open, Path(data) / "app.log", "wb")
        process = await asyncio.create_subprocess_exec(
            *command, env=env, stdout=log, stderr=asyncio.subprocess.STDOUT
        )
        try:
            await _wait_up(port, process)
            yield port
        finally:
            process.terminate()
            try:
                await asyncio.wait_for(process.wait(), 30)
            except TimeoutError:
                process.kill()
            log.close()
            if KEEP_LOG:
                print((Path(data) / "app.log").read_text()[-4000:])


async def _wait_up(port: int, process: asyncio.subprocess.Process) -> None:
    async with httpx.AsyncClient() as client:
        for _ in range(600):
            if process.returncode is not None:
                raise RuntimeError("the app process exited while starting")
            try:
                if (await client.get(f"http://{HOST}:{port}/healthz")).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            await asyncio.sleep(0.2)
    raise RuntimeError("the app did not come up within 120 s")


async def login(port: int, username: str) -> str:
    async with httpx.AsyncClient() as client:
        response = await client.post(
            f"http://{HOST}:{port}/api/v1/auth/login",
            json={"username": username, "password": PASSWORD},
        )
        response.raise_for_status()
        return str(response.json()["token"])


def scenarios(seeded: Seeded, quick: bool) -> list[Scenario]:
    ids = seeded.case_ids
    picks = random.Random(7)
    chosen = [picks.choice(ids) for _ in range(50_000)]

    def detail(prefix: str) -> Callable[[int], str]:
        return lambda i: f"{prefix}/{chosen[i % len(chosen)]}"

    def page(i: int) -> str:
        state = OPEN_STATES[i % len(OPEN_STATES)].value
        query = {"state": state, "matter": MATTERS[i % len(MATTERS)], "sort": "due", "limit": 50}
        return f"/api/v1/cases/page?{urlencode(query)}"

    def search(i: int) -> str:
        return f"/api/v1/cases/page?{urlencode({'q': SEARCH_WORDS[i % len(SEARCH_WORDS)]})}"

    top = 300.0 if quick else 1000.0
    old_list: Callable[[int], str] = lambda _: "/bench/baseline/cases"  # noqa: E731
    return [
        Scenario("case detail", "today", top, detail("/api/v1/cases")),
        Scenario("case detail", "baseline", top, detail("/bench/baseline/cases")),
        Scenario("case detail", "today", 100.0, detail("/api/v1/cases")),
        Scenario("case detail", "baseline", 100.0, detail("/bench/baseline/cases")),
        Scenario("filtered list page (50)", "today", 100.0, page),
        Scenario("filtered list page (50)", "today", 1.0, page, 10.0),
        Scenario("filtered list page (50)", "baseline", 1.0, old_list, 10.0),
        Scenario("search box page (50)", "today", 20.0, search),
    ]


def load_average() -> float:
    return round(os.getloadavg()[0], 2)


async def run_rounds(
    port: int, token: str, todo: list[Scenario], rounds: int, duration: float
) -> dict[str, list[dict[str, Any]]]:
    runs: dict[str, list[dict[str, Any]]] = {}
    warm = todo[0].path_for
    await open_loop(HOST, port, token, warm, rate=100, duration_s=3)  # connections, caches
    for _ in range(rounds):
        for scenario in todo:
            seconds = scenario.seconds * duration
            run = await open_loop(
                HOST, port, token, scenario.path_for, rate=scenario.rate, duration_s=seconds
            )
            key = f"{scenario.name} | {scenario.variant} | {scenario.rate:g}"
            runs.setdefault(key, []).append(run.summary() | {"load_1m": load_average()})
            print(key, runs[key][-1], flush=True)
            await asyncio.sleep(1)  # let the queue of an overloaded run drain
    return runs


def median_of(runs: list[dict[str, Any]], key: str) -> float | None:
    values = [r[key] for r in runs if r.get(key) is not None]
    return round(statistics.median(values), 2) if values else None


def summarise(runs: dict[str, list[dict[str, Any]]]) -> list[dict[str, Any]]:
    rows = []
    for key, series in runs.items():
        name, variant, rate = key.split(" | ")
        rows.append(
            {
                "scenario": name,
                "variant": variant,
                "rate_offered": float(rate),
                "throughput": median_of(series, "throughput"),
                "p50_ms": median_of(series, "p50_ms"),
                "p99_ms": median_of(series, "p99_ms"),
                "errors": sum(r["errors"] for r in series),
                "non_200": sum(
                    n for r in series for code, n in r["statuses"].items() if code != "200"
                ),
                "mean_body_bytes": median_of(series, "mean_body_bytes"),
                "rounds": len(series),
            }
        )
    return rows


def markdown(result: dict[str, Any]) -> str:
    lines = [
        f"`python -m bench.api_load` — {result['cases']:,} cases on PostgreSQL, one app process, "
        f"open-loop, {result['rounds']} rounds (5–10 s each × {result['duration_s']:g}), medians "
        f"({result['machine']['cpus']} CPUs shared, load 1 min {result['load_before']}"
        f"→{result['load_after']}).",
        "",
        "| scenario | code | offered req/s | served req/s | p50 ms | p99 ms | body B | errors |",
        "|---|---|---:|---:|---:|---:|---:|---:|",
    ]
    for r in result["rows"]:
        lines.append(
            f"| {r['scenario']} | {r['variant']} | {r['rate_offered']:g} | {r['throughput']} "
            f"| {r['p50_ms']} | {r['p99_ms']} | {r['mean_body_bytes']:,.0f} "
            f"| {r['errors'] + r['non_200']} |"
        )
    return "\n".join(lines) + "\n"


async def main(cases: int, rounds: int, duration: float, quick: bool) -> dict[str, Any]:
    load_before = load_average()
    async with database(cases) as (name, seeded, seed_s), app_process(name) as port:
        token = await login(port, seeded.dispatcher)
        runs = await run_rounds(port, token, scenarios(seeded, quick), rounds, duration)
    result = {
        "cases": cases,
        "rounds": rounds,
        "duration_s": duration,
        "seed_s": round(seed_s, 1),
        "load_before": load_before,
        "load_after": load_average(),
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
        "rows": summarise(runs),
        "runs": runs,
    }
    RESULTS.mkdir(exist_ok=True)
    stem = "api_load_quick" if quick else "api_load"
    (RESULTS / f"{stem}.json").write_text(json.dumps(result, indent=2, ensure_ascii=False))
    (RESULTS / f"{stem}.md").write_text(markdown(result))
    return result


def cli() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else "")
    parser.add_argument("--cases", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--duration", type=float, default=1.0, help="run length factor")
    parser.add_argument("--quick", action="store_true", help="5,000 cases, 1 short round")
    args = parser.parse_args()
    if args.quick:
        args.cases, args.rounds, args.duration = 5_000, 1, 0.5
    result = asyncio.run(main(args.cases, args.rounds, args.duration, args.quick))
    print(markdown(result))


if __name__ == "__main__":
    cli()
