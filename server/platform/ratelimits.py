"""Rate limits (pure; the caller passes the clock): a token bucket, and the flood guard that
the live WebSocket edge asks about every frame (``signaling.admission.Admission``).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from signaling.admission import Verdict


@dataclass
class TokenBucket:
    """``rate`` tokens a second, at most ``burst`` saved up; full at the first ``take``."""

    rate: float  # tokens per second
    burst: float
    tokens: float | None = None
    stamp: float = 0.0

    def take(self, now: float) -> bool:
        if self.tokens is None:
            self.tokens, self.stamp = self.burst, now
        self.tokens = min(self.burst, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now
        if self.tokens >= 1:
            self.tokens -= 1
            return True
        return False


@dataclass
class FloodGuard:
    """One WebSocket connection's allowance: ``rate``/s with ``burst``; dropped messages fill a
    second bucket that ends the socket.

    The strike bucket refills at a quarter of the rate, so a client slightly over the limit is
    only throttled, while a flood is closed within a fraction of a second.
    """

    rate: float = 20.0
    burst: float = 40.0
    strikes: float = 40.0
    _messages: TokenBucket = field(init=False)
    _abuse: TokenBucket = field(init=False)
    _dropping: bool = field(default=False, init=False)

    def __post_init__(self) -> None:
        self._messages = TokenBucket(self.rate, self.burst)
        self._abuse = TokenBucket(self.rate / 4, self.strikes)

    def admit(self, now: float) -> Verdict:
        if self._messages.take(now):
            self._dropping = False
            return Verdict.ok
        if not self._abuse.take(now):
            return Verdict.close
        first, self._dropping = not self._dropping, True
        return Verdict.throttle if first else Verdict.drop
