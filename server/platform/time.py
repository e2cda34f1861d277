"""Beijing time (Asia/Shanghai), in which people here read clocks and dates: the one
definition of the zone and of how a moment is written for people.

Instants are stored and passed around in UTC; they become Beijing time only to be shown, or
to find the local date or working hours they fall in. (``media/`` must not import ``server/``:
the snapshot watermark gets its time already written from here.)
"""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

CHINA_TZ = ZoneInfo("Asia/Shanghai")
MINUTES = "%Y-%m-%d %H:%M"
SECONDS = "%Y-%m-%d %H:%M:%S"


def shanghai_time(value: datetime, fmt: str = MINUTES) -> str:
    """An instant as people read it, in Beijing time (``2026-03-05 14:30`` by default)."""
    return value.astimezone(CHINA_TZ).strftime(fmt)
