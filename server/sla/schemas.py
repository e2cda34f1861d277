"""What the calendar endpoints take and answer (the clock answers ``service.ClockView``)."""

from __future__ import annotations

import datetime as dt

from pydantic import BaseModel, ConfigDict, Field


class OverrideIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    is_workday: bool
    note: str = Field(default="", max_length=500)  # required; checked with a message


class OverrideOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    date: dt.date
    is_workday: bool
    note: str
    created_by: str
    created_at: dt.datetime


class OverrideSaved(OverrideOut):
    clocks_refreshed: int  # running clocks whose due time was recomputed
