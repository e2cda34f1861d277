"""A delivery row's state in people's words: 已排队 / 已发送 / 发送失败：原因 / 仅站内."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from server.notifications.models import Channel, DeliveryStatus, Notification

State = Literal["queued", "sent", "failed", "in_app"]

CHANNEL_NAMES = {
    Channel.feed.value: ("站内消息", "in-app message"),
    Channel.sms.value: ("短信", "SMS"),
    Channel.wechat.value: ("微信", "WeChat"),
    Channel.email.value: ("电子邮件", "e-mail"),
    Channel.approval_system.value: ("审批系统", "approval system"),
}


@dataclass(frozen=True, slots=True)
class Described:
    state: State
    zh: str
    en: str


def _state(status: str) -> State:
    if status == DeliveryStatus.in_app.value:
        return "in_app"
    if status == DeliveryStatus.delivered.value:
        return "sent"
    if status == DeliveryStatus.failed.value:
        return "failed"
    return "queued"


def describe(row: Notification) -> Described:
    """What became of one message on one channel."""
    state = _state(row.status)
    reason = row.last_error or "原因不明 / unknown"
    if state == "in_app":
        return Described(state, "仅站内", "in-app only")
    if state == "sent":
        return Described(state, "已发送", "sent")
    if state == "failed":
        return Described(state, f"发送失败：{reason}", f"failed: {reason}")
    if row.attempts and row.last_error:
        return Described(
            state,
            f"已排队（第{row.attempts}次发送未成功，将重试：{reason}）",
            f"queued (attempt {row.attempts} did not go through, will retry: {reason})",
        )
    return Described(state, "已排队", "queued")


def channel_name(channel: str) -> tuple[str, str]:
    return CHANNEL_NAMES.get(channel, (channel, channel))
