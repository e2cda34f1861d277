"""The notification outbox: one row per message per channel, and its delivery record."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from server.db import Base, IdMixin, TimestampMixin


class Audience(StrEnum):
    applicant = "applicant"  # recipient: the applicant's phone (or e-mail address)
    staff = "staff"  # recipient: a staff id (its phone for SMS)
    role = "role"  # recipient: a role name; in-app feed only
    system = "system"  # recipient: the system's key, e.g. "approval"


class Channel(StrEnum):
    feed = "feed"  # in-app; read through the API (status ``in_app``: never "delivered")
    sms = "sms"
    wechat = "wechat"
    email = "email"
    approval_system = "approval_system"  # HMAC-signed webhook to the approval system


class DeliveryStatus(StrEnum):
    pending = "pending"  # due at next_attempt_at
    sending = "sending"  # claimed by a worker until next_attempt_at (the lease)
    delivered = "delivered"  # the provider / mail server accepted it (已发送); not "read"
    in_app = "in_app"  # a feed row: shown in the app only (仅站内), nothing was sent
    failed = "failed"  # dead: not retryable, or attempts exhausted


class Notification(IdMixin, TimestampMixin, Base):
    """One outgoing message on one channel (消息发件箱), with its delivery record."""

    __tablename__ = "notifications"
    __table_args__ = (Index("ix_notifications_feed", "audience", "recipient", "created_at"),)

    case_id: Mapped[str | None] = mapped_column(
        ForeignKey("cases.id", ondelete="CASCADE"), index=True
    )
    event: Mapped[str] = mapped_column(String(200))
    audience: Mapped[str] = mapped_column(String(16))
    recipient: Mapped[str] = mapped_column(String(200))
    channel: Mapped[str] = mapped_column(String(20))
    template: Mapped[str] = mapped_column(String(64))
    params: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    text_zh: Mapped[str] = mapped_column(Text)
    text_en: Mapped[str] = mapped_column(Text)
    body: Mapped[dict[str, Any] | None] = mapped_column(JSON)  # webhook payload, if any
    status: Mapped[str] = mapped_column(String(16))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime | None] = mapped_column(index=True)
    claim: Mapped[str] = mapped_column(String(32), default="")  # the worker holding the lease
    last_error: Mapped[str] = mapped_column(Text, default="")
    delivered_at: Mapped[datetime | None]
    # Same event, audience, recipient and channel → same key: enqueueing twice is a no-op.
    dedupe_key: Mapped[str] = mapped_column(String(64), unique=True)
