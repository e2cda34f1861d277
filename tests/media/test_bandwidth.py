"""Which REMB the phone gets: lowest fresh estimate, expiry, rate limit, floor."""

from __future__ import annotations

import pytest

from media.bandwidth import FLOOR_BPS, STALE_SECONDS, RembForwarder

FAST, SLOW = "inspector0", "inspector1"


def test_the_lowest_subscriber_estimate_is_sent() -> None:
    forwarder = RembForwarder()
    forwarder.subscriber_estimate(FAST, 2_000_000, now=0.0)
    forwarder.subscriber_estimate(SLOW, 300_000, now=0.1)
    assert forwarder.limit(0.2) == 300_000
    assert forwarder.due(0.2) == 300_000


def test_nothing_is_sent_before_any_estimate() -> None:
    forwarder = RembForwarder()
    assert forwarder.limit(0.0) is None
    assert forwarder.due(0.0) is None


def test_a_stale_estimate_expires_and_the_limit_rises() -> None:
    forwarder = RembForwarder()
    forwarder.subscriber_estimate(SLOW, 300_000, now=0.0)
    forwarder.subscriber_estimate(FAST, 2_000_000, now=0.0)
    forwarder.subscriber_estimate(FAST, 2_000_000, now=STALE_SECONDS)
    assert forwarder.limit(STALE_SECONDS) == 300_000  # exactly stale_after old: still counts
    assert forwarder.limit(STALE_SECONDS + 0.1) == 2_000_000
    assert forwarder.limit(2 * STALE_SECONDS + 0.2) is None


def test_a_subscriber_that_leaves_stops_counting_at_once() -> None:
    forwarder = RembForwarder()
    forwarder.subscriber_estimate(SLOW, 300_000, now=0.0)
    forwarder.subscriber_estimate(FAST, 2_000_000, now=0.0)
    forwarder.remove(SLOW)
    forwarder.remove("never-reported")
    assert forwarder.limit(0.1) == 2_000_000


def test_sends_are_limited_to_one_per_second_unless_the_limit_drops_by_over_20_percent() -> None:
    forwarder = RembForwarder()
    forwarder.subscriber_estimate(SLOW, 1_000_000, now=0.0)
    assert forwarder.due(0.0) == 1_000_000
    forwarder.subscriber_estimate(SLOW, 1_200_000, now=0.3)
    assert forwarder.due(0.3) is None  # a rise waits for the interval
    forwarder.subscriber_estimate(SLOW, 810_000, now=0.5)
    assert forwarder.due(0.5) is None  # a 19 % drop waits too
    forwarder.subscriber_estimate(SLOW, 790_000, now=0.6)
    assert forwarder.due(0.6) == 790_000  # a 21 % drop goes out at once
    assert forwarder.due(0.7) is None
    assert forwarder.due(1.6) == 790_000  # refreshed once the interval has passed


def test_the_uplink_estimate_is_lowered_to_the_subscribers_limit() -> None:
    forwarder = RembForwarder()
    assert forwarder.uplink_estimate(1_500_000, now=0.0) == 1_500_000  # no subscriber yet
    forwarder.subscriber_estimate(SLOW, 400_000, now=0.1)
    assert forwarder.uplink_estimate(1_500_000, now=0.2) == 400_000
    # The uplink is the bottleneck: the subscribers' sends may not raise it.
    assert forwarder.uplink_estimate(350_000, now=0.3) == 350_000
    forwarder.subscriber_estimate(SLOW, 400_000, now=1.5)
    assert forwarder.due(1.5) == 350_000


def test_an_uplink_send_counts_for_the_rate_limit() -> None:
    forwarder = RembForwarder()
    forwarder.subscriber_estimate(SLOW, 400_000, now=0.0)
    forwarder.uplink_estimate(2_000_000, now=0.0)  # sent as 400 000
    assert forwarder.due(0.5) is None
    assert forwarder.due(1.0) == 400_000


def test_a_stale_uplink_estimate_no_longer_caps() -> None:
    forwarder = RembForwarder()
    forwarder.uplink_estimate(300_000, now=0.0)
    forwarder.subscriber_estimate(SLOW, 900_000, now=STALE_SECONDS + 1)
    assert forwarder.target(STALE_SECONDS + 1) == 900_000


def test_a_zero_estimate_cannot_stop_the_phone() -> None:
    forwarder = RembForwarder()
    forwarder.subscriber_estimate(SLOW, 0, now=0.0)
    assert forwarder.due(0.0) == FLOOR_BPS


def test_bad_values_are_refused_and_change_nothing() -> None:
    forwarder = RembForwarder()
    forwarder.subscriber_estimate(SLOW, 500_000, now=0.0)
    with pytest.raises(ValueError, match="negative"):
        forwarder.subscriber_estimate(SLOW, -1, now=0.1)
    with pytest.raises(ValueError, match="negative"):
        forwarder.uplink_estimate(-5, now=0.1)
    assert forwarder.limit(0.2) == 500_000
    assert forwarder.target(0.2) == 500_000
    with pytest.raises(ValueError, match="drop_ratio"):
        RembForwarder(drop_ratio=1.5)
    with pytest.raises(ValueError, match="stale_after"):
        RembForwarder(stale_after=0)
