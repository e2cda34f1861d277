"""What the notification endpoints answer: the in-app feed and a case's delivery record."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict


class FeedItem(BaseModel):
    """One in-app message."""

    model_config = ConfigDict(from_attributes=True)
    id: str
    case_id: str | None
    template: str
    params: dict[str, Any]
    text_zh: str
    text_en: str
    created_at: datetime


class DeliveryRecord(BaseModel):
    """One message on one channel, and what became of it."""

    model_config = ConfigDict(from_attributes=True)
    id: str
    event: str
    audience: str
    recipient: str
    channel: str
    template: str
    text_zh: str
    text_en: str
    status: str
    attempts: int
    last_error: str
    next_attempt_at: datetime | None
    delivered_at: datetime | None
    created_at: datetime
