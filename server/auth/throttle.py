"""Login throttling: failures slow the next attempt down; nothing is ever locked.

Two counters per failed login, each bumped by one atomic upsert (``INSERT … ON CONFLICT DO
UPDATE … RETURNING``, SQLite and PostgreSQL alike), so concurrent failures never collide or
under-count:

* ``acct:<username>|<address>`` — failures beyond ``login_max_failures`` double the wait before
  the next attempt for that name *from that address*. Someone elsewhere cannot slow a user
  down by typing their name, and a wrong guess costs nothing for other names.
* ``ip:<address>`` — all names together; past ``login_address_max_failures`` the address is
  paced to one attempt every few seconds. A bureau behind one NAT is slowed, never locked out.

Unknown and known names are throttled alike, so the throttle tells nothing about who exists.

The counters are read before the password is checked and written after, so attempts sent at
the same instant would all pass the check: ``password_checks`` caps how many run at once per
address (per process), which bounds such a burst and keeps one address from filling the
argon2 threads.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import case, delete, or_, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from server.auth.models import LoginThrottle
from server.config import Settings
from server.context import AppContext
from server.errors import TooManyRequests


@dataclass(frozen=True, slots=True)
class ThrottlePolicy:
    free_failures: int
    backoff_base: float
    backoff_max: float
    address_free_failures: int
    address_pace: float
    window: timedelta

    @classmethod
    def from_settings(cls, settings: Settings) -> ThrottlePolicy:
        return cls(
            free_failures=settings.login_max_failures,
            backoff_base=settings.login_backoff_base_seconds,
            backoff_max=settings.login_backoff_max_seconds,
            address_free_failures=settings.login_address_max_failures,
            address_pace=settings.login_address_pace_seconds,
            window=timedelta(seconds=settings.login_failure_window_seconds),
        )

    def account_delay(self, failures: int) -> float:
        """Seconds to wait after ``failures`` for one name from one address (doubling)."""
        if failures < self.free_failures:
            return 0.0
        return min(self.backoff_base * 2.0 ** (failures - self.free_failures), self.backoff_max)

    def address_delay(self, failures: int) -> float:
        """Seconds between attempts from an address after ``failures`` across all names."""
        return self.address_pace if failures >= self.address_free_failures else 0.0


def account_key(username: str, address: str) -> str:
    return f"acct:{username.strip().lower()}|{address}"


def address_key(address: str) -> str:
    return f"ip:{address}"


def seconds_to_wait(
    row: LoginThrottle | None, delay: float, window: timedelta, now: datetime
) -> float:
    """How long until ``row``'s key may try again (0 = now)."""
    if row is None or row.last_failed_at is None or now - row.last_failed_at > window:
        return 0.0
    return max(0.0, (row.last_failed_at - now).total_seconds() + delay)


@contextmanager
def password_checks(ctx: AppContext, address: str) -> Iterator[None]:
    """Admit at most ``login_address_concurrency`` login checks at once from ``address``."""
    in_flight = ctx.login_checks_in_flight
    if in_flight[address] >= ctx.settings.login_address_concurrency:
        raise _too_many(1)
    in_flight[address] += 1
    try:
        yield
    finally:
        in_flight[address] -= 1
        if in_flight[address] <= 0:
            del in_flight[address]


def _too_many(wait: float) -> TooManyRequests:
    seconds = max(1, math.ceil(wait))
    return TooManyRequests(
        f"登录尝试过于频繁，请在 {seconds} 秒后再试；如需立即解除，请联系管理员。",
        f"Too many login attempts; try again in {seconds} seconds, or ask an administrator.",
        retry_after=seconds,
    )


async def check(
    session: AsyncSession, policy: ThrottlePolicy, *, username: str, address: str, now: datetime
) -> None:
    """Raise `TooManyRequests` while this name or this address must still wait."""
    keys = account_key(username, address), address_key(address)
    rows = {
        r.key: r
        for r in await session.scalars(select(LoginThrottle).where(LoginThrottle.key.in_(keys)))
    }
    account, by_address = rows.get(keys[0]), rows.get(keys[1])
    wait = max(
        seconds_to_wait(account, policy.account_delay(_failures(account)), policy.window, now),
        seconds_to_wait(
            by_address, policy.address_delay(_failures(by_address)), policy.window, now
        ),
    )
    if wait > 0:
        raise _too_many(wait)


def _failures(row: LoginThrottle | None) -> int:
    return row.failures if row is not None else 0


async def count_failure(session: AsyncSession, key: str, now: datetime, window: timedelta) -> int:
    """Add one failure to ``key`` in one statement; returns the new count."""
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    new_row = insert(LoginThrottle).values(
        key=key, failures=1, window_started_at=now, last_failed_at=now
    )
    stale = or_(LoginThrottle.last_failed_at.is_(None), LoginThrottle.last_failed_at < now - window)
    stmt = new_row.on_conflict_do_update(
        index_elements=[LoginThrottle.key],
        set_={
            "failures": case((stale, 1), else_=LoginThrottle.failures + 1),
            "window_started_at": case(
                (stale, new_row.excluded.window_started_at),
                else_=LoginThrottle.window_started_at,
            ),
            "last_failed_at": now,
        },
    ).returning(LoginThrottle.failures)
    failures: int = (await session.execute(stmt)).scalar_one()
    return failures


async def record_failure(
    session: AsyncSession, policy: ThrottlePolicy, *, username: str, address: str, now: datetime
) -> None:
    await count_failure(session, account_key(username, address), now, policy.window)
    await count_failure(session, address_key(address), now, policy.window)


async def forget_account(session: AsyncSession, *, username: str, address: str) -> None:
    """A successful login clears its own name+address counter (never the address's)."""
    await session.execute(
        delete(LoginThrottle).where(LoginThrottle.key == account_key(username, address))
    )


async def unlock(session: AsyncSession, *, username: str | None, address: str | None) -> int:
    """Clear the counters of a name (from every address) and/or of an address; returns how many."""
    conditions = []
    if username:
        prefix = f"acct:{username.strip().lower()}|"
        conditions.append(LoginThrottle.key.startswith(prefix, autoescape=True))
    if address:
        conditions.append(LoginThrottle.key == address_key(address))
        conditions.append(LoginThrottle.key.endswith(f"|{address}", autoescape=True))
    if not conditions:
        return 0
    result = await session.execute(
        delete(LoginThrottle).where(or_(*conditions)).returning(LoginThrottle.key)
    )
    return len(result.all())
