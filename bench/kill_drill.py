"""kill -9 drills at full size (reliability #13, #28, #29), on SQLite and PostgreSQL.

```
.venv/bin/python -m bench.kill_drill          # 100 phones × 20 rounds, 1,000 cancels, 500 SLA
.venv/bin/python -m bench.kill_drill --quick  # 20 phones × 2 rounds, 100 cancels, 50 SLA
```

Starts its own SeaweedFS and a throwaway database per backend (SQLite file; PostgreSQL on
``CLOUDINSPECT_BENCH_PG_DSN``, default postgres@127.0.0.1), then runs the app as a real process
(``tests/reliability/server_process.py``) and:

* **uploads (#13)**: each round, N phones announce → POST to the store → finalize at once and
  the server is SIGKILLed the instant a random k-th finalize is acknowledged (k ≤ N/2); after
  the restart every acknowledged photo must be stored with the evidence id the phone was given,
  then every phone retries with its key (the same evidence id must come back);
* **transitions (#28)**: N cases are opened, N cancels sent at once, SIGKILL at a random k-th
  200; after the restart every case must be received or cancelled with its audit record and
  stopped clock in agreement, the audit chain must verify (and SQLite's integrity and foreign
  key checks pass); then the unacknowledged cancels are retried;
* **scheduler (#29)**: N more cases (N clocks), the SLA job run at a moment past every red
  line in batches of N/10 and SIGKILLed between a quarter and three quarters of
  the cards heard; the rerun must raise the rest, each card once.

Writes ``bench/results/kill_drill.json`` and ``.md``. The baseline alongside is the same drill
with no kill (``baseline_*`` figures): what the run costs without crashes.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import secrets
import shutil
import tempfile
import time
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import asyncpg
from pydantic import SecretStr
from sqlalchemy import func, select
from tests.test_intake import intake_body

from server.app import create_app
from server.audit.models import AuditRecord
from server.config import Environment, Settings
from server.migrate import upgrade
from server.platform.seaweed import SeaweedProcess
from server.sla.models import SlaClockRow
from tests.fixtures.app import Api
from tests.flows import Journey, start_inspection, start_journey
from tests.reliability import consistency
from tests.reliability.drills import (
    KillSwitch,
    Photo,
    Write,
    kill_when_acked,
    restart_timed,
    send_write,
    upload_photo,
)
from tests.reliability.scheduler_drill import run_tick
from tests.reliability.server_process import ServerProcess, http_client, reconnect, running_server
from tests.uploads.test_images import jpeg

RESULTS = Path(__file__).resolve().parent / "results"
ADMIN_DSN = os.environ.get(
    "CLOUDINSPECT_BENCH_PG_DSN", "postgresql://postgres@127.0.0.1:5432/postgres"
)
ACCESS, SECRET, BUCKET = "bench" + secrets.token_hex(4), secrets.token_urlsafe(18), "kill-drill"


# --- databases and the app ---------------------------------------------------------------------


async def _pg(statement: str) -> None:
    conn = await asyncpg.connect(ADMIN_DSN)
    try:
        await conn.execute(statement)
    finally:
        await conn.close()


@asynccontextmanager
async def database(backend: str, work: Path) -> AsyncIterator[str]:
    if backend == "sqlite":
        url = f"sqlite+aiosqlite:///{work / 'drill.db'}"
        await upgrade(url)
        yield url
        return
    name = f"kill_drill_{secrets.token_hex(4)}"
    await _pg(f'CREATE DATABASE "{name}"')
    try:
        url = ADMIN_DSN.rsplit("/", 1)[0].replace("postgresql://", "postgresql+asyncpg://")
        await upgrade(f"{url}/{name}")
        yield f"{url}/{name}"
    finally:
        await _pg(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def make_settings(url: str, work: Path, weed: SeaweedProcess) -> Settings:
    return Settings(
        environment=Environment.test,
        data_dir=work / "data",
        database_url=url,
        s3_endpoint=weed.s3_endpoint,
        s3_access_key=SecretStr(ACCESS),
        s3_secret_key=SecretStr(SECRET),
        s3_bucket=BUCKET,
        secret_key=SecretStr("kill-drill-secret"),
        scheduler_enabled=False,
        password_time_cost=1,
        password_memory_kib=1024,
        media_workers=0,
    )


# --- #13 uploads -------------------------------------------------------------------------------


async def retry_all(api: Api, journey: Journey, photos: list[Photo]) -> int:
    """Every phone retries with its key; returns how many answered another evidence id."""
    headers = journey.inspector_headers(1)
    semaphore, changed = asyncio.Semaphore(20), 0

    async def one(photo: Photo) -> None:
        nonlocal changed
        async with semaphore:
            try:
                await upload_photo(api.client, journey.case_id, headers, photo)
            except AssertionError:
                changed += 1

    await asyncio.gather(*(one(p) for p in photos))
    return changed


async def upload_drill(
    server: ServerProcess, api: Api, rounds: int, phones: int, rng: random.Random, kill: bool
) -> dict[str, Any]:
    journey = await start_journey(api)
    await start_inspection(journey)
    headers = journey.inspector_headers(1)
    every: list[Photo] = []
    per_round, lost, changed_ids = [], 0, 0
    failed: dict[str, int] = {}
    began = time.monotonic()
    for _ in range(rounds):
        photos = [Photo(jpeg((320, 240), quality=50 + rng.randrange(45))) for _ in range(phones)]
        every += photos

        def phone(photo: Photo) -> Any:
            async def go(switch: KillSwitch) -> str:
                return await upload_photo(api.client, journey.case_id, headers, photo, switch)

            return go

        after = rng.randint(1, max(1, phones // 2)) if kill else phones + 1
        killed, results = await kill_when_acked(server, after, [phone(p) for p in photos])
        for reason, n in failures(results).items():
            failed[reason] = failed.get(reason, 0) + n
        acked = {p.key: str(p.evidence_id) for p in every if p.evidence_id}
        recovery = await restart_timed(server, killed)
        await reconnect(api, server)
        found = await consistency.check(api.ctx.sessionmaker, uploads=(journey.case_id, acked))
        lost += sum(1 for p in found.problems if p.startswith("upload "))
        changed_ids += await retry_all(api, journey, photos)
        round_acks = sum(1 for p in photos if p.key in acked)
        per_round.append({"acknowledged_at_kill": round_acks, "recovery_s": round(recovery, 2)})
    final = await consistency.check(
        api.ctx.sessionmaker,
        uploads=(journey.case_id, {p.key: str(p.evidence_id) for p in every}),
    )
    counted = final.counted
    return {
        "rounds": rounds,
        "phones": phones,
        "acknowledged_at_kills": sum(r["acknowledged_at_kill"] for r in per_round),
        "lost": lost,
        "retry_changed_evidence_id": changed_ids,
        "duplicates": counted["evidence"] - counted["finalized"],
        "uploads": counted["uploads"],
        "evidence": counted["evidence"],
        "pending_after_retries": counted["uploads"] - counted["finalized"],
        "recovery_s_median": _median([r["recovery_s"] for r in per_round]),
        "recovery_s_max": max(r["recovery_s"] for r in per_round),
        "problems": final.problems[:10],
        "not_acknowledged": failed,
        "seconds": round(time.monotonic() - began, 1),
        "per_round": per_round,
    }


def failures(results: list[Any]) -> dict[str, int]:
    """Writes that got no 2xx, by what they got: a status line or the transport error."""
    seen: Counter[str] = Counter()
    for result in results:
        if isinstance(result, BaseException):
            seen[_reason(result)] += 1
    return dict(seen)


def _reason(error: BaseException) -> str:
    if isinstance(error, RuntimeError):  # "<step> <status>: <body>"
        step, _, rest = str(error).partition(": ")
        code = rest.split('"code":"', 1)[1].split('"', 1)[0] if '"code":"' in rest else ""
        return f"{step} {code}".strip()
    return type(error).__name__


def _median(values: list[float]) -> float:
    ordered = sorted(values)
    middle = len(ordered) // 2
    if len(ordered) % 2:
        return ordered[middle]
    return round((ordered[middle - 1] + ordered[middle]) / 2, 2)


# --- #28 transitions ---------------------------------------------------------------------------


async def open_cases(api: Api, journey: Journey, count: int, prefix: str) -> list[str]:
    semaphore = asyncio.Semaphore(20)

    async def one(i: int) -> str:
        async with semaphore:
            write = Write("/api/v1/cases", intake_body(api, number=f"{prefix}-{i}"))
            return str((await send_write(api.client, journey.dispatcher, write, None))["id"])

    return list(await asyncio.gather(*(one(i) for i in range(count))))


async def transition_drill(
    server: ServerProcess, api: Api, count: int, rng: random.Random, kill: bool
) -> dict[str, Any]:
    journey = await start_journey(api)
    case_ids = await open_cases(api, journey, count, f"T{rng.randrange(10**6)}")
    writes = [Write(f"/api/v1/cases/{c}/cancel", {"reason": "申请人撤回申请"}) for c in case_ids]

    def cancel(write: Write) -> Any:
        async def go(switch: KillSwitch) -> dict[str, Any]:
            return await send_write(api.client, journey.dispatcher, write, switch)

        return go

    began = time.monotonic()
    after = rng.randint(1, count // 2) if kill else count + 1
    killed, results = await kill_when_acked(server, after, [cancel(w) for w in writes])
    sent_s = time.monotonic() - began
    recovery = await restart_timed(server, killed)
    await reconnect(api, server)
    acked = {str(w.answer["id"]) for w in writes if w.answer is not None}
    found = await consistency.check(api.ctx.sessionmaker, cancels=(case_ids, acked))
    lost = sum(1 for p in found.problems if p.endswith("acknowledged cancel lost"))
    for write in writes:  # the dispatcher's retries: done, or 409 "already cancelled"
        if write.answer is None:
            response = await api.client.post(
                write.path, json=write.body, headers=journey.dispatcher
            )
            assert response.status_code in (200, 409), response.text
    after_retry = await consistency.check(api.ctx.sessionmaker, cancels=(case_ids, set(case_ids)))
    return {
        "transitions": count,
        "acknowledged_at_kill": len(acked),
        "stored_at_restart": found.counted.get("cancelled", 0),
        "lost": lost,
        "half_transitions": len(found.problems) - lost,
        "audit_chain_records": found.counted.get("audit_records", 0),
        "consistent_at_restart": found.ok,
        "consistent_after_retries": after_retry.ok,
        "problems": (found.problems + after_retry.problems)[:10],
        "not_acknowledged": failures(results),
        "seconds_until_kill": round(sent_s, 2),
        "recovery_s": round(recovery, 2),
    }


# --- #29 scheduler -----------------------------------------------------------------------------


async def scheduler_drill(
    settings: Settings, api: Api, count: int, rng: random.Random, kill: bool
) -> dict[str, Any]:
    journey = await start_journey(api)
    await open_cases(api, journey, count, f"S{rng.randrange(10**6)}")
    audits_before = await _card_audits(api)
    expected = 2 * await _due_clocks(api)
    after = rng.randint(expected // 4, 3 * expected // 4) if kill else None
    batch = max(5, count // 10)  # about ten batches: the kill lands with some committed
    first = await run_tick(settings, batch=batch, kill_after=after)
    committed = await _card_audits(api) - audits_before
    rerun = await run_tick(settings, batch=batch)
    third = await run_tick(settings, batch=batch)
    fired = await _card_audits(api) - audits_before
    per_card = await _audits_per_card(api)
    return {
        "deadlines": count,
        "cards_due": expected,
        "killed_after_cards_heard": first.cards if first.killed else None,
        "committed_before_kill": committed,
        "fired_after_restart": rerun.cards,
        "fired_total": fired,
        "duplicates": sum(n - 1 for n in per_card if n > 1),
        "lost": max(0, expected - fired),
        "third_run_cards": third.cards,
        "restart_to_done_s": round(rerun.seconds, 2),
        "first_run_s": round(first.seconds, 2),
    }


async def _due_clocks(api: Api) -> int:
    async with api.ctx.sessionmaker() as session:
        query = select(func.count()).select_from(SlaClockRow).where(SlaClockRow.active)
        return int(await session.scalar(query.where(SlaClockRow.card != "red")) or 0)


async def _card_audits(api: Api) -> int:
    return sum(await _audits_per_card(api))


async def _audits_per_card(api: Api) -> list[int]:
    async with api.ctx.sessionmaker() as session:
        rows = await session.execute(
            select(func.count())
            .where(AuditRecord.action.in_(("sla.yellow_card", "sla.red_card")))
            .group_by(AuditRecord.case_id, AuditRecord.action)
        )
        return [int(n) for (n,) in rows]


# --- running it --------------------------------------------------------------------------------


async def drill_backend(
    backend: str, args: argparse.Namespace, weed: SeaweedProcess, work: Path, kill: bool
) -> dict[str, Any]:
    rng = random.Random(f"{args.seed}-{backend}-{kill}")
    rounds = args.rounds if kill else min(args.rounds, 2)
    async with database(backend, work) as url:
        settings = make_settings(url, work, weed)
        app = create_app(settings)
        async with app.router.lifespan_context(app):
            ctx = app.state.ctx
            async with running_server(settings, work / "process") as server:
                api = Api(http_client(server), ctx)
                try:
                    uploads = await upload_drill(server, api, rounds, args.phones, rng, kill)
                    transitions = await transition_drill(server, api, args.transitions, rng, kill)
                    scheduler = await scheduler_drill(settings, api, args.deadlines, rng, kill)
                finally:
                    await api.client.aclose()
    return {"uploads": uploads, "transitions": transitions, "scheduler": scheduler}


async def main(args: argparse.Namespace) -> dict[str, Any]:
    runs: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as tmp:
        weed = SeaweedProcess(
            data_dir=Path(tmp) / "weed", access_key=ACCESS, secret_key=SECRET, bucket=BUCKET
        )
        await weed.start()
        try:
            for backend in args.backends.split(","):
                for kill in (True, False) if args.baseline else (True,):
                    work = Path(tmp) / f"{backend}-{kill}"
                    await asyncio.to_thread(work.mkdir)
                    name = backend if kill else f"{backend}_baseline"
                    began = time.monotonic()
                    runs[name] = await drill_backend(backend, args, weed, work, kill)
                    runs[name]["seconds"] = round(time.monotonic() - began, 1)
                    print(json.dumps({name: runs[name]}, indent=1), flush=True)
                    await asyncio.to_thread(shutil.rmtree, work, True)
        finally:
            await weed.stop()
    return {
        "conditions": {
            "cpus": len(os.sched_getaffinity(0)),
            "load_average": [round(x, 2) for x in os.getloadavg()],
            "phones": args.phones,
            "rounds": args.rounds,
            "transitions": args.transitions,
            "deadlines": args.deadlines,
            "tick_batch": max(5, args.deadlines // 10),
            "seed": args.seed,
        },
        "runs": runs,
    }


def markdown(result: dict[str, Any]) -> str:
    c = result["conditions"]
    lines = [
        "## kill -9 drills (`bench/kill_drill.py`)",
        "",
        f"{c['phones']} phones × {c['rounds']} rounds, {c['transitions']} concurrent cancels, "
        f"{c['deadlines']} SLA deadlines; {c['cpus']} CPUs, load {c['load_average']}. "
        "Baseline rows: the same drill with the kill only after every write was answered "
        "(uploads: 2 rounds).",
        "",
        "| run | #13 acked at kills | lost | dup | retry ≠ id | pending | recovery s (median / max)"
        " | #28 acked | lost | half | chain ok | recovery s | #29 cards due | before kill |"
        " after restart | dup | lost | restart→done s |",
        "|---|---:|---:|---:|---:|---:|---|---:|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for name, run in result["runs"].items():
        u, t, s = run["uploads"], run["transitions"], run["scheduler"]
        lines.append(
            f"| {name} | {u['acknowledged_at_kills']} | {u['lost']} | {u['duplicates']} | "
            f"{u['retry_changed_evidence_id']} | {u['pending_after_retries']} | "
            f"{u['recovery_s_median']} / {u['recovery_s_max']} | {t['acknowledged_at_kill']} | "
            f"{t['lost']} | {t['half_transitions']} | {t['consistent_at_restart']} | "
            f"{t['recovery_s']} | {s['cards_due']} | {s['committed_before_kill']} | "
            f"{s['fired_after_restart']} | {s['duplicates']} | {s['lost']} | "
            f"{s['restart_to_done_s']} |"
        )
    return "\n".join(lines) + "\n"


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="kill -9 drills (#13, #28, #29)")
    parser.add_argument("--quick", action="store_true", help="small sizes, under ~3 minutes")
    parser.add_argument("--backends", default="sqlite,postgresql")
    parser.add_argument("--phones", type=int, default=100)
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--transitions", type=int, default=1000)
    parser.add_argument("--deadlines", type=int, default=500)
    parser.add_argument("--no-baseline", dest="baseline", action="store_false")
    parser.add_argument("--seed", type=int, default=13)
    args = parser.parse_args(argv)
    if args.quick:
        args.phones, args.rounds, args.transitions, args.deadlines = 20, 2, 100, 50
    return args


if __name__ == "__main__":
    arguments = parse()
    outcome = asyncio.run(main(arguments))
    RESULTS.mkdir(exist_ok=True)
    suffix = "_quick" if arguments.quick else ""
    (RESULTS / f"kill_drill{suffix}.json").write_text(json.dumps(outcome, indent=2))
    (RESULTS / f"kill_drill{suffix}.md").write_text(markdown(outcome))
    print(markdown(outcome))
