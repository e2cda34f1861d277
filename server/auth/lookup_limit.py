"""Failed lookups of applicant links and API keys, limited per client address.

A link or key carries 256 random bits, so guessing is hopeless anyway; this keeps a scanner
from even trying at speed. Only failures spend the allowance, and only for non-staff tokens
(an expired staff login is common and harmless). The counters live on the app context, one
set per process, bounded: an address that must wait gets a 429 before any lookup is made.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from server.context import AppContext
from server.errors import TooManyRequests

REMEMBERED_ADDRESSES = 10_000  # the oldest is forgotten


@dataclass
class FailureAllowance:
    """A token bucket of failed lookups: ``per_minute`` at once, refilled at that rate."""

    per_minute: int
    tokens: float
    stamp: float

    def refill(self, now: float) -> None:
        rate = self.per_minute / 60
        self.tokens = min(float(self.per_minute), self.tokens + (now - self.stamp) * rate)
        self.stamp = now

    def seconds_to_wait(self, now: float) -> float:
        self.refill(now)
        return 0.0 if self.tokens >= 1 else (1 - self.tokens) * 60 / self.per_minute

    def spend(self, now: float) -> None:
        self.refill(now)
        self.tokens = max(0.0, self.tokens - 1)


def _allowance(ctx: AppContext, address: str, now: float) -> FailureAllowance:
    allowances = ctx.token_lookup_limits
    per_minute = ctx.settings.token_lookup_failures_per_minute
    allowance = allowances.pop(address, None) or FailureAllowance(per_minute, per_minute, now)
    allowances[address] = allowance  # most recently seen last
    if len(allowances) > REMEMBERED_ADDRESSES:
        allowances.pop(next(iter(allowances)))
    return allowance


def admit_lookup(ctx: AppContext, address: str, now: float) -> None:
    """Raise `TooManyRequests` when ``address`` has used up its failed lookups."""
    wait = _allowance(ctx, address, now).seconds_to_wait(now)
    if wait > 0:
        seconds = max(1, math.ceil(wait))
        raise TooManyRequests(
            f"链接或密钥验证失败次数过多，请在 {seconds} 秒后再试。",
            f"Too many invalid links or keys; try again in {seconds} seconds.",
            retry_after=seconds,
        )


def note_failed_lookup(ctx: AppContext, address: str, now: float) -> None:
    _allowance(ctx, address, now).spend(now)
