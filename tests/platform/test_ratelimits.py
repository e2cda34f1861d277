"""The token bucket and the WebSocket flood guard, on a clock the test moves by hand."""

from __future__ import annotations

from server.platform.ratelimits import FloodGuard, TokenBucket
from signaling.admission import Admission, Verdict


def test_bucket_starts_full_and_refills_at_its_rate() -> None:
    bucket = TokenBucket(rate=2, burst=3)
    assert [bucket.take(10.0) for _ in range(4)] == [True, True, True, False]
    assert bucket.take(10.5)  # half a second at 2/s: one token
    assert not bucket.take(10.5)
    assert [bucket.take(100.0) for _ in range(4)] == [True, True, True, False]  # capped at burst


def test_guard_throttles_once_then_drops_then_closes() -> None:
    guard: Admission = FloodGuard(rate=1, burst=2, strikes=2)
    verdicts = [guard.admit(0.0) for _ in range(5)]
    assert verdicts == [Verdict.ok, Verdict.ok, Verdict.throttle, Verdict.drop, Verdict.close]


def test_guard_tells_the_client_again_after_a_run_of_drops_ends() -> None:
    guard = FloodGuard(rate=1, burst=1, strikes=10)
    assert [guard.admit(0.0) for _ in range(3)] == [Verdict.ok, Verdict.throttle, Verdict.drop]
    assert guard.admit(1.0) is Verdict.ok
    assert guard.admit(1.0) is Verdict.throttle
