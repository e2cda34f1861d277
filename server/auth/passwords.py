"""Argon2id password hashing, kept off the event loop (it is deliberately slow)."""

from __future__ import annotations

import asyncio
from functools import lru_cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

MIN_PASSWORD_LENGTH = 10


_cost = {"time_cost": 3, "memory_cost": 64 * 1024}


def configure(*, time_cost: int, memory_kib: int) -> None:
    """Set the argon2id cost for this process (from settings, at app start)."""
    if (time_cost, memory_kib) != (_cost["time_cost"], _cost["memory_cost"]):
        _cost.update(time_cost=time_cost, memory_cost=memory_kib)
        _hasher.cache_clear()
        _dummy_hash.cache_clear()


@lru_cache(maxsize=1)
def _hasher() -> PasswordHasher:
    return PasswordHasher(time_cost=_cost["time_cost"], memory_cost=_cost["memory_cost"])


@lru_cache(maxsize=1)
def _dummy_hash() -> str:
    # Verified against when the user does not exist, so both paths cost the same.
    return _hasher().hash("cloudinspect-timing-equaliser")


async def hash_password(password: str) -> str:
    return await asyncio.to_thread(_hasher().hash, password)


def _verify(stored_hash: str | None, password: str) -> bool:
    try:
        return _hasher().verify(stored_hash or _dummy_hash(), password) and stored_hash is not None
    except (VerificationError, InvalidHashError):
        return False


async def verify_password(stored_hash: str | None, password: str) -> bool:
    """Check a password; with ``stored_hash=None`` it spends the same time and fails."""
    return await asyncio.to_thread(_verify, stored_hash, password)
