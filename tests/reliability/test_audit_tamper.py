"""Reliability #26: an insider edits, deletes, truncates, reorders or forges audit records
directly in the database; the chain check (and the heads anchored in issued opinions) finds
every one. 50 seeded random trials on each database, each rolled back after the check."""

from __future__ import annotations

import random
import time
from collections import Counter
from collections.abc import Awaitable, Callable

from sqlalchemy import func, select
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession

from server.audit.models import AuditRecord
from server.audit.service import verify_chain
from server.opinions.anchors import anchor_problems
from tests.fixtures.app import Api
from tests.opinions.issued import issued_with_photos
from tests.reliability import audit_tampers as tamper

TRIALS = 50
Trial = Callable[[AsyncSession, int], Awaitable[None]]
KINDS: dict[str, Trial] = {
    "edit": lambda s, q: tamper.edit(s, q, rehash=False),
    "edit+rehash": lambda s, q: tamper.edit(s, q, rehash=True),
    "delete": tamper.remove,
    "truncate": tamper.truncate,
    "reorder": tamper.swap,
    "insert": lambda s, q: tamper.insert(s, q, rechain=False),
    "insert+rechain": lambda s, q: tamper.insert(s, q, rechain=True),
}


async def blocked(api: Api, kind: str, seq: int) -> bool:
    """Through the application's own connection the append-only triggers refuse it."""
    async with api.ctx.sessionmaker() as session:
        try:
            await KINDS[kind](session, seq)
            await session.flush()
        except DBAPIError:
            return True
        finally:
            await session.rollback()
    return kind.startswith("insert")  # an insert is allowed: the chain must catch it


async def detected(api: Api, kind: str, seq: int) -> tuple[bool, str]:
    async with api.ctx.sessionmaker() as session:
        await tamper.drop_guards(session)
        await KINDS[kind](session, seq)
        await session.flush()
        report = await verify_chain(session)
        anchors = await anchor_problems(session)
        await session.rollback()
    return (not report.ok or bool(anchors)), report.reason or "; ".join(anchors)


async def test_every_insider_tamper_is_found(api: Api) -> None:
    issued = await issued_with_photos(api, photos=1)
    anchor = next(
        int(x["id"])
        for x in issued.opinion["content"]["evidence_root"]["leaves"]
        if x["kind"] == "audit_head"
    )
    async with api.ctx.sessionmaker() as session:
        total = int(await session.scalar(select(func.count()).select_from(AuditRecord)) or 0)
        assert (await verify_chain(session)).ok
        assert await anchor_problems(session) == []
    rng = random.Random(2026)
    kinds = list(KINDS)
    refused = [k for k in kinds if not k.startswith("insert") and await blocked(api, k, 2)]
    assert refused == [k for k in kinds if not k.startswith("insert")]
    missed, seen = [], Counter[str]()
    started = time.perf_counter()
    for trial in range(TRIALS):
        kind = kinds[trial % len(kinds)]
        # a rewrite of the chain is visible only up to the last anchor: forge before it
        upper = anchor - 1 if kind == "insert+rechain" else total - 1
        seq = rng.randint(1, upper)
        found, why = await detected(api, kind, seq)
        seen[kind] += 1
        if not found:
            missed.append(f"{kind}@{seq}")
        assert why or not found
    elapsed = time.perf_counter() - started
    async with api.ctx.sessionmaker() as session:
        assert (await verify_chain(session)).ok  # every trial was rolled back
    print(
        f"\n#26 app connection refused {len(refused)}/{len(refused)} update/delete kinds; "
        f"{TRIALS} insider trials over {total} records ({dict(seen)}): "
        f"found {TRIALS - len(missed)}, missed {len(missed)} ({elapsed:.1f} s)"
    )
    assert missed == []


async def test_a_rewrite_after_the_last_anchor_is_beyond_the_chain_alone(api: Api) -> None:
    """The honest limit: a full rechain after the newest anchored head passes both checks —
    which is why heads must also be anchored outside the database (see docs)."""
    await issued_with_photos(api, photos=1)
    async with api.ctx.sessionmaker() as session:
        total = int(await session.scalar(select(func.count()).select_from(AuditRecord)) or 0)
    found, _ = await detected(api, "insert+rechain", total - 1)
    assert not found
