"""Whether the WebSocket edge takes a connection's next frame (flood protection).

Signaling keeps no limit of its own: the server wires in a factory that gives each connection
its ``Admission`` (``server.platform.ratelimits.FloodGuard``, built from the configured limits).
"""

from __future__ import annotations

from collections.abc import Callable
from enum import Enum
from typing import Protocol


class Verdict(Enum):
    ok = "ok"
    throttle = "throttle"  # drop it and tell the client (once per run of drops)
    drop = "drop"  # drop it silently
    close = "close"  # sustained abuse: close 1008


class Admission(Protocol):
    """One connection's limit; the caller passes the clock (``time.monotonic()``)."""

    def admit(self, now: float) -> Verdict: ...


AdmissionFactory = Callable[[], Admission]
"""Called once per connection, so each has its own allowance."""
