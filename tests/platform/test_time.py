"""Beijing time as people read it: the one zone and the one way a moment is written."""

from __future__ import annotations

from datetime import UTC, datetime

from server.platform.time import CHINA_TZ, shanghai_time


def test_times_are_shown_in_shanghai_to_the_minute() -> None:
    assert shanghai_time(datetime(2026, 3, 5, 6, 30, 59, tzinfo=UTC)) == "2026-03-05 14:30"


def test_a_format_may_be_asked_for() -> None:
    moment = datetime(2026, 12, 31, 16, 0, 5, tzinfo=UTC)  # the next day in Beijing
    assert shanghai_time(moment, "%Y-%m-%d %H:%M:%S") == "2027-01-01 00:00:05"


def test_the_zone_is_eight_hours_ahead_all_year() -> None:  # China has no summer time
    for month in (1, 7):
        offset = datetime(2026, month, 1, tzinfo=CHINA_TZ).utcoffset()
        assert offset is not None
        assert offset.total_seconds() == 8 * 3600
