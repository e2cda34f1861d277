"""Reliability #1: malformed signaling traffic against the real ``/ws`` endpoint.

A seeded corpus (``signaling_fuzz.plans``) of bad JSON, wrong types, truncated SDP, frames over
the size limit (up to 2 MiB), unknown and over-long case ids, forged tokens, messages out of
order or not allowed, and binary frames, sent on many connections while an inspector's session
in the same room keeps pinging. Every frame must get a structured ``error`` (or an ``answer``
for a truncated SDP that still parses) or a documented close; the legitimate session keeps its
round trips; the process stays up. The p99 round trip and the RSS growth are recorded
(printed: ``pytest -s``), not asserted.
"""

from __future__ import annotations

import asyncio
import gc
import json
import statistics
import time
from collections import Counter
from collections.abc import AsyncIterator

import psutil
import pytest
from fastapi import FastAPI

from tests.evidence import token
from tests.fixtures.app import Api
from tests.flows import Journey, schedule, start_journey
from tests.reliability.signaling_fuzz import Tally, plans, round_trips, run_all
from tests.signaling.live_server import joined, running

SEED = 20261207
MESSAGES = 10_000
CONNECTIONS_AT_ONCE = 6
# What may answer a malformed frame: an error message, or one of the protocol's closes.
ANSWERS = ("error:", "answer")
CLOSES = ("close:1008", "close:1009", "close:4401")


@pytest.fixture
async def base(app: FastAPI) -> AsyncIterator[str]:
    async with running(app) as url:
        yield url


async def applicant_links(api: Api, journey: Journey, count: int) -> list[str]:
    tokens = []
    for _ in range(count):
        issued = await api.client.post(
            f"/api/v1/cases/{journey.case_id}/links", headers=journey.dispatcher
        )
        assert issued.status_code == 201, issued.text
        tokens.append(issued.json()["token"])
    return tokens


def p99(samples: list[float]) -> float:
    return statistics.quantiles(samples, n=100, method="inclusive")[98]


def test_the_corpus_is_the_same_for_the_same_seed() -> None:
    assert plans(SEED, 500) == plans(SEED, 500)
    assert sum(len(p.frames) for p in plans(SEED, MESSAGES)) == MESSAGES


async def test_malformed_traffic_is_answered_and_a_live_session_goes_on(
    base: str, api: Api, caplog: pytest.LogCaptureFixture
) -> None:
    journey = await start_journey(api)
    await schedule(journey)
    tokens = await applicant_links(api, journey, CONNECTIONS_AT_ONCE)
    corpus = plans(SEED, MESSAGES)
    process = psutil.Process()
    gc.collect()
    rss_before = process.memory_info().rss
    tally, stop = Tally(), asyncio.Event()
    started = time.monotonic()
    url = f"{base}/ws/cases/{journey.case_id}"
    async with joined(url, token(journey.inspector_headers(0))) as (lead, _):
        pinging = asyncio.create_task(round_trips(lead, stop))
        await run_all(base, journey.case_id, tokens, corpus, tally)
        stop.set()
        times = await pinging
    took = time.monotonic() - started
    gc.collect()
    rss_growth_mb = (process.memory_info().rss - rss_before) / 2**20

    figures = {
        "messages": tally.frames,
        "connections": len(corpus),
        "seconds": round(took, 1),
        "outcomes": dict(tally.outcomes.most_common()),
        "kinds": dict(tally.by_kind.most_common()),
        "unanswered": len(tally.unanswered),
        "legit_round_trips": len(times),
        "legit_p50_ms": round(statistics.median(times) * 1000, 1),
        "legit_p99_ms": round(p99(times) * 1000, 1),
        "legit_max_ms": round(max(times) * 1000, 1),
        "rss_growth_mb": round(rss_growth_mb, 1),
        "server_errors_logged": dict(
            Counter(f"{r.name}: {r.getMessage()[:60]}" for r in caplog.records if r.levelno >= 40)
        ),
    }
    print("signaling fuzz:", json.dumps(figures, ensure_ascii=False))
    assert tally.frames == MESSAGES
    assert not tally.unanswered, tally.unanswered[:10]
    unexpected = {
        o: n for o, n in tally.outcomes.items() if not o.startswith(ANSWERS) and o not in CLOSES
    }
    assert not unexpected, unexpected
    assert not figures["server_errors_logged"]  # nothing escaped as a traceback
    assert len(times) > 10  # the legitimate session kept its round trips going
    async with joined(url, token(journey.inspector_headers(1))) as (_, replay):
        assert replay["type"] == "joined"  # and the process still admits a member
