"""Alibaba Cloud SMS (SendSms): the RPC signature against the provider's published example, and
the sender against a real local HTTP endpoint that checks the signature by recomputing it."""

from __future__ import annotations

import asyncio
import json
import socket
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import parse_qsl

import pytest
import uvicorn
from pydantic import SecretStr

from server.config import Settings
from server.notifications.jobs import deliver_due
from server.notifications.service import configured_channels, notify
from server.notifications.sms_aliyun import percent_encode, signature, string_to_sign
from tests.fixtures.app import Api
from tests.flows import open_case, start_journey

# The worked example of Alibaba Cloud's "签名机制" (signature mechanism) page for RPC APIs:
# DescribeRegions with AccessKeyId "testid" and AccessKeySecret "testsecret".
PUBLISHED_PARAMS = {
    "AccessKeyId": "testid",
    "Action": "DescribeRegions",
    "Format": "XML",
    "SignatureMethod": "HMAC-SHA1",
    "SignatureNonce": "3ee8c1b8-83d3-44af-a94f-4e0ad82fd6cf",
    "SignatureVersion": "1.0",
    "TimeStamp": "2016-02-23T12:46:24Z",
    "Version": "2014-05-26",
}
PUBLISHED_STRING_TO_SIGN = (
    "GET&%2F&AccessKeyId%3Dtestid%26Action%3DDescribeRegions%26Format%3DXML"
    "%26SignatureMethod%3DHMAC-SHA1%26SignatureNonce%3D3ee8c1b8-83d3-44af-a94f-4e0ad82fd6cf"
    "%26SignatureVersion%3D1.0%26TimeStamp%3D2016-02-23T12%253A46%253A24Z%26Version%3D2014-05-26"
)
PUBLISHED_SIGNATURE = "CT9X0VtwR86fNWSnsc6v8YGOjuE="
KEY_ID, KEY_SECRET = "LTAI-test-id", "test-key-secret"


def test_string_to_sign_matches_the_published_example() -> None:
    assert string_to_sign("GET", PUBLISHED_PARAMS) == PUBLISHED_STRING_TO_SIGN


def test_signature_matches_the_published_example() -> None:
    assert signature("testsecret", "GET", PUBLISHED_PARAMS) == PUBLISHED_SIGNATURE


def test_percent_encoding_follows_rfc_3986() -> None:
    assert percent_encode("a b*c~d") == "a%20b%2Ac~d"
    assert percent_encode("云踏勘") == "%E4%BA%91%E8%B8%8F%E5%8B%98"
    assert percent_encode("-_.") == "-_."


# --- the sender against a local endpoint ---------------------------------------------------


@dataclass
class Provider:
    """Recomputes the signature of every request; answers ``code`` once it is valid."""

    codes: list[str] = field(default_factory=lambda: ["OK"])
    url: str = ""
    seen: list[dict[str, str]] = field(default_factory=list)

    def answer(self, params: dict[str, str]) -> tuple[int, dict[str, Any]]:
        claimed = params.pop("Signature", "")
        if claimed != signature(KEY_SECRET, "POST", params):
            mismatch = "Specified signature is not matched with our calculation."
            return 400, {"Code": "SignatureDoesNotMatch", "Message": mismatch}
        self.seen.append(params)
        code = self.codes.pop(0) if len(self.codes) > 1 else self.codes[0]
        reason = "OK" if code == "OK" else f"{code} reason"
        return 200, {"Code": code, "Message": reason, "RequestId": "r1"}

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        body, more = b"", True
        while more:
            message = await receive()
            body += message.get("body", b"")
            more = message.get("more_body", False)
        status, answer = self.answer(dict(parse_qsl(body.decode())))
        headers = [(b"content-type", b"application/json")]
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": json.dumps(answer).encode()})


@pytest.fixture
async def provider() -> AsyncIterator[Provider]:
    provider = Provider()
    config = uvicorn.Config(provider, lifespan="off", ws="none", log_level="warning")
    server = uvicorn.Server(config)
    with socket.create_server(("127.0.0.1", 0)) as sock:
        provider.url = f"http://127.0.0.1:{sock.getsockname()[1]}/"
        task = asyncio.create_task(server.serve(sockets=[sock]))
        try:
            yield provider
        finally:
            server.should_exit = True
            await task


def sms_settings(api: Api, url: str, **changes: Any) -> Settings:
    values: dict[str, Any] = {
        "sms_provider": "aliyun",
        "sms_endpoint": url,
        "sms_access_key_id": KEY_ID,
        "sms_access_key_secret": SecretStr(KEY_SECRET),
        "sms_sign_name": "云踏勘",
        "sms_template_codes": {"appointment_reminder": "SMS_100001"},
        "sms_generic_template_code": "SMS_100000",
        "outbox_max_attempts": 3,
    }
    return api.ctx.settings.model_copy(update=values | changes)


async def enqueue(
    api: Api, settings: Settings, template: str, params: dict[str, Any]
) -> tuple[str, dict[str, str]]:
    """A case opened through intake, and one message to its applicant; the dispatcher's
    headers read the delivery record."""
    journey = await start_journey(api)
    case = await open_case(journey)
    async with api.ctx.sessionmaker() as session:
        await notify(
            session,
            template=template,
            params={"case_number": case["number"]} | params,
            event=f"test:{template}",
            channels=configured_channels(settings),
            case_id=case["id"],
            applicant=True,
        )
        await session.commit()
    return str(case["id"]), journey.dispatcher


async def sms_record(api: Api, case_id: str, dispatcher: dict[str, str]) -> dict[str, Any]:
    response = await api.client.get(f"/api/v1/cases/{case_id}/notifications", headers=dispatcher)
    assert response.status_code == 200, response.text
    [row] = [r for r in response.json() if r["channel"] == "sms"]
    return dict(row)


async def test_a_signed_send_sms_with_the_templates_code(api: Api, provider: Provider) -> None:
    settings = sms_settings(api, provider.url)
    case_id, dispatcher = await enqueue(
        api, settings, "appointment_reminder", {"time": "2026-12-08 10:00"}
    )

    result = await deliver_due(api.ctx.sessionmaker, settings)

    assert result.delivered == 1
    [sent] = provider.seen
    assert (sent["Action"], sent["Version"], sent["AccessKeyId"]) == (
        "SendSms",
        "2017-05-25",
        KEY_ID,
    )
    assert (sent["PhoneNumbers"], sent["SignName"], sent["TemplateCode"]) == (
        "13800138000",
        "云踏勘",
        "SMS_100001",
    )
    assert json.loads(sent["TemplateParam"])["time"] == "2026-12-08 10:00"
    record = await sms_record(api, case_id, dispatcher)
    assert (record["state"], record["state_zh"], sent["OutId"]) == ("sent", "已发送", record["id"])


async def test_other_messages_use_the_generic_template(api: Api, provider: Provider) -> None:
    settings = sms_settings(api, provider.url)
    await enqueue(api, settings, "case_assigned", {})

    await deliver_due(api.ctx.sessionmaker, settings)

    [sent] = provider.seen
    assert sent["TemplateCode"] == "SMS_100000"
    content = json.loads(sent["TemplateParam"])["content"]
    assert content.startswith("您好，您的踏勘申请")  # the sign name stands for 【云踏勘】


async def test_a_wrong_secret_fails_with_the_providers_reason(api: Api, provider: Provider) -> None:
    settings = sms_settings(api, provider.url, sms_access_key_secret=SecretStr("wrong"))
    case_id, dispatcher = await enqueue(api, settings, "case_assigned", {})

    result = await deliver_due(api.ctx.sessionmaker, settings)

    assert result.dead == 1
    record = await sms_record(api, case_id, dispatcher)
    assert record["state"] == "failed"
    assert "SignatureDoesNotMatch" in record["state_zh"]


async def test_flow_control_is_retried_then_sent(api: Api, provider: Provider) -> None:
    provider.codes = ["isv.BUSINESS_LIMIT_CONTROL", "OK"]
    settings = sms_settings(api, provider.url)
    case_id, dispatcher = await enqueue(api, settings, "case_assigned", {})

    first = await deliver_due(api.ctx.sessionmaker, settings)

    assert first.retried == 1
    record = await sms_record(api, case_id, dispatcher)
    assert record["state"] == "queued"
    assert "isv.BUSINESS_LIMIT_CONTROL" in record["last_error"]
    later = datetime.fromisoformat(record["next_attempt_at"]) + timedelta(seconds=1)
    second = await deliver_due(api.ctx.sessionmaker, settings, now=later)
    assert second.delivered == 1
    assert (await sms_record(api, case_id, dispatcher))["state"] == "sent"


async def test_a_rejected_number_fails_at_once(api: Api, provider: Provider) -> None:
    provider.codes = ["isv.MOBILE_NUMBER_ILLEGAL"]
    settings = sms_settings(api, provider.url)
    case_id, dispatcher = await enqueue(api, settings, "case_assigned", {})

    result = await deliver_due(api.ctx.sessionmaker, settings)

    assert result.dead == 1
    record = await sms_record(api, case_id, dispatcher)
    reason = "阿里云短信 isv.MOBILE_NUMBER_ILLEGAL: isv.MOBILE_NUMBER_ILLEGAL reason"
    assert record["state_zh"] == f"发送失败：{reason}"


async def test_no_template_code_fails_readably(api: Api, provider: Provider) -> None:
    settings = sms_settings(api, provider.url, sms_generic_template_code="")
    case_id, dispatcher = await enqueue(api, settings, "case_assigned", {})

    await deliver_due(api.ctx.sessionmaker, settings)

    record = await sms_record(api, case_id, dispatcher)
    assert record["state"] == "failed"
    assert "未配置短信模板" in record["state_zh"]
    assert provider.seen == []
