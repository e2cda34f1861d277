"""What the phone reports about a file: its own GPS fix and its clock at capture.

Where a photo was taken: the GPS in its EXIF when there is one, else the phone's own fix sent
with the announcement (an on-site photo queued offline keeps the fix taken with it); the
evidence records which (``position_source``: ``exif`` / ``device``).

When it was taken, likewise: EXIF DateTimeOriginal when present (phone-local China time when it
records no offset, see ``images.read_captured_at``), else the phone's clock at the moment of
capture sent with the announcement (a photo queued offline at 10:00 and uploaded at 14:00 reads
10:00), else the server's clock at finalize (``captured_at_source``: ``exif`` / ``device`` /
``server``). The rules here are pure: they refuse what cannot be true, nothing else.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

from server.cases.models import Case
from server.errors import BadInput
from server.platform.time import shanghai_time

MAX_FIX_ACCURACY_M = 50_000.0  # a coarser fix (a whole city) says nothing about the premises
DEVICE_CLOCK_SKEW = timedelta(minutes=5)  # phones' clocks drift; more than this is a wrong clock


@dataclass(frozen=True, slots=True)
class DeviceFix:
    """The phone's own GPS fix (Geolocation API) taken with the file, as reported by the client."""

    lat: float
    lng: float
    accuracy_m: float
    fixed_at: datetime

    def stored(self) -> dict[str, Any]:
        return {
            "lat": self.lat,
            "lng": self.lng,
            "accuracy_m": self.accuracy_m,
            "fixed_at": self.fixed_at.isoformat(),
        }

    @classmethod
    def from_stored(cls, data: dict[str, Any]) -> DeviceFix:
        return cls(
            float(data["lat"]),
            float(data["lng"]),
            float(data["accuracy_m"]),
            datetime.fromisoformat(str(data["fixed_at"])),
        )


class BadPosition(BadInput):
    """The reported fix cannot be where and when the file was made (422, reason bad_position).

    A client may announce the same file again without the fix: the file matters more.
    """

    def __init__(self, message_zh: str, message_en: str, **extra: Any) -> None:
        super().__init__(message_zh, message_en, reason="bad_position", field="position", **extra)


def device_time_problem(
    when: datetime, *, case: Case, now: datetime
) -> Literal["future", "before_case"] | None:
    """Why a time reported by the phone cannot be true for this case, or None when it can be.

    ``future``: later than the server's clock; ``before_case``: before the case was registered
    (both beyond ``DEVICE_CLOCK_SKEW``, since phones' clocks drift a little).
    """
    if when > now + DEVICE_CLOCK_SKEW:
        return "future"
    if when < case.created_at - DEVICE_CLOCK_SKEW:
        return "before_case"
    return None


def check_device_fix(fix: DeviceFix, *, case: Case, now: datetime) -> None:
    """Refuse a fix that is a placeholder or whose time is impossible (ranges: the schema)."""
    if fix.lat == 0 and fix.lng == 0:
        raise BadPosition(
            "定位为经纬度 (0, 0)：这是手机没有取得定位时的占位值，不是实际位置。"
            "请重新定位后再上传，或不附带定位上传。",
            "The position is latitude 0, longitude 0: a phone's placeholder when it has no "
            "fix, not a real place. Take a new fix, or upload without a position.",
        )
    problem = device_time_problem(fix.fixed_at, case=case, now=now)
    if problem == "future":
        raise BadPosition(
            f"定位时间（{shanghai_time(fix.fixed_at)}）晚于服务器当前时间"
            f"（{shanghai_time(now)}）。请检查手机的日期和时间设置。",
            f"The fix time ({fix.fixed_at.isoformat()}) is later than the server's clock "
            f"({now.isoformat()}); check the phone's date and time settings.",
            fixed_at=fix.fixed_at.isoformat(),
            server_time=now.isoformat(),
        )
    if problem == "before_case":
        raise BadPosition(
            f"定位时间（{shanghai_time(fix.fixed_at)}）早于案件登记时间"
            f"（{shanghai_time(case.created_at)}），不可能是本次踏勘拍摄时的定位。"
            "请检查手机的日期和时间设置，或重新定位。",
            f"The fix time ({fix.fixed_at.isoformat()}) is before the case was registered "
            f"({case.created_at.isoformat()}), so it cannot be where this file was made; "
            "check the phone's date and time, or take a new fix.",
            fixed_at=fix.fixed_at.isoformat(),
            case_created_at=case.created_at.isoformat(),
        )


class BadCaptureTime(BadInput):
    """The reported capture time cannot be when a photo of this case was taken (422).

    Reason ``bad_captured_at``. A client may announce the same file again without the time:
    the file matters more, and it then reads the server's time (``captured_at_source``).
    """

    def __init__(self, message_zh: str, message_en: str, **extra: Any) -> None:
        super().__init__(
            message_zh, message_en, reason="bad_captured_at", field="captured_at", **extra
        )


def check_device_capture_time(captured_at: datetime, *, case: Case, now: datetime) -> None:
    """Refuse a capture time in the future or before the case existed (format: the schema)."""
    problem = device_time_problem(captured_at, case=case, now=now)
    if problem == "future":
        raise BadCaptureTime(
            f"拍摄时间（{shanghai_time(captured_at)}）晚于服务器当前时间"
            f"（{shanghai_time(now)}）。请检查手机的日期和时间设置，或不附带拍摄时间上传。",
            f"The capture time ({captured_at.isoformat()}) is later than the server's clock "
            f"({now.isoformat()}); check the phone's date and time settings, or upload "
            "without a capture time.",
            captured_at=captured_at.isoformat(),
            server_time=now.isoformat(),
        )
    if problem == "before_case":
        raise BadCaptureTime(
            f"拍摄时间（{shanghai_time(captured_at)}）早于案件登记时间"
            f"（{shanghai_time(case.created_at)}），不可能是本次踏勘的拍摄时间。"
            "请检查手机的日期和时间设置，或不附带拍摄时间上传。",
            f"The capture time ({captured_at.isoformat()}) is before the case was registered "
            f"({case.created_at.isoformat()}), so no photo of this inspection was taken then; "
            "check the phone's date and time, or upload without a capture time.",
            captured_at=captured_at.isoformat(),
            case_created_at=case.created_at.isoformat(),
        )
