"""Inspector pool and draw bodies."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class ProfileIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    matters: list[str] = Field(max_length=30)
    active: bool = True

    def codes(self) -> list[str]:
        return sorted(set(self.matters))


class ConflictIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    kind: Literal["applicant", "address", "phone"]
    value: str = Field(min_length=1, max_length=300)
    note: str = Field(default="", max_length=500)


class InspectorOut(BaseModel):
    staff_id: str
    username: str
    display_name: str
    organisation: str
    active: bool
    matters: list[str]
    open_cases: int
    conflicts: list[dict[str, str]]


class ReplaceIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    leaving: str = Field(min_length=1, max_length=64)
    reason: str = Field(min_length=2, max_length=500)
    chosen: str | None = Field(default=None, max_length=64)


class DrawOut(BaseModel):
    draw_id: str
    pair: list[str] | None
    reason_zh: str
    reason_en: str
    seed: str
    eligible: list[dict[str, object]]
    excluded: list[dict[str, object]]
