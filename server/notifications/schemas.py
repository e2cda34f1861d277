"""What the notification endpoints answer: the in-app feed and a case's delivery record."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from server.notifications.delivery_state import State, channel_name, describe
from server.notifications.models import Notification


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
    state: State = Field(description="queued | sent | failed | in_app")
    state_zh: str = Field(description="e.g. 已排队 / 已发送 / 发送失败：原因 / 仅站内")
    state_en: str
    channel_zh: str
    channel_en: str

    @classmethod
    def of(cls, row: Notification) -> DeliveryRecord:
        described = describe(row)
        channel_zh, channel_en = channel_name(row.channel)
        return cls.model_validate(
            {
                **{name: getattr(row, name) for name in _ROW_FIELDS},
                "state": described.state,
                "state_zh": described.zh,
                "state_en": described.en,
                "channel_zh": channel_zh,
                "channel_en": channel_en,
            }
        )


_ROW_FIELDS = (
    "id",
    "event",
    "audience",
    "recipient",
    "channel",
    "template",
    "text_zh",
    "text_en",
    "status",
    "attempts",
    "last_error",
    "next_attempt_at",
    "delivered_at",
    "created_at",
)
