"""Beijing time (Asia/Shanghai), in which people here read clocks and dates: the one
definition of the zone and of how a moment is written for people.

Instants are stored and passed around in UTC; they become Beijing time only to be shown, or
to find the local date or working hours they fall in. (``media/`` keeps its own zone for the
snapshot watermark: it must not import ``server/``.)
"""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

CHINA_TZ = ZoneInfo("Asia/Shanghai")
MINUTES = "%Y-%m-%d %H:%M"


def shanghai_time(value: datetime, fmt: str = MINUTES) -> str:
    """An instant as people read it, in Beijing time (``2026-03-05 14:30`` by default)."""
    return value.astimezone(CHINA_TZ).strftime(fmt)
