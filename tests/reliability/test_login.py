"""Login throttling (issue #13 defect 6, reliability test #22): delay, never a lockout.

Counting is atomic, the back-off is per name *and* address, an address is paced rather than
locked, an administrator can clear it, and X-Forwarded-For counts only from a trusted proxy.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
from fastapi import FastAPI
from sqlalchemy import select

from server.audit.models import AuditRecord
from server.auth.client_address import resolve_client_address
from server.auth.models import LoginThrottle, Role
from server.auth.throttle import ThrottlePolicy, account_key, address_key
from tests.fixtures.app import PASSWORD, Api
from tests.helpers import wait_until

LOGIN = "/api/v1/auth/login"
OFFICE = "198.51.100.20"  # a bureau behind one NAT
ELSEWHERE = "203.0.113.77"


@asynccontextmanager
async def client_at(app: FastAPI, address: str) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app, client=(address, 40000))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        yield client


async def attempt(client: httpx.AsyncClient, username: str, password: str = "wrong") -> int:
    response = await client.post(LOGIN, json={"username": username, "password": password})
    return response.status_code


async def failures(api: Api, key: str) -> int:
    async with api.ctx.sessionmaker() as session:
        row = await session.get(LoginThrottle, key)
        return row.failures if row else 0


async def login_within(client: httpx.AsyncClient, username: str, seconds: float) -> int:
    """Bounded polling: a slowed login is answered 429 until its turn; its first other answer."""
    answers: list[int] = []

    async def answered() -> bool:
        answers.append(await attempt(client, username, PASSWORD))
        return answers[-1] != 429

    await wait_until(answered, within=seconds, what="a login answered other than 429")
    return answers[-1]


async def test_concurrent_bad_logins_are_each_answered_and_counted(api: Api, app: FastAPI) -> None:
    api.ctx.settings.login_max_failures = 50  # no back-off within this burst: we count
    staff = await api.create_staff(Role.dispatcher)
    async with client_at(app, OFFICE) as client:
        statuses = await asyncio.gather(*(attempt(client, staff.username) for _ in range(10)))
    assert statuses == [401] * 10
    assert await failures(api, account_key(staff.username, OFFICE)) == 10
    assert await failures(api, address_key(OFFICE)) == 10


async def test_a_burst_from_one_address_is_capped_and_every_check_is_counted(
    api: Api, app: FastAPI
) -> None:
    api.ctx.settings.login_max_failures = 50
    api.ctx.settings.login_address_concurrency = 2
    async with client_at(app, OFFICE) as client:
        statuses = await asyncio.gather(*(attempt(client, f"name{i}") for i in range(10)))
    checked = statuses.count(401)
    assert set(statuses) == {401, 429}
    assert checked < 10
    assert await failures(api, address_key(OFFICE)) == checked


async def test_failures_on_one_account_do_not_stop_another_from_the_same_office(
    api: Api, app: FastAPI
) -> None:
    api.ctx.settings.login_address_pace_seconds = 0.2  # the pace, shortened for the test
    victim, colleague = await api.create_staff(Role.inspector), await api.create_staff(Role.window)
    async with client_at(app, OFFICE) as office:
        sprayed = [await attempt(office, victim.username) for _ in range(5)]
        sprayed += [await attempt(office, f"{victim.username}{i}") for i in range(25)]
        assert sprayed == [401] * 30
        assert await failures(api, address_key(OFFICE)) == 30
        assert await login_within(office, colleague.username, seconds=5) == 200
    async with client_at(app, ELSEWHERE) as elsewhere:  # the victim, from home: not locked
        assert await attempt(elsewhere, victim.username, PASSWORD) == 200


async def test_anyone_typing_a_name_cannot_lock_its_owner_out(api: Api, app: FastAPI) -> None:
    api.ctx.settings.login_backoff_base_seconds = 60  # no attempt is let through while we loop
    victim = await api.create_staff(Role.reviewer)
    async with client_at(app, ELSEWHERE) as attacker:
        tried = Counter([await attempt(attacker, victim.username) for _ in range(20)])
    assert tried == {401: 5, 429: 15}  # the attacker is held back…
    async with client_at(app, OFFICE) as office:  # …the owner is not
        assert await attempt(office, victim.username, PASSWORD) == 200


async def test_back_off_per_account_and_address_doubles_up_to_its_cap(api: Api) -> None:
    policy = ThrottlePolicy.from_settings(api.ctx.settings)
    free = policy.free_failures
    delays = [policy.account_delay(n) for n in range(free - 1, free + 12)]
    assert delays[:4] == [0.0, 1.0, 2.0, 4.0]
    assert delays == sorted(delays)
    assert delays[-1] == policy.backoff_max == 900
    api.ctx.settings.login_backoff_base_seconds = 30
    staff = await api.create_staff(Role.dispatcher)
    assert [await attempt(api.client, staff.username) for _ in range(free)] == [401] * free
    slowed = await api.client.post(LOGIN, json={"username": staff.username, "password": PASSWORD})
    assert slowed.status_code == 429
    assert slowed.headers["content-type"] == "application/problem+json"
    wait = int(slowed.headers["retry-after"])
    assert 20 <= wait <= 30
    assert f"{wait} 秒后再试" in slowed.json()["detail"]
    other = await api.create_staff(Role.dispatcher)  # same address, another name: not slowed
    assert await attempt(api.client, other.username, PASSWORD) == 200


async def test_admin_unlock_clears_the_back_off_and_is_audited(api: Api) -> None:
    api.ctx.settings.login_backoff_base_seconds = 60
    _, admin = await api.staff_headers(Role.admin)
    _, dispatcher = await api.staff_headers(Role.dispatcher)
    staff = await api.create_staff(Role.inspector)
    for _ in range(6):
        await attempt(api.client, staff.username)
    assert await attempt(api.client, staff.username, PASSWORD) == 429
    body = {"username": staff.username}
    refused = await api.client.post("/api/v1/auth/unlock", json=body, headers=dispatcher)
    assert refused.status_code == 403
    empty = await api.client.post("/api/v1/auth/unlock", json={}, headers=admin)
    assert empty.status_code == 422
    unlocked = await api.client.post("/api/v1/auth/unlock", json=body, headers=admin)
    assert unlocked.status_code == 200
    assert unlocked.json() == {"cleared": 1}
    assert await attempt(api.client, staff.username, PASSWORD) == 200
    async with api.ctx.sessionmaker() as session:
        record = await session.scalar(
            select(AuditRecord).where(AuditRecord.action == "auth.unlock")
        )
    assert record is not None
    assert (record.actor_kind, record.detail["username"]) == ("staff", staff.username)


async def _failed_login_ips(api: Api) -> list[str]:
    async with api.ctx.sessionmaker() as session:
        rows = await session.scalars(
            select(AuditRecord)
            .where(AuditRecord.action == "auth.login_failed")
            .order_by(AuditRecord.seq)
        )
        return [r.detail["ip"] for r in rows]


async def test_forwarded_for_is_believed_only_from_a_trusted_proxy(api: Api, app: FastAPI) -> None:
    api.ctx.settings.trusted_proxies = ["10.0.0.0/8"]
    forged = {"X-Forwarded-For": "192.0.2.1"}
    body = {"username": "nobody", "password": "wrong"}
    async with client_at(app, ELSEWHERE) as stranger, client_at(app, "10.1.2.3") as proxy:
        await stranger.post(LOGIN, json=body, headers=forged)
        await proxy.post(LOGIN, json=body, headers={"X-Forwarded-For": f"192.0.2.9, {OFFICE}"})
        await proxy.post(LOGIN, json=body)
    assert await _failed_login_ips(api) == [ELSEWHERE, OFFICE, "10.1.2.3"]


async def test_public_verify_limit_uses_the_same_client_address(api: Api, app: FastAPI) -> None:
    api.ctx.settings.trusted_proxies = ["10.0.0.0/8"]
    async with client_at(app, ELSEWHERE) as stranger, client_at(app, "10.1.2.3") as proxy:
        forging = [
            (await stranger.get("/verify/NOSUCH", headers={"X-Forwarded-For": f"192.0.2.{i}"}))
            for i in range(25)
        ]
        proxied = [
            (await proxy.get("/verify/NOSUCH", headers={"X-Forwarded-For": f"192.0.2.{i}"}))
            for i in range(25)
        ]
    assert 429 in {r.status_code for r in forging}  # a forged header buys no fresh allowance
    assert {r.status_code for r in proxied} == {404}  # 25 real clients behind the proxy


async def test_spraying_many_accounts_from_one_address_is_paced(api: Api, app: FastAPI) -> None:
    """#22: 1,000 attempts over 100 accounts from one address; the figures are printed."""
    accounts = [(await api.create_staff(Role.inspector)).username for _ in range(100)]
    loop = asyncio.get_running_loop()
    started = loop.time()
    async with client_at(app, ELSEWHERE) as attacker:
        outcome = Counter([await attempt(attacker, name) for _ in range(10) for name in accounts])
    elapsed = loop.time() - started
    checked, policy = outcome[401], ThrottlePolicy.from_settings(api.ctx.settings)
    print(f"\n#22 1,000 attempts, 100 accounts, one address, {elapsed:.1f} s: {dict(outcome)}")
    assert outcome[429] == 1000 - checked
    # The free failures, then one password check per pace: the rest are refused unchecked.
    assert policy.address_free_failures <= checked
    assert checked <= policy.address_free_failures + elapsed / policy.address_pace + 1
    async with client_at(app, OFFICE) as office:  # the accounts are not locked for others
        assert await attempt(office, accounts[0], PASSWORD) == 200


def test_the_client_address_is_the_first_untrusted_hop_from_the_right() -> None:
    trusted = ["10.0.0.0/8", "2001:db8::/32"]
    assert resolve_client_address("203.0.113.5", "192.0.2.1", trusted) == "203.0.113.5"
    assert resolve_client_address("10.0.0.2", "192.0.2.1", trusted) == "192.0.2.1"
    # a client-written hop before the real one is ignored; trusted proxies are skipped
    assert resolve_client_address("10.0.0.2", "6.6.6.6, 192.0.2.1, 10.0.0.9", trusted) == (
        "192.0.2.1"
    )
    assert resolve_client_address("10.0.0.2", "garbage, 10.0.0.9", trusted) == "10.0.0.9"
    assert resolve_client_address("10.0.0.2", "", trusted) == "10.0.0.2"
    assert resolve_client_address("2001:db8::1", "2001:DB8:0::7, 198.51.100.1", trusted) == (
        "198.51.100.1"
    )
    assert resolve_client_address("10.0.0.2", "192.0.2.1", []) == "10.0.0.2"
