"""What the rating and follow-up endpoints take (they answer ``service``'s own models)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class RatingIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    score: int = Field(ge=1, le=5, strict=True)  # 1 很不满意 … 5 非常满意
    comment: str = Field(default="", max_length=500)


class CloseIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    note: str = Field(default="", max_length=2000)  # required; checked with a message
