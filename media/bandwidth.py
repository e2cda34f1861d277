"""Which bandwidth limit (REMB) the publishing phone gets: pure rules, no I/O.

The server forwards the phone's packets untouched, so nothing in between can lower the bitrate
for a slow inspector: only the phone's encoder can. The phone is therefore told the lowest of
the subscribers' current receive estimates and of the server's own estimate of the phone's
uplink. An estimate not renewed within `stale_after` seconds stops counting (a subscriber
that left is removed at once). Forwarded sends are limited to one per `min_interval` unless
the limit drops by more than `drop_ratio`, so a falling link is acted on at once and a steady
one costs ~1 packet/s.
"""

from __future__ import annotations

from collections.abc import Hashable
from dataclasses import dataclass

STALE_SECONDS = 5.0
MIN_INTERVAL = 1.0
DROP_RATIO = 0.2
# A REMB of 0 (a broken or hostile estimator) must not freeze the phone's video altogether.
FLOOR_BPS = 50_000


@dataclass(frozen=True)
class _Estimate:
    bitrate: int
    at: float


class RembForwarder:
    """Keeps the subscribers' and the uplink's estimates and decides what the phone is sent."""

    def __init__(
        self,
        *,
        stale_after: float = STALE_SECONDS,
        min_interval: float = MIN_INTERVAL,
        drop_ratio: float = DROP_RATIO,
        floor: int = FLOOR_BPS,
    ) -> None:
        if stale_after <= 0 or min_interval < 0 or not 0 < drop_ratio < 1 or floor < 0:
            raise ValueError("stale_after > 0, min_interval >= 0, 0 < drop_ratio < 1, floor >= 0")
        self._stale_after = stale_after
        self._min_interval = min_interval
        self._drop_ratio = drop_ratio
        self._floor = floor
        self._subscribers: dict[Hashable, _Estimate] = {}
        self._uplink: _Estimate | None = None
        self._last_sent: _Estimate | None = None

    def subscriber_estimate(self, subscriber: Hashable, bitrate: int, now: float) -> None:
        """Record a subscriber's latest estimate (bits per second)."""
        self._subscribers[subscriber] = _Estimate(self._checked(bitrate), now)

    def due(self, now: float) -> int | None:
        """The bitrate to send the phone now (and note it as sent), or None: not yet."""
        target = self.target(now)
        if target is None or not self._due(target, now):
            return None
        self.sent(target, now)
        return target

    def uplink_estimate(self, bitrate: int, now: float) -> int:
        """The server's own estimate of the phone's uplink is about to be sent: what to send."""
        self._uplink = _Estimate(self._checked(bitrate), now)
        target = self.target(now) or self._uplink.bitrate
        self.sent(target, now)
        return target

    def remove(self, subscriber: Hashable) -> None:
        """A subscriber left: its estimate stops counting at once."""
        self._subscribers.pop(subscriber, None)

    def sent(self, bitrate: int, now: float) -> None:
        self._last_sent = _Estimate(bitrate, now)

    def limit(self, now: float) -> int | None:
        """The lowest fresh subscriber estimate, or None when no subscriber reports one."""
        for key in [k for k, e in self._subscribers.items() if now - e.at > self._stale_after]:
            del self._subscribers[key]
        return min((e.bitrate for e in self._subscribers.values()), default=None)

    def target(self, now: float) -> int | None:
        """min(subscribers' limit, fresh uplink estimate), never below the floor."""
        uplink = self._uplink
        fresh = uplink is not None and now - uplink.at <= self._stale_after
        values = [uplink.bitrate] if uplink is not None and fresh else []
        limit = self.limit(now)
        if limit is not None:
            values.append(limit)
        return max(min(values), self._floor) if values else None

    def _due(self, target: int, now: float) -> bool:
        last = self._last_sent
        if last is None or now - last.at >= self._min_interval:
            return True
        return target < last.bitrate * (1 - self._drop_ratio)

    @staticmethod
    def _checked(bitrate: int) -> int:
        if bitrate < 0:
            raise ValueError(f"a bitrate cannot be negative, got {bitrate}")
        return bitrate
