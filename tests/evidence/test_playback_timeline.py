"""The playback timeline plan (pure): where each recorded segment goes, gaps kept as holes."""

from __future__ import annotations

import itertools
from typing import Any

import pytest

from server.evidence.playback import (
    GapTiming,
    Hole,
    SegmentTiming,
    gaps_header,
    plan_timeline,
)
from tests.evidence.recording import (
    at,
)


def seg(seq: int, start: float, end: float, media: tuple[float, float] | None = None) -> Any:
    media_start, media_end = media if media is not None else (start, end)
    return SegmentTiming(seq, at(start), at(end), media_start, media_end)


def test_segments_of_one_run_follow_each_other_on_the_media_clock() -> None:
    # arrival times jitter; the media clock says the next frame came 1/30 s after the last
    plan = plan_timeline([seg(0, 0, 0.967, (0, 0.967)), seg(1, 1.2, 2.0, (1.0, 1.967))])
    assert [p.offset for p in plan.placements] == pytest.approx([0, 1.0])
    assert plan.holes == []
    assert plan.duration == pytest.approx(1.967)


def test_a_recorded_gap_stays_a_hole_at_least_as_long_as_the_gap() -> None:
    gap = GapTiming(at(2.0), at(7.0), 5.0)
    plan = plan_timeline([seg(0, 0, 2.0), gap, seg(1, 7.1, 9.0, (7.1, 9.0))])
    assert plan.placements[1].offset == pytest.approx(7.1)
    assert plan.holes == [Hole(at=2.0, seconds=pytest.approx(5.1))]
    assert plan.holes[0].seconds >= gap.seconds
    assert plan.duration == pytest.approx(2.0 + 5.1 + 1.9)


def test_a_gap_longer_than_the_wall_clock_step_still_shows_in_full() -> None:
    plan = plan_timeline([seg(0, 0, 2.0), GapTiming(at(2.0), at(4.0), 6.0), seg(1, 3.0, 4.0)])
    assert plan.holes[0].seconds == pytest.approx(6.0)
    assert plan.placements[1].offset == pytest.approx(8.0)


def test_a_new_call_restarts_the_media_clock_and_is_placed_by_the_wall_clock() -> None:
    later = GapTiming(at(10.0), at(70.0), 60.0, inferred=True)
    plan = plan_timeline([seg(0, 0, 10.0), later, seg(1, 70.0, 75.0, (0.0, 5.0))])
    assert plan.placements[1].offset == pytest.approx(70.0)
    assert plan.holes == [Hole(at=10.0, seconds=pytest.approx(60.0), inferred=True)]
    assert gaps_header(plan.holes) == "at=10.000;seconds=60.000;inferred"


def test_a_media_clock_that_jumps_without_a_gap_falls_back_to_the_wall_clock() -> None:
    backwards = plan_timeline([seg(0, 0, 1.0, (5.0, 6.0)), seg(1, 1.033, 2.0, (0.0, 0.967))])
    assert backwards.placements[1].offset == pytest.approx(1.033)
    ahead = plan_timeline([seg(0, 0, 1.0), seg(1, 1.033, 2.0, (500.0, 501.0))])
    assert ahead.placements[1].offset == pytest.approx(1.033)


def test_offsets_strictly_increase_even_when_clocks_stall() -> None:
    stalled = [seg(0, 0, 1.0, (0, 1.0)), seg(1, 1.0, 1.0, (1.0, 1.0)), seg(2, 0.9, 1.5)]
    offsets = [p.offset for p in plan_timeline(stalled).placements]
    assert all(b > a for a, b in itertools.pairwise(offsets))


def test_segments_without_media_times_use_their_wall_clock() -> None:
    bare = [SegmentTiming(0, at(0), at(2.0)), SegmentTiming(1, at(2.04), at(4.0))]
    plan = plan_timeline(bare)
    assert [p.offset for p in plan.placements] == pytest.approx([0, 2.04])
    assert plan.duration == pytest.approx(4.0)
