"""Benchmark: the SLA tick over many open cases on PostgreSQL, against the naive full scan.

    .venv/bin/python -m bench.sla_tick            # 100,000 open cases (a few minutes)
    .venv/bin/python -m bench.sla_tick --quick    # 2,000 cases, a quick check

Seeds a throwaway database (COPY), then clones it per scenario (``CREATE DATABASE … TEMPLATE``)
so every scenario starts from the same rows:

* ``idle``: a tick when no clock is due. The tick reads ``next_check_at <= now`` through its
  index; the baseline (naive) loads every open clock and recomputes its card.
* ``full``: a tick when ~all clocks have just crossed the yellow threshold, so each gets one
  card (a conditional UPDATE + an audit record). Baseline: the same writes, choosing the
  clocks by loading and recomputing every open clock.
* ``concurrent``: the full tick run by two tickers (two engines) at once; checks that every
  card was issued exactly once.

Writes ``bench/results/sla_tick.json`` and ``bench/results/sla_tick.md``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import secrets
import statistics
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg  # type: ignore[import-untyped]
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from server.db import make_engine
from server.migrate import upgrade
from server.platform.time import CHINA_TZ
from server.sessions import app_sessionmaker
from server.sla.calendar import WorkCalendar
from server.sla.clock import Card, SlaClass, SlaPolicy, clock_status, due_time, start_clock
from server.sla.jobs import CLOCKS, Plan, TickResult, raise_cards, sla_tick
from server.sla.service import (
    clock_state,
    higher_card,
    load_calendar,
    next_check,
)

ADMIN_DSN = os.environ.get(
    "CLOUDINSPECT_BENCH_PG_DSN", "postgresql://postgres@127.0.0.1:5432/postgres"
)
RESULTS = Path(__file__).resolve().parent / "results"
POLICY = SlaPolicy()
# Monday 2026-03-09 in Shanghai: 98 % of clocks start 09:00–10:00 (yellow 15:45–16:45, due
# Tuesday), 2 % start 16:00–17:00 (yellow on Tuesday).
MONDAY = datetime(2026, 3, 9, tzinfo=CHINA_TZ)
IDLE_NOW = (MONDAY + timedelta(hours=12)).astimezone(UTC)  # nobody yellow yet
FULL_NOW = (MONDAY + timedelta(hours=17)).astimezone(UTC)  # the 98 % are yellow, none red
Maker = async_sessionmaker[AsyncSession]


def pg_url(name: str) -> str:
    base = ADMIN_DSN.rsplit("/", 1)[0].replace("postgresql://", "postgresql+asyncpg://")
    return f"{base}/{name}"


async def admin(statement: str) -> None:
    conn = await asyncpg.connect(ADMIN_DSN)
    try:
        await conn.execute(statement)
    finally:
        await conn.close()


# ── seeding ──


def _start_of(i: int, cases: int) -> datetime:
    late = i % 50 == 0  # 2 %
    second = (i * 7919) % 3600
    hour = 16 if late else 9
    return (MONDAY + timedelta(hours=hour, seconds=second)).astimezone(UTC)


def _caches(started_at: datetime, calendar: WorkCalendar) -> tuple[datetime, bool, datetime | None]:
    clock = start_clock(SlaClass.general, POLICY, started_at)
    due = due_time(clock, calendar=calendar)
    assert due is not None
    upcoming = next_check(clock, Card.none, calendar=calendar, policy=POLICY)
    return due.due_utc, due.provisional, upcoming


def _rows(cases: int) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    calendar = WorkCalendar()
    cached: dict[datetime, tuple[datetime, bool, datetime | None]] = {}
    case_rows, clock_rows = [], []
    now = datetime.now(UTC)
    for i in range(cases):
        case_id, started = uuid.uuid4().hex, _start_of(i, cases)
        if started not in cached:
            cached[started] = _caches(started, calendar)
        due, provisional, upcoming = cached[started]
        case_rows.append(_case_row(case_id, i, now))
        clock_rows.append(_clock_row(case_id, started, due, provisional, upcoming, now))
    return case_rows, clock_rows


def _clock_row(
    case_id: str, started: datetime, due: datetime, provisional: bool, upcoming: Any, now: Any
) -> tuple[Any, ...]:
    return (
        uuid.uuid4().hex, case_id, "initial", "general", "working_days", 1, started, "[]", None,
        True, due, provisional, "none", None, None, upcoming, now,
    )  # fmt: skip


def _case_row(case_id: str, i: int, now: datetime) -> tuple[Any, ...]:
    return (
        case_id, f"YTK-B{i:07d}", f"SQ-B{i:07d}", "x", "company", f"企业{i}", "", "13800138000",
        "福州市鼓楼区东街88号", None, None, '["food_retail"]', "[]", "online_video", "general",
        "", "in_progress", 1, now, "{}", now,
    )  # fmt: skip


CASE_COLUMNS = [
    "id", "number", "application_no", "intake_fingerprint", "applicant_kind", "applicant_name",
    "applicant_id_no", "applicant_phone", "site_address", "site_lat", "site_lng", "matters",
    "scenarios", "mode", "sla_class", "override_reason", "state", "version", "updated_at",
    "extra", "created_at",
]  # fmt: skip
CLOCK_COLUMNS = [
    "id", "case_id", "phase", "sla_class", "allowance_unit", "allowance_amount", "started_at",
    "pauses", "stopped_at", "active", "due_at", "provisional", "card", "yellow_at", "red_at",
    "next_check_at", "created_at",
]  # fmt: skip


async def seed(name: str, cases: int) -> dict[str, float]:
    t0 = time.perf_counter()
    await admin(f'CREATE DATABASE "{name}"')
    await upgrade(pg_url(name))
    case_rows, clock_rows = _rows(cases)
    t1 = time.perf_counter()
    conn = await asyncpg.connect(ADMIN_DSN.rsplit("/", 1)[0] + f"/{name}")
    try:
        await conn.copy_records_to_table("cases", records=case_rows, columns=CASE_COLUMNS)
        await conn.copy_records_to_table("sla_clocks", records=clock_rows, columns=CLOCK_COLUMNS)
        await conn.execute("ANALYZE")
    finally:
        await conn.close()
    return {"prepare_s": t1 - t0, "copy_s": time.perf_counter() - t1}


@asynccontextmanager
async def clone(template: str) -> AsyncIterator[str]:
    name = f"{template}_{secrets.token_hex(2)}"
    await admin(f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
    try:
        yield name
    finally:
        await admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@asynccontextmanager
async def makers(name: str, count: int = 1) -> AsyncIterator[list[Maker]]:
    engines = [make_engine(pg_url(name)) for _ in range(count)]
    try:
        yield [app_sessionmaker(e, POLICY) for e in engines]
    finally:
        for engine in engines:
            await engine.dispose()


# ── the baseline: load every open clock and recompute it ──


async def naive_tick(sessionmaker: Maker, now: datetime, batch: int = 1000) -> TickResult:
    """No next_check_at: read every running clock below red, recompute, raise what changed."""
    async with sessionmaker() as session:
        calendar = await load_calendar(session)
        query = select(CLOCKS).where(CLOCKS.c.active, CLOCKS.c.card != Card.red.value)
        rows = (await session.execute(query)).all()
    total = TickResult(checked=len(rows))
    for start in range(0, len(rows), batch):
        async with sessionmaker() as session:
            for row in rows[start : start + batch]:
                total += await _naive_one(session, row, now, calendar, POLICY)
            await session.commit()
    return total


async def _naive_one(
    session: AsyncSession, row: Any, now: datetime, calendar: WorkCalendar, policy: SlaPolicy
) -> TickResult:
    status = clock_status(clock_state(row), now, calendar=calendar, policy=policy)
    stored, card = Card(row.card), higher_card(Card(row.card), status.card)
    if card is stored:
        return TickResult()
    order = (Card.none, Card.yellow, Card.red)
    raises = order[order.index(stored) + 1 : order.index(card) + 1]
    due = None if status.due is None else status.due.due_utc
    decided = Plan(raises, card, due, False, None)
    raised = await raise_cards(session, row, decided, now, None)  # the tick's own write path
    yellow = raised.count(Card.yellow)
    return TickResult(yellow=yellow, red=len(raised) - yellow)


# ── scenarios ──


async def timed(run: Callable[[], Awaitable[Any]]) -> tuple[float, Any]:
    t0 = time.perf_counter()
    result = await run()
    return time.perf_counter() - t0, result


async def idle(template: str, repeat: int) -> dict[str, Any]:
    async with makers(template) as [maker]:
        tick_s = []
        for _ in range(repeat):
            tick_s.append((await timed(lambda: sla_tick(maker, now=IDLE_NOW)))[0])
        naive = [
            await timed(lambda: naive_tick(maker, IDLE_NOW)) for _ in range(max(1, repeat // 3))
        ]
        plan = await explain(maker)
    assert all(r.yellow == 0 for _, r in naive)
    return {
        "tick_s": statistics.median(tick_s),
        "naive_s": statistics.median(s for s, _ in naive),
        "naive_checked": naive[0][1].checked,
        "plan": plan,
    }


# The statement ``jobs.claim_due`` sends on PostgreSQL, spelled out for EXPLAIN.
CLAIM_SQL = (
    "SELECT * FROM sla_clocks WHERE next_check_at <= :now AND active AND card != 'red' "
    "ORDER BY next_check_at LIMIT 1000 FOR UPDATE SKIP LOCKED"
)


async def explain(maker: Maker) -> str:
    async with maker() as session:
        rows = (await session.execute(text(f"EXPLAIN {CLAIM_SQL}"), {"now": IDLE_NOW})).all()
    return " / ".join(r[0].strip() for r in rows[:3])


async def full(template: str, naive: bool) -> dict[str, Any]:
    async with clone(template) as name, makers(name) as [maker]:
        if naive:
            seconds, result = await timed(lambda: naive_tick(maker, FULL_NOW))
        else:
            seconds, result = await timed(lambda: sla_tick(maker, now=FULL_NOW))
        duplicates = await duplicate_cards(maker)
    return {"s": seconds, "result": result, "duplicates": duplicates}


async def full_pair(template: str, repeat: int) -> tuple[dict[str, Any], dict[str, Any]]:
    """Tick and baseline alternately, ``repeat`` times each; the median run of each."""
    ticks, naives = [], []
    for _ in range(repeat):
        ticks.append(await full(template, naive=False))
        naives.append(await full(template, naive=True))
    return _median_run(ticks), _median_run(naives)


def _median_run(runs: list[dict[str, Any]]) -> dict[str, Any]:
    return sorted(runs, key=lambda r: float(r["s"]))[len(runs) // 2]


async def concurrent(template: str) -> dict[str, Any]:
    async with clone(template) as name, makers(name, 2) as pair:
        ticks = [sla_tick(m, now=FULL_NOW) for m in pair]
        seconds, results = await timed(lambda: asyncio.gather(*ticks))
        duplicates = await duplicate_cards(pair[0])
        audited = await audited_cards(pair[0])
    return {"s": seconds, "results": results, "duplicates": duplicates, "audited": audited}


async def duplicate_cards(maker: Maker) -> int:
    async with maker() as session:
        query = text(
            "SELECT count(*) FROM (SELECT case_id, action FROM audit_records "
            "WHERE action LIKE 'sla.%_card' GROUP BY case_id, action HAVING count(*) > 1) d"
        )
        return int((await session.execute(query)).scalar_one())


async def audited_cards(maker: Maker) -> int:
    async with maker() as session:
        query = text("SELECT count(*) FROM audit_records WHERE action LIKE 'sla.%_card'")
        return int((await session.execute(query)).scalar_one())


# ── report ──


def summarise(cases: int, full_repeat: int, runs: dict[str, dict[str, Any]]) -> dict[str, Any]:
    seeding, i, f, n, c = (runs[k] for k in ("seeding", "idle", "full", "naive", "concurrent"))
    due = f["result"].yellow
    pair = c["results"]
    return {
        "benchmark": "sla_tick",
        "cases": cases,
        "due_in_full_tick": due,
        "full_runs_each": full_repeat,
        "machine": {
            "python": platform.python_version(),
            "cpus": os.cpu_count(),
            # other work on the machine skews the figures; the 1-minute load at the end
            "load_average_1m": round(os.getloadavg()[0], 2),
        },
        "seeding": seeding,
        "rows": [
            _row("idle tick (none due)", i["tick_s"], i["naive_s"], 0),
            _row("full tick (~all due, one card each)", f["s"], n["s"], due),
            _row("full tick, two tickers at once", c["s"], n["s"], sum(r.yellow for r in pair)),
        ],
        "idle_plan": i["plan"],
        "concurrent_split": [r.checked for r in pair],
        "duplicate_cards": {
            "single": f["duplicates"],
            "naive": n["duplicates"],
            "concurrent": c["duplicates"],
        },
        "audited_cards_concurrent": c["audited"],
    }


def _row(name: str, tick_s: float, naive_s: float, cards: int) -> dict[str, Any]:
    return {
        "scenario": name,
        "tick_s": round(tick_s, 4),
        "baseline_naive_s": round(naive_s, 4),
        "speedup": round(naive_s / tick_s, 1) if tick_s else None,
        "cards": cards,
    }


def markdown(summary: dict[str, Any]) -> str:
    lines = [
        f"SLA tick, {summary['cases']:,} open cases, PostgreSQL "
        f"({summary['machine']['cpus']} CPUs, Python {summary['machine']['python']}, "
        f"load average {summary['machine']['load_average_1m']})",
        "",
        "| scenario | tick (s) | naive baseline (s) | baseline / tick | cards raised |",
        "|---|---:|---:|---:|---:|",
    ]
    for r in summary["rows"]:
        lines.append(
            f"| {r['scenario']} | {r['tick_s']:.4f} | {r['baseline_naive_s']:.4f} "
            f"| {r['speedup']}× | {r['cards']:,} |"
        )
    lines += [
        "",
        f"Idle plan: `{summary['idle_plan']}`",
        f"Two tickers split the work {summary['concurrent_split']}; cards issued twice: "
        f"{summary['duplicate_cards']['concurrent']} "
        f"(audited {summary['audited_cards_concurrent']:,}).",
    ]
    return "\n".join(lines) + "\n"


async def main(cases: int, repeat: int, full_repeat: int) -> dict[str, Any]:
    template = f"bench_sla_{secrets.token_hex(3)}"
    try:
        seeding = await seed(template, cases)
        i = await idle(template, repeat)
        f, n = await full_pair(template, full_repeat)
        c = await concurrent(template)
    finally:
        await admin(f'DROP DATABASE IF EXISTS "{template}" WITH (FORCE)')
    runs = {"seeding": seeding, "idle": i, "full": f, "naive": n, "concurrent": c}
    return summarise(cases, full_repeat, runs)


def cli() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=100_000)
    parser.add_argument("--quick", action="store_true", help="2,000 cases, to check it runs")
    parser.add_argument("--repeat", type=int, default=5, help="runs of the idle tick")
    parser.add_argument(
        "--full-repeat", type=int, default=0, help="alternate full runs (default 1; quick 3)"
    )
    args = parser.parse_args()
    cases = 2_000 if args.quick else args.cases
    full_repeat = args.full_repeat or (3 if args.quick else 1)
    summary = asyncio.run(main(cases, args.repeat, full_repeat))
    RESULTS.mkdir(exist_ok=True)
    table = markdown(summary)
    suffix = "" if cases == 100_000 else f"_{cases}"
    (RESULTS / f"sla_tick{suffix}.json").write_text(
        json.dumps(summary, indent=2, default=str) + "\n"
    )
    (RESULTS / f"sla_tick{suffix}.md").write_text(table)
    print(table)


if __name__ == "__main__":
    cli()
