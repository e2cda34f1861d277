"""Which external channels are on, and the sender behind each (one ``Sender`` interface).

sms              Alibaba Cloud SendSms (``sms_provider="aliyun"``) or the JSON SMS gateway
email            SMTP when ``smtp_from`` is set (a missing host fails rows with that reason),
                 else the JSON e-mail gateway when ``email_webhook_url`` is set
wechat           the JSON WeChat gateway
approval_system  the HMAC-signed webhook
"""

from __future__ import annotations

import httpx

from server.config import Settings
from server.notifications.email import SmtpEmailSender
from server.notifications.models import Channel
from server.notifications.senders import (
    ApprovalSender,
    EmailGatewaySender,
    Sender,
    SmsSender,
    WeChatSender,
)
from server.notifications.sms_aliyun import AliyunSmsSender


def _sms_on(settings: Settings) -> bool:
    if settings.sms_provider == "aliyun":
        return bool(settings.sms_access_key_id)
    return bool(settings.sms_webhook_url)


def enabled_channels(settings: Settings) -> frozenset[Channel]:
    """The external channels that have a sender configured."""
    on = {
        Channel.sms: _sms_on(settings),
        Channel.wechat: bool(settings.wechat_webhook_url),
        Channel.email: bool(settings.smtp_from or settings.email_webhook_url),
        Channel.approval_system: bool(settings.approval_webhook_url),
    }
    return frozenset(channel for channel, yes in on.items() if yes)


def _sms(settings: Settings, client: httpx.AsyncClient, secret: str) -> Sender:
    if settings.sms_provider == "aliyun":
        return AliyunSmsSender(client, settings)
    return SmsSender(client, settings.sms_webhook_url, secret)


def _email(settings: Settings, client: httpx.AsyncClient, secret: str) -> Sender:
    if settings.smtp_from:
        return SmtpEmailSender(settings)
    return EmailGatewaySender(client, settings.email_webhook_url, secret)


def _sender(channel: Channel, settings: Settings, client: httpx.AsyncClient, secret: str) -> Sender:
    if channel is Channel.sms:
        return _sms(settings, client, secret)
    if channel is Channel.email:
        return _email(settings, client, secret)
    if channel is Channel.wechat:
        return WeChatSender(client, settings.wechat_webhook_url, secret)
    return ApprovalSender(client, settings.approval_webhook_url, secret)


def build_senders(settings: Settings, client: httpx.AsyncClient) -> dict[str, Sender]:
    """A sender for each enabled channel."""
    secret = settings.webhook_secret.get_secret_value()
    return {c.value: _sender(c, settings, client, secret) for c in enabled_channels(settings)}
