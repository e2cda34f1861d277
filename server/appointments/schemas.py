"""What the appointment endpoints take and answer."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from server.appointments.booking_rules import LateWarning
from server.appointments.service import MAX_SLOTS
from server.timeinputs import BeijingDateTime


class SlotIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    starts_at: BeijingDateTime
    ends_at: BeijingDateTime


class SlotsIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    slots: list[SlotIn] = Field(min_length=1, max_length=MAX_SLOTS)


class AcceptIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    slot_id: str = Field(min_length=1, max_length=64)


class RescheduleIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reason: str = Field(min_length=2, max_length=500)


class WithdrawIn(BaseModel):
    """The applicant's withdrawal; an empty reason is refused in words by the service."""

    model_config = ConfigDict(extra="forbid")
    reason: str = Field(default="", max_length=500)


class SlotOut(BaseModel):
    id: str
    starts_at: datetime
    ends_at: datetime
    # set when the booking went through past an already missed due time (booking_rules)
    warning_zh: str = ""
    warning_en: str = ""


def slot_out(
    id_: str, starts_at: datetime, ends_at: datetime, late: LateWarning | None = None
) -> SlotOut:
    return SlotOut(
        id=id_,
        starts_at=starts_at,
        ends_at=ends_at,
        warning_zh="" if late is None else late.zh,
        warning_en="" if late is None else late.en,
    )


class AppointmentOut(BaseModel):
    open_slots: list[SlotOut]
    appointment: SlotOut | None
    state: str
