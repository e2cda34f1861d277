"""NTP ↔ RTP mapping from RTCP sender reports: the pure arithmetic."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from media.sync import (
    NTP_UNIX_OFFSET,
    MediaClock,
    SenderClockFilter,
    SenderReport,
    clock_from_report,
    ntp_to_unix,
    rtp_delta,
)

VIDEO_RATE = 90_000


def ntp(unix_seconds: float) -> int:
    whole = int(unix_seconds)
    return (whole + NTP_UNIX_OFFSET) << 32 | round((unix_seconds - whole) * (1 << 32))


def test_ntp_timestamp_converts_to_unix_seconds() -> None:
    assert ntp_to_unix(NTP_UNIX_OFFSET << 32) == 0.0
    assert ntp_to_unix(ntp(1_700_000_000.25)) == pytest.approx(1_700_000_000.25, abs=1e-6)
    assert ntp_to_unix((NTP_UNIX_OFFSET + 1) << 32 | 1 << 31) == 1.5


def test_rtp_delta_is_signed_and_crosses_the_32_bit_wrap() -> None:
    assert rtp_delta(3000, 1000) == 2000
    assert rtp_delta(1000, 3000) == -2000
    assert rtp_delta(0x0000_0100, 0xFFFF_FF00) == 0x200  # wrapped forwards
    assert rtp_delta(0xFFFF_FF00, 0x0000_0100) == -0x200  # the same, seen from after the wrap
    assert rtp_delta(0, 1 << 31) == -(1 << 31)  # half the circle is read as "earlier"


def test_a_report_is_placed_on_the_track_timeline_relative_to_a_received_frame() -> None:
    report = SenderReport(ntp(1_700_000_000.0), rtp_timestamp=500_000)
    clock = clock_from_report(
        report, reference_rtp=590_000, reference_pts=180_000, clock_rate=VIDEO_RATE
    )
    assert clock.pts == 90_000  # 1 s (90 000 ticks) before the reference frame
    assert clock.wallclock_at(180_000) == pytest.approx(1_700_000_001.0)
    assert clock.wallclock_at(0) == pytest.approx(1_699_999_999.0)


def test_a_report_from_before_the_rtp_wrap_maps_frames_after_it() -> None:
    # The SR was sent 0.5 s before the RTP timestamp wrapped; the frame is 0.5 s after.
    report = SenderReport(ntp(1_000.0), rtp_timestamp=(1 << 32) - 45_000)
    clock = clock_from_report(
        report, reference_rtp=45_000, reference_pts=9_000_000, clock_rate=VIDEO_RATE
    )
    assert clock.wallclock_at(9_000_000) == pytest.approx(1_001.0)
    # ...and the other way round: a report sent after the wrap, a frame from before it.
    report = SenderReport(ntp(2_000.0), rtp_timestamp=48_000)
    clock = clock_from_report(
        report, reference_rtp=(1 << 32) - 48_000, reference_pts=96_000, clock_rate=48_000
    )
    assert clock.pts == 192_000
    assert clock.wallclock_at(96_000) == pytest.approx(1_998.0)


def test_clock_gives_utc_datetimes_and_follows_a_rebased_timeline() -> None:
    clock = MediaClock(pts=48_000, wallclock=1_700_000_000.0, clock_rate=48_000)
    assert clock.datetime_at(72_000) == datetime(2023, 11, 14, 22, 13, 20, 500_000, tzinfo=UTC)
    shifted = clock.shifted(1_000_000)
    assert shifted.wallclock_at(1_072_000) == clock.wallclock_at(72_000)


def test_out_of_range_reports_and_clock_rates_are_refused() -> None:
    with pytest.raises(ValueError, match="RTP timestamp"):
        SenderReport(ntp(1.0), rtp_timestamp=1 << 32)
    with pytest.raises(ValueError, match="NTP timestamp"):
        SenderReport(-1, rtp_timestamp=0)
    with pytest.raises(ValueError, match="clock rate"):
        MediaClock(pts=0, wallclock=0.0, clock_rate=0)


def clock_at(offset: float) -> MediaClock:
    """A 48 kHz clock whose pts 0 falls at `offset` seconds."""
    return MediaClock(pts=48_000, wallclock=offset + 1.0, clock_rate=48_000)


def test_the_earliest_of_recent_reports_wins_since_reports_are_only_ever_late() -> None:
    reports = SenderClockFilter(window=3)
    assert reports.add(clock_at(100.030)).wallclock_at(0) == pytest.approx(100.030)
    assert reports.add(clock_at(100.002)).wallclock_at(0) == pytest.approx(100.002)
    assert reports.add(clock_at(100.400)).wallclock_at(0) == pytest.approx(100.002)
    reports.add(clock_at(100.010))
    assert reports.add(clock_at(100.020)).wallclock_at(0) == pytest.approx(100.010)  # aged out


def test_a_jump_in_the_senders_clock_starts_the_window_over() -> None:
    reports = SenderClockFilter()
    reports.add(clock_at(100.0))
    assert reports.add(clock_at(160.0)).wallclock_at(0) == pytest.approx(160.0)
    assert reports.add(clock_at(160.3)).wallclock_at(0) == pytest.approx(160.0)


def test_a_report_sent_before_any_packet_describes_no_media() -> None:
    assert not SenderReport(0, 0, packet_count=0).describes_media  # aiortc's very first SR
    assert not SenderReport(0, 0, packet_count=5).describes_media
    assert SenderReport(ntp(1.0), 0, packet_count=1).describes_media


def test_bad_filter_and_report_arguments_are_refused() -> None:
    with pytest.raises(ValueError, match="at least one"):
        SenderClockFilter(window=0)
    with pytest.raises(ValueError, match="no sender report"):
        SenderClockFilter().best()
    with pytest.raises(ValueError, match="packet count"):
        SenderReport(ntp(1.0), 0, packet_count=-1)
