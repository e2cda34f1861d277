"""Audio/video on one clock: RTCP sender reports (NTP ↔ RTP) mapped onto a track's media time.

A sender report says "RTP timestamp R was sampled at wall-clock time N" for one stream. Every
track of a phone is reported against the same wall clock, so mapping each recorded segment's
first frame through its own track's reports puts audio and video on one timeline, whatever
order their packets arrived in. Pure arithmetic; the hooks that observe reports live in
media/aiortc_hooks.py.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

RTP_MODULO = 1 << 32
NTP_UNIX_OFFSET = 2_208_988_800  # seconds from 1900-01-01 (NTP era 0) to 1970-01-01
NTP_FRACTION = 1 << 32
UNIX_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
REPORT_WINDOW = 8  # sender reports kept per track (~8 s at one per second)
DISCONTINUITY_SECONDS = 5.0  # a report this far from the others: the sender's clocks jumped


@dataclass(frozen=True)
class SenderReport:
    """The sender-info of one RTCP SR: 64-bit NTP time, 32-bit RTP timestamp, packets sent."""

    ntp_timestamp: int
    rtp_timestamp: int
    packet_count: int = 1

    def __post_init__(self) -> None:
        if not 0 <= self.ntp_timestamp < 1 << 64:
            raise ValueError(f"NTP timestamp out of range: {self.ntp_timestamp}")
        if not 0 <= self.rtp_timestamp < RTP_MODULO:
            raise ValueError(f"RTP timestamp out of range: {self.rtp_timestamp}")
        if self.packet_count < 0:
            raise ValueError(f"packet count out of range: {self.packet_count}")

    @property
    def describes_media(self) -> bool:
        """False for a report sent before any packet (aiortc then reports NTP 0 and RTP 0)."""
        return self.packet_count > 0 and self.ntp_timestamp != 0


def ntp_to_unix(ntp_timestamp: int) -> float:
    """Seconds since the Unix epoch for a 64-bit NTP timestamp (era 0, i.e. before 2036)."""
    seconds, fraction = divmod(ntp_timestamp, NTP_FRACTION)
    return seconds - NTP_UNIX_OFFSET + fraction / NTP_FRACTION


def rtp_delta(later: int, earlier: int) -> int:
    """`later - earlier` for 32-bit RTP timestamps, across a wrap: in [-2**31, 2**31)."""
    delta = (later - earlier) % RTP_MODULO
    return delta - RTP_MODULO if delta >= RTP_MODULO // 2 else delta


@dataclass(frozen=True)
class MediaClock:
    """Wall-clock time of a track's media timestamps: `pts` was sampled at `wallclock`.

    `pts` is on the track's own continuous timeline (the unwrapped RTP clock that recorded
    packets carry), in units of 1/`clock_rate` second; `wallclock` is Unix seconds (UTC).
    """

    pts: int
    wallclock: float
    clock_rate: int

    def __post_init__(self) -> None:
        if self.clock_rate <= 0:
            raise ValueError(f"clock rate must be positive, got {self.clock_rate}")

    def wallclock_at(self, pts: int) -> float:
        return self.wallclock + (pts - self.pts) / self.clock_rate

    def datetime_at(self, pts: int) -> datetime:
        """`wallclock_at` as an aware UTC datetime (microsecond precision)."""
        return UNIX_EPOCH + timedelta(seconds=self.wallclock_at(pts))

    def shifted(self, offset: int) -> MediaClock:
        """The same clock after the timeline was shifted by `offset` (a reconnect rebase)."""
        return MediaClock(self.pts + offset, self.wallclock, self.clock_rate)


def clock_from_report(
    report: SenderReport, *, reference_rtp: int, reference_pts: int, clock_rate: int
) -> MediaClock:
    """Place a sender report on a track's timeline.

    `reference_rtp` is the raw 32-bit RTP timestamp of a frame recently received on that track
    and `reference_pts` the unwrapped timeline value it was given. The report's RTP timestamp
    is taken as the nearest value modulo 2**32, so a wrap between the two is harmless.
    """
    pts = reference_pts + rtp_delta(report.rtp_timestamp, reference_rtp)
    return MediaClock(pts, ntp_to_unix(report.ntp_timestamp), clock_rate)


class SenderClockFilter:
    """The most accurate of a track's last few sender reports.

    A report can only be late against the media clock, never early: aiortc stamps its SR with
    the time it sent the last packet, after encoding and any scheduling delay (seen here: up to
    0.7 s on a loaded 2-core machine), and a browser stamps it exactly at best. Of the recent
    reports, the one implying the earliest wall clock is therefore the closest; keeping only a
    few keeps the sender's clock drift (tens of ppm) negligible. A report that disagrees by
    more than `DISCONTINUITY_SECONDS` means the sender's clock or timeline jumped: start over.
    """

    def __init__(self, window: int = REPORT_WINDOW) -> None:
        if window < 1:
            raise ValueError(f"the window must hold at least one report, got {window}")
        self._recent: deque[MediaClock] = deque(maxlen=window)

    def add(self, clock: MediaClock) -> MediaClock:
        """Take a new report (same track and timeline); returns the best one now."""
        if self._recent:
            jump = clock.wallclock_at(0) - self.best().wallclock_at(0)
            if abs(jump) > DISCONTINUITY_SECONDS:
                self._recent.clear()
        self._recent.append(clock)
        return self.best()

    def best(self) -> MediaClock:
        if not self._recent:
            raise ValueError("no sender report yet")
        return min(self._recent, key=lambda clock: clock.wallclock_at(0))
