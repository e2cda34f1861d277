"""SMS through Alibaba Cloud (阿里云短信服务, Dysmsapi ``SendSms``, API version 2017-05-25).

Requests are signed with Alibaba Cloud's RPC signature (签名机制, SignatureVersion 1.0):
percent-encode every parameter name and value (RFC 3986: only ``A-Z a-z 0-9 - _ . ~`` stay,
space is ``%20``), sort by name, join as ``name=value`` with ``&``, and sign

    StringToSign = METHOD + "&" + encode("/") + "&" + encode(canonical query)
    Signature    = Base64(HMAC-SHA1(AccessKeySecret + "&", StringToSign))

The provider's answer is JSON ``{"Code": "OK", ...}``; other codes fail the row with the
provider's reason, except throttling and the provider's own faults, which are retried.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import uuid
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

import httpx

from server.config import Settings
from server.notifications.senders import ERROR_BODY_CHARS, DeliveryError, Outgoing
from server.notifications.templates import PREFIX_ZH

API_VERSION = "2017-05-25"
REGION = "cn-hangzhou"
# Codes worth another attempt: flow control and the provider's own trouble.
RETRYABLE_CODES = frozenset(
    {
        "isv.BUSINESS_LIMIT_CONTROL",  # 触发号码天级/小时级/分钟级流控
        "Throttling.User",
        "Throttling",
        "isp.SYSTEM_ERROR",
        "isp.GATEWAY_ERROR",
        "ServiceUnavailable",
        "InternalError",
    }
)


def percent_encode(value: str) -> str:
    """RFC 3986 encoding as the signature mechanism requires (``~`` kept, space → %20)."""
    return quote(value, safe="-_.~")


def string_to_sign(method: str, params: Mapping[str, str]) -> str:
    canonical = "&".join(
        f"{percent_encode(k)}={percent_encode(v)}" for k, v in sorted(params.items())
    )
    return f"{method.upper()}&{percent_encode('/')}&{percent_encode(canonical)}"


def signature(secret: str, method: str, params: Mapping[str, str]) -> str:
    """The ``Signature`` parameter for ``params`` (which must not contain it)."""
    key = f"{secret}&".encode()
    digest = hmac.new(key, string_to_sign(method, params).encode(), hashlib.sha1).digest()
    return base64.b64encode(digest).decode()


def template_of(settings: Settings, message: Outgoing) -> tuple[str, dict[str, str]]:
    """The provider template code and its parameters for this message."""
    code = settings.sms_template_codes.get(message.template)
    if code:
        return code, {k: str(v) for k, v in message.params.items()}
    if settings.sms_generic_template_code:
        return settings.sms_generic_template_code, {
            "content": message.text_zh.removeprefix(PREFIX_ZH)
        }
    raise DeliveryError(
        f"未配置短信模板（{message.template}）/ no SMS template code is configured for "
        f"{message.template!r} (CLOUDINSPECT_SMS_TEMPLATE_CODES or _GENERIC_TEMPLATE_CODE)",
        retryable=False,
    )


def request_params(
    settings: Settings, message: Outgoing, *, now: datetime, nonce: str
) -> dict[str, str]:
    """Every parameter of one SendSms call, signed."""
    code, template_params = template_of(settings, message)
    params = {
        "AccessKeyId": settings.sms_access_key_id,
        "Action": "SendSms",
        "Format": "JSON",
        "RegionId": REGION,
        "SignatureMethod": "HMAC-SHA1",
        "SignatureNonce": nonce,
        "SignatureVersion": "1.0",
        "Timestamp": now.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "Version": API_VERSION,
        "PhoneNumbers": message.recipient,
        "SignName": settings.sms_sign_name,
        "TemplateCode": code,
        "TemplateParam": json.dumps(template_params, ensure_ascii=False, separators=(",", ":")),
        "OutId": message.id,
    }
    secret = settings.sms_access_key_secret.get_secret_value()
    return params | {"Signature": signature(secret, "POST", params)}


def outcome(response: httpx.Response) -> None:
    """Raise unless the provider accepted the message."""
    try:
        answer: dict[str, Any] = response.json()
    except ValueError:
        answer = {}
    code = str(answer.get("Code", ""))
    if response.is_success and code == "OK":
        return
    if not code:
        snippet = response.text[:ERROR_BODY_CHARS].strip()
        retryable = response.status_code >= 500 or response.status_code in (408, 429)
        message = f"阿里云短信 HTTP {response.status_code}: {snippet}"
        raise DeliveryError(message, retryable=retryable)
    reason = str(answer.get("Message", ""))[:ERROR_BODY_CHARS]
    retryable = code in RETRYABLE_CODES or response.status_code >= 500
    raise DeliveryError(f"阿里云短信 {code}: {reason}", retryable=retryable)


class AliyunSmsSender:
    """POSTs a signed SendSms request to ``settings.sms_endpoint``."""

    def __init__(self, client: httpx.AsyncClient, settings: Settings) -> None:
        self.client = client
        self.settings = settings

    async def send(self, message: Outgoing) -> None:
        s = self.settings
        if not (s.sms_access_key_id and s.sms_access_key_secret.get_secret_value()):
            raise DeliveryError(
                "未配置阿里云短信密钥 / the Alibaba Cloud SMS access key is not configured",
                retryable=False,
            )
        if not s.sms_sign_name:
            raise DeliveryError(
                "未配置短信签名（CLOUDINSPECT_SMS_SIGN_NAME）/ no SMS sign name is configured",
                retryable=False,
            )
        params = request_params(s, message, now=datetime.now(UTC), nonce=uuid.uuid4().hex)
        try:
            response = await self.client.post(s.sms_endpoint, data=params)
        except httpx.TimeoutException as exc:
            raise DeliveryError(f"timeout: {type(exc).__name__}", retryable=True) from exc
        except httpx.TransportError as exc:
            raise DeliveryError(f"{type(exc).__name__}: {exc}", retryable=True) from exc
        outcome(response)
