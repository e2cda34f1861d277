"""One sender per external channel; each POSTs JSON to the URL it is configured with.

    DeliveryError(retryable=True)    5xx, 408, 429, timeouts, connection errors: try again later
    DeliveryError(retryable=False)   other 4xx, redirects, missing configuration: give up

Every request carries ``Idempotency-Key: <outbox row id>``, the same on every retry, so a
receiver can drop duplicates. When ``webhook_secret`` is set, requests are signed:
``X-CloudInspect-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>">``; the
approval system's webhook is never sent unsigned.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

import httpx

SIGNATURE_HEADER = "X-CloudInspect-Signature"
IDEMPOTENCY_HEADER = "Idempotency-Key"
EVENT_HEADER = "X-CloudInspect-Event"
RETRYABLE_STATUS = frozenset({408, 425, 429})
ERROR_BODY_CHARS = 200
SIGNATURE_TOLERANCE_SECONDS = 300


class DeliveryError(Exception):
    """A send failed; ``retryable`` says whether a later attempt may succeed."""

    def __init__(self, message: str, *, retryable: bool) -> None:
        super().__init__(message)
        self.retryable = retryable


@dataclass(frozen=True, slots=True)
class Outgoing:
    """What a worker claimed from the outbox: enough to send, detached from the session."""

    id: str
    channel: str
    recipient: str
    template: str
    params: dict[str, Any]
    text_zh: str
    text_en: str
    body: dict[str, Any] | None
    attempts: int
    claim: str


class Sender(Protocol):
    async def send(self, message: Outgoing) -> None: ...


def encode(body: Mapping[str, Any]) -> bytes:
    return json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()


def sign(secret: str, body: bytes, timestamp: int) -> str:
    """The signature header value for ``body`` sent at ``timestamp``."""
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"t={timestamp},v1={mac.hexdigest()}"


def verify(
    secret: str,
    header: str,
    body: bytes,
    *,
    now: float | None = None,
    tolerance: int = SIGNATURE_TOLERANCE_SECONDS,
) -> bool:
    """What a receiver checks: the HMAC matches and the timestamp is recent."""
    parts = dict(p.split("=", 1) for p in header.split(",") if "=" in p)
    try:
        timestamp = int(parts["t"])
    except (KeyError, ValueError):
        return False
    if abs((time.time() if now is None else now) - timestamp) > tolerance:
        return False
    expected = sign(secret, body, timestamp).rsplit("v1=", 1)[1]
    return hmac.compare_digest(expected, parts.get("v1", ""))


def classify(response: httpx.Response) -> None:
    """Raise for a response that is not a success."""
    if response.is_success:
        return
    status = response.status_code
    retryable = status >= 500 or status in RETRYABLE_STATUS
    snippet = response.text[:ERROR_BODY_CHARS].strip()
    message = f"HTTP {status}: {snippet}" if snippet else f"HTTP {status}"
    raise DeliveryError(message, retryable=retryable)


class WebhookSender:
    """POST a JSON body to one URL, signed when a secret is set."""

    def __init__(self, client: httpx.AsyncClient, url: str, secret: str) -> None:
        self.client = client
        self.url = url
        self.secret = secret

    def payload(self, message: Outgoing) -> Mapping[str, Any]:
        raise NotImplementedError

    def headers(self, message: Outgoing, body: bytes) -> dict[str, str]:
        headers = {
            "Content-Type": "application/json; charset=utf-8",
            IDEMPOTENCY_HEADER: message.id,
            EVENT_HEADER: message.template,
        }
        if self.secret:
            headers[SIGNATURE_HEADER] = sign(self.secret, body, int(time.time()))
        return headers

    async def send(self, message: Outgoing) -> None:
        body = encode(self.payload(message))
        try:
            response = await self.client.post(
                self.url, content=body, headers=self.headers(message, body)
            )
        except httpx.TimeoutException as exc:
            raise DeliveryError(f"timeout: {type(exc).__name__}", retryable=True) from exc
        except httpx.TransportError as exc:
            raise DeliveryError(f"{type(exc).__name__}: {exc}", retryable=True) from exc
        classify(response)


class GatewaySender(WebhookSender):
    """A message gateway configured by URL: it gets the recipient and both texts."""

    def payload(self, message: Outgoing) -> Mapping[str, Any]:
        return {
            "to": message.recipient,
            "template": message.template,
            "params": message.params,
            "text_zh": message.text_zh,
            "text_en": message.text_en,
        }


class SmsSender(GatewaySender):
    """SMS gateway (短信网关); ``to`` is a phone number."""


class WeChatSender(GatewaySender):
    """WeChat template-message gateway (微信模板消息); ``to`` is the phone it maps to an openid."""


class EmailGatewaySender(GatewaySender):
    """An HTTP e-mail gateway (used when no SMTP server is set); ``to`` is an e-mail address."""


class ApprovalSender(WebhookSender):
    """The approval system's webhook: the row's JSON body, always HMAC-signed."""

    def payload(self, message: Outgoing) -> Mapping[str, Any]:
        return message.body or {}

    async def send(self, message: Outgoing) -> None:
        if not self.secret:
            raise DeliveryError(
                "CLOUDINSPECT_WEBHOOK_SECRET is not set; refusing to send an unsigned webhook",
                retryable=False,
            )
        await super().send(message)
