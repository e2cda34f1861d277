"""Seed data for ``bench.api_load``: N cases with their SLA clocks and inspectors, by COPY.

The bench may write rows directly (tests may not). The rows look like what intake, the draw
and the SLA service leave: a spread of states, matters from the catalogue, creation times over
a year, a running clock with a due time and card for every open case, two inspectors (lead and
second) for every case past the draw, out of a pool of 40.
"""

from __future__ import annotations

import json
import random
import uuid
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg  # type: ignore[import-untyped]

from server.auth.models import Role, Staff
from server.auth.passwords import hash_password
from server.cases.states import CaseState
from server.db import make_engine
from server.sessions import app_sessionmaker
from server.sla.clock import SlaPolicy

MATTERS = ("CY", "FS", "NY", "GW", "CB", "XC")
OPEN_STATES = tuple(
    s for s in CaseState if s not in {CaseState.issued, CaseState.closed, CaseState.cancelled}
)
ENDED_STATES = (CaseState.issued, CaseState.closed, CaseState.cancelled)
INSPECTORS = 40
PASSWORD = "bench-password-123"
STREETS = ("东街", "鼓屏路", "五一北路", "杨桥中路", "湖东路", "六一中路", "工业路", "江滨大道")
NAMES = ("便利店", "餐饮店", "茶叶商行", "书店", "药店", "农资店", "小吃店", "宾馆")

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
INSPECTOR_COLUMNS = [
    "id", "case_id", "staff_id", "position", "assigned_at", "released_at", "release_reason",
]  # fmt: skip


@dataclass(frozen=True)
class Seeded:
    dispatcher: str  # username (password ``PASSWORD``)
    inspector: str  # username of the busiest inspector
    inspector_id: str
    case_ids: list[str]


def _state(rng: random.Random) -> CaseState:
    return rng.choice(ENDED_STATES) if rng.random() < 0.4 else rng.choice(OPEN_STATES)


def _case(i: int, rng: random.Random, now: datetime) -> tuple[tuple[Any, ...], CaseState]:
    case_id = uuid.uuid4().hex
    state = _state(rng)
    created = now - timedelta(minutes=rng.randrange(365 * 24 * 60))
    matters = json.dumps([MATTERS[i % len(MATTERS)]])
    address = f"福州市鼓楼区{rng.choice(STREETS)}{rng.randrange(1, 300)}号"
    name = f"福州{rng.choice(NAMES)}{i}有限公司"
    row = (
        case_id, f"YTK{created:%Y%m%d}-{case_id[:6].upper()}", f"SQ-B{i:07d}", "x", "company",
        name, "", "13800138000", address, None, None, matters, "[]", "online_video", "general",
        "", state.value, 1, created, "{}", created,
    )  # fmt: skip
    return row, state


def _clock(case_id: str, created: datetime, state: CaseState, now: datetime) -> tuple[Any, ...]:
    running = state not in ENDED_STATES
    due = created + timedelta(days=3)
    card = "red" if running and due < now else "none"
    stopped = None if running else due - timedelta(hours=1)
    return (
        uuid.uuid4().hex, case_id, "initial", "general", "working_days", 1, created, "[]",
        stopped, running, due if running else None, False, card, None,
        due if card == "red" else None, None if card == "red" else due, created,
    )  # fmt: skip


def _pair(
    case_id: str, staff: list[str], rng: random.Random, at: datetime
) -> list[tuple[Any, ...]]:
    lead, second = rng.sample(staff, 2)
    return [
        (uuid.uuid4().hex, case_id, lead, "lead", at, None, ""),
        (uuid.uuid4().hex, case_id, second, "second", at, None, ""),
    ]


def _inspector(i: int, hashed: str) -> Staff:
    name = f"bench-inspector{i}"
    return Staff(username=name, display_name=f"踏勘{i}", role=Role.inspector, password_hash=hashed)


async def _staff(url: str) -> tuple[Staff, list[Staff]]:
    engine = make_engine(url)
    try:
        maker = app_sessionmaker(engine, SlaPolicy())
        hashed = await hash_password(PASSWORD)
        dispatcher = Staff(
            username="bench-dispatcher", display_name="调度", role=Role.dispatcher,
            password_hash=hashed,
        )  # fmt: skip
        inspectors = [_inspector(i, hashed) for i in range(INSPECTORS)]
        async with maker() as session:
            session.add_all([dispatcher, *inspectors])
            await session.commit()
        return dispatcher, inspectors
    finally:
        await engine.dispose()


async def seed(url: str, dsn: str, cases: int, seed_value: int = 19) -> Seeded:
    """Write ``cases`` cases into the migrated database at ``url`` (``dsn`` for asyncpg)."""
    rng = random.Random(seed_value)
    now = datetime.now(UTC)
    dispatcher, inspectors = await _staff(url)
    staff_ids = [s.id for s in inspectors]
    case_rows, clock_rows, people = [], [], []
    for i in range(cases):
        row, state = _case(i, rng, now)
        case_rows.append(row)
        clock_rows.append(_clock(row[0], row[-1], state, now))
        if state not in {CaseState.received, CaseState.cancelled}:
            people.extend(_pair(row[0], staff_ids, rng, row[-1]))
    conn = await asyncpg.connect(dsn)
    try:
        await conn.copy_records_to_table("cases", records=case_rows, columns=CASE_COLUMNS)
        await conn.copy_records_to_table("sla_clocks", records=clock_rows, columns=CLOCK_COLUMNS)
        await conn.copy_records_to_table(
            "case_inspectors", records=people, columns=INSPECTOR_COLUMNS
        )
        await conn.execute("ANALYZE")
    finally:
        await conn.close()
    busiest, _ = Counter(p[2] for p in people).most_common(1)[0]
    name = next(s.username for s in inspectors if s.id == busiest)
    return Seeded(dispatcher.username, name, busiest, [r[0] for r in case_rows])
