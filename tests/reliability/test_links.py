"""The applicant's link (reliability test #21): unguessable, expiring, revocable, throttled.

Figures are printed: guesses made, hits (must be 0), and where each address was stopped.
"""

from __future__ import annotations

import base64
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta

import httpx
from fastapi import FastAPI
from sqlalchemy import select

from server.auth.lookup_limit import FailureAllowance
from server.auth.tokens import APPLICANT_PREFIX, hash_token, new_token
from server.cases.models import CaseLink
from tests.fixtures.app import Api
from tests.fixtures.clock import AppClock
from tests.flows import Journey, cancel, open_case, start_journey

ADDRESSES = 100


@asynccontextmanager
async def client_at(app: FastAPI, address: str) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app, client=(address, 40000))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        yield client


async def opened(api: Api) -> Journey:
    journey = await start_journey(api)
    await open_case(journey)
    return journey


def link_token(journey: Journey) -> str:
    return journey.applicant["Authorization"].removeprefix("Bearer ")


async def test_a_link_carries_at_least_128_random_bits_and_only_its_hash_is_stored(
    api: Api,
) -> None:
    journey = await opened(api)
    token = link_token(journey)
    assert token.startswith(APPLICANT_PREFIX)
    secret = token.removeprefix(APPLICANT_PREFIX)
    bits = len(base64.urlsafe_b64decode(secret + "=" * (-len(secret) % 4))) * 8
    print(f"\n#21 link token: {bits} random bits")
    assert bits >= 128
    async with api.ctx.sessionmaker() as session:
        stored = list(await session.scalars(select(CaseLink)))
    assert [link.token_hash for link in stored] == [hash_token(token)]


async def test_an_expired_link_is_refused(api: Api, clock: AppClock) -> None:
    journey = await opened(api)  # the link lives as long as the case, then the rating window
    await cancel(journey)
    clock.ahead(timedelta(days=api.ctx.settings.rating_window_days, seconds=1))
    refused = await api.client.get(f"/api/v1/cases/{journey.case_id}", headers=journey.applicant)
    assert refused.status_code == 401
    assert refused.json()["reason"] == "link_invalid"


async def test_a_revoked_link_is_refused_at_once(api: Api) -> None:
    journey = await opened(api)
    case = f"/api/v1/cases/{journey.case_id}"
    link = (await api.client.post(f"{case}/links", headers=journey.dispatcher)).json()
    holder = {"Authorization": f"Bearer {link['token']}"}
    assert (await api.client.get(case, headers=holder)).status_code == 200
    revoked = await api.client.delete(f"{case}/links/{link['id']}", headers=journey.dispatcher)
    assert revoked.status_code == 204
    assert (await api.client.get(case, headers=holder)).status_code == 401
    assert (await api.client.get(case, headers=journey.applicant)).status_code == 200  # the other


async def test_guessing_links_finds_nothing_and_each_address_is_stopped(
    api: Api, app: FastAPI
) -> None:
    journey = await opened(api)
    allowed = api.ctx.settings.token_lookup_failures_per_minute
    outcome: Counter[int] = Counter()
    stopped_at = []
    for n in range(ADDRESSES):
        async with client_at(app, f"203.0.113.{n}") as guesser:
            for attempt in range(allowed + 1):
                guess, _ = new_token(APPLICANT_PREFIX)
                response = await guesser.get(
                    f"/api/v1/cases/{journey.case_id}",
                    headers={"Authorization": f"Bearer {guess}"},
                )
                outcome[response.status_code] += 1
                if response.status_code == 429:
                    stopped_at.append(attempt + 1)
    print(f"\n#21 {sum(outcome.values())} guesses from {ADDRESSES} addresses: {dict(outcome)}")
    assert outcome[200] == 0
    assert outcome[401] == ADDRESSES * allowed
    assert stopped_at == [allowed + 1] * ADDRESSES


async def test_a_throttled_address_waits_even_with_a_real_link_but_staff_do_not(
    api: Api, app: FastAPI
) -> None:
    journey = await opened(api)
    case = f"/api/v1/cases/{journey.case_id}"
    async with client_at(app, "198.51.100.40") as shared:
        for _ in range(api.ctx.settings.token_lookup_failures_per_minute):
            await shared.get(case, headers={"Authorization": f"Bearer {APPLICANT_PREFIX}nope"})
        waiting = await shared.get(case, headers=journey.applicant)
        staff = await shared.get(case, headers=journey.dispatcher)
    assert waiting.status_code == 429
    assert int(waiting.headers["retry-after"]) >= 1
    assert "次数过多" in waiting.json()["detail"]
    assert staff.status_code == 200


def test_the_allowance_refills_at_its_rate_per_minute() -> None:
    allowance = FailureAllowance(per_minute=10, tokens=10, stamp=0.0)
    for _ in range(10):
        assert allowance.seconds_to_wait(0.0) == 0
        allowance.spend(0.0)
    assert allowance.seconds_to_wait(0.0) == 6.0  # one more failure every 6 s
    assert allowance.seconds_to_wait(6.0) == 0
