"""The outbox: enqueue, retry with backoff, delivery record, signing — against a real receiver.

The receiver is a real HTTP server (uvicorn on 127.0.0.1, port 0). Time moves by passing
``now`` to ``deliver_due``, never by sleeping.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import socket
from collections import Counter
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from server.auth.models import Role, Staff
from server.cases.models import Case
from server.config import Environment, Settings
from server.db import utcnow
from server.notifications.jobs import LEASE, DeliveryResult, deliver_due
from server.notifications.models import Channel, DeliveryStatus, Notification
from server.notifications.senders import verify
from server.notifications.service import configured_channels, notify
from tests.notifications.receiver import Receiver

SECRET = "test-webhook-secret"
PHONE = "13800138000"
Maker = async_sessionmaker[AsyncSession]


# --- a real HTTP receiver ------------------------------------------------------------------


# --- helpers -------------------------------------------------------------------------------


def make_settings(tmp_path: Path, url: str = "", **changes: Any) -> Settings:
    values: dict[str, Any] = {
        "environment": Environment.test,
        "data_dir": tmp_path,
        "webhook_secret": SecretStr(SECRET),
        "outbox_max_attempts": 3,
    }
    if url:
        values |= {
            "sms_webhook_url": f"{url}/sms",
            "wechat_webhook_url": f"{url}/wechat",
            "approval_webhook_url": f"{url}/approval",
        }
    return Settings(**(values | changes))


async def make_case(sessionmaker: Maker, number: str = "YTK0001") -> str:
    case = Case(
        number=number,
        application_no=f"SQ-{number}",
        intake_fingerprint="0" * 64,
        applicant_kind="company",
        applicant_name="惠民便利店有限公司",
        applicant_phone=PHONE,
        site_address="福州市鼓楼区东街88号",
        matters=["food_retail"],
        mode="online_video",
        sla_class="simple",
        state="received",
    )
    async with sessionmaker() as session:
        session.add(case)
        await session.commit()
    return case.id


async def make_staff(sessionmaker: Maker, username: str, phone: str = "") -> str:
    staff = Staff(
        username=username,
        display_name=username,
        role=Role.inspector,
        phone=phone,
        password_hash="x",
    )
    async with sessionmaker() as session:
        session.add(staff)
        await session.commit()
    return staff.id


async def enqueue(
    sessionmaker: Maker, settings: Settings, case_id: str, event: str = "assigned:1", **kw: Any
) -> list[Notification]:
    kw.setdefault("applicant", True)
    async with sessionmaker() as session:
        rows = await notify(
            session,
            template=kw.pop("template", "case_assigned"),
            params=kw.pop("params", {"case_number": "YTK0001"}),
            event=event,
            case_id=case_id,
            channels=configured_channels(settings),
            **kw,
        )
        await session.commit()
    return rows


async def rows(sessionmaker: Maker, channel: Channel | None = None) -> list[Notification]:
    query = select(Notification).order_by(Notification.created_at, Notification.channel)
    if channel is not None:
        query = query.where(Notification.channel == channel.value)
    async with sessionmaker() as session:
        return list((await session.scalars(query)).all())


async def only(sessionmaker: Maker, channel: Channel) -> Notification:
    [row] = await rows(sessionmaker, channel)
    return row


# --- enqueueing ----------------------------------------------------------------------------


async def test_only_the_feed_when_no_sender_is_configured(
    sessionmaker: Maker, tmp_path: Path
) -> None:
    settings = make_settings(tmp_path)
    case_id = await make_case(sessionmaker)
    await enqueue(sessionmaker, settings, case_id, roles=[Role.window])
    stored = await rows(sessionmaker)
    assert {(r.audience, r.channel) for r in stored} == {("applicant", "feed"), ("role", "feed")}
    # in-app only: nothing was sent, so nothing is "delivered"
    assert all(r.status == DeliveryStatus.in_app and r.delivered_at is None for r in stored)
    assert stored[0].text_zh.startswith("【云踏勘】")
    assert "YTK0001" in stored[0].text_en
    assert await deliver_due(sessionmaker, settings) == DeliveryResult()


async def test_each_configured_channel_gets_a_row_per_reachable_recipient(
    sessionmaker: Maker, tmp_path: Path, receiver: Receiver
) -> None:
    settings = make_settings(tmp_path, receiver.url)
    case_id = await make_case(sessionmaker)
    with_phone = await make_staff(sessionmaker, "inspector1", "13900139000")
    without_phone = await make_staff(sessionmaker, "inspector2")
    await enqueue(sessionmaker, settings, case_id, staff_ids=[with_phone, without_phone])
    stored = {(r.audience, r.recipient, r.channel) for r in await rows(sessionmaker)}
    assert stored == {
        ("applicant", PHONE, "feed"),
        ("applicant", PHONE, "sms"),
        ("applicant", PHONE, "wechat"),
        ("staff", with_phone, "feed"),
        ("staff", "13900139000", "sms"),
        ("staff", "13900139000", "wechat"),
        ("staff", without_phone, "feed"),
    }
    assert await deliver_due(sessionmaker, settings, utcnow()) == DeliveryResult(delivered=4)
    sms = sorted(json.loads(r.body)["to"] for r in receiver.on("/sms"))
    assert sms == ["13800138000", "13900139000"]
    body = json.loads(receiver.on("/wechat")[0].body)
    assert body["template"] == "case_assigned"
    assert body["params"] == {"case_number": "YTK0001"}
    assert body["text_zh"].startswith("【云踏勘】")
    assert body["text_en"]


async def test_the_same_event_is_enqueued_once(
    sessionmaker: Maker, tmp_path: Path, receiver: Receiver
) -> None:
    settings = make_settings(tmp_path, receiver.url)
    case_id = await make_case(sessionmaker)
    first = await enqueue(sessionmaker, settings, case_id)
    again = await enqueue(sessionmaker, settings, case_id)
    assert (len(first), again) == (3, [])
    assert len(await rows(sessionmaker)) == 3
    other = await enqueue(sessionmaker, settings, case_id, event="assigned:2")
    assert len(other) == 3


async def test_missing_template_parameter_enqueues_nothing(
    sessionmaker: Maker, tmp_path: Path
) -> None:
    case_id = await make_case(sessionmaker)
    with pytest.raises(ValueError, match="case_number"):
        await enqueue(sessionmaker, make_settings(tmp_path), case_id, params={})
    assert await rows(sessionmaker) == []


# --- delivery ------------------------------------------------------------------------------


async def test_failed_sends_are_retried_with_backoff_and_the_delivery_recorded(
    sessionmaker: Maker, tmp_path: Path, receiver: Receiver
) -> None:
    settings = make_settings(tmp_path, sms_webhook_url=f"{receiver.url}/sms", outbox_max_attempts=5)
    receiver.fail_first = 2
    await enqueue(sessionmaker, settings, await make_case(sessionmaker))
    t0 = utcnow()

    assert await deliver_due(sessionmaker, settings, t0) == DeliveryResult(retried=1)
    row = await only(sessionmaker, Channel.sms)
    assert (row.status, row.attempts, row.delivered_at) == ("pending", 1, None)
    assert row.last_error.startswith("HTTP 503")
    assert row.next_attempt_at is not None
    assert t0 + timedelta(seconds=8) <= row.next_attempt_at <= t0 + timedelta(seconds=10)

    assert await deliver_due(sessionmaker, settings, t0 + timedelta(seconds=7)) == DeliveryResult()
    t1 = t0 + timedelta(seconds=10)
    assert await deliver_due(sessionmaker, settings, t1) == DeliveryResult(retried=1)
    row = await only(sessionmaker, Channel.sms)
    assert row.attempts == 2
    assert row.next_attempt_at is not None
    assert t1 + timedelta(seconds=16) <= row.next_attempt_at <= t1 + timedelta(seconds=20)

    t2 = t1 + timedelta(seconds=20)
    assert await deliver_due(sessionmaker, settings, t2) == DeliveryResult(delivered=1)
    row = await only(sessionmaker, Channel.sms)
    assert (row.status, row.attempts, row.delivered_at) == ("delivered", 3, t2)
    assert (row.last_error, row.next_attempt_at) == ("", None)
    assert len(receiver.requests) == 3
    assert len({r.headers["idempotency-key"] for r in receiver.requests}) == 1


async def test_a_client_error_is_dead_without_retry(
    sessionmaker: Maker, tmp_path: Path, receiver: Receiver
) -> None:
    settings = make_settings(tmp_path, sms_webhook_url=f"{receiver.url}/sms")
    receiver.fail_first, receiver.fail_status = 100, 400
    await enqueue(sessionmaker, settings, await make_case(sessionmaker))
    assert await deliver_due(sessionmaker, settings, utcnow()) == DeliveryResult(dead=1)
    row = await only(sessionmaker, Channel.sms)
    assert (row.status, row.attempts, row.next_attempt_at) == ("failed", 1, None)
    assert row.last_error.startswith("HTTP 400")
    later = utcnow() + timedelta(days=1)
    assert await deliver_due(sessionmaker, settings, later) == DeliveryResult()
    assert len(receiver.requests) == 1


@pytest.mark.parametrize("status", [429, 408, 500])
async def test_throttling_and_server_errors_are_retryable(
    sessionmaker: Maker, tmp_path: Path, receiver: Receiver, status: int
) -> None:
    settings = make_settings(tmp_path, sms_webhook_url=f"{receiver.url}/sms")
    receiver.fail_first, receiver.fail_status = 1, status
    await enqueue(sessionmaker, settings, await make_case(sessionmaker))
    assert await deliver_due(sessionmaker, settings, utcnow()) == DeliveryResult(retried=1)


async def test_dead_after_the_last_allowed_attempt(
    sessionmaker: Maker, tmp_path: Path, receiver: Receiver
) -> None:
    settings = make_settings(tmp_path, sms_webhook_url=f"{receiver.url}/sms")
    receiver.fail_first = 100
    await enqueue(sessionmaker, settings, await make_case(sessionmaker))
    now, results = utcnow(), []
    for _ in range(4):
        results.append(await deliver_due(sessionmaker, settings, now))
        now += timedelta(hours=1)
    assert results == [
        DeliveryResult(retried=1),
        DeliveryResult(retried=1),
        DeliveryResult(dead=1),
        DeliveryResult(),
    ]
    row = await only(sessionmaker, Channel.sms)
    assert (row.status, row.attempts, row.next_attempt_at) == ("failed", 3, None)
    assert len(receiver.requests) == 3


async def test_an_unreachable_receiver_is_retried(sessionmaker: Maker, tmp_path: Path) -> None:
    with socket.socket() as sock:  # a port nothing listens on once closed
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    settings = make_settings(tmp_path, sms_webhook_url=f"http://127.0.0.1:{port}/sms")
    await enqueue(sessionmaker, settings, await make_case(sessionmaker))
    assert await deliver_due(sessionmaker, settings, utcnow()) == DeliveryResult(retried=1)
    row = await only(sessionmaker, Channel.sms)
    assert row.status == "pending"
    assert "Connect" in row.last_error


# --- the approval system's webhook ----------------------------------------------------------


def _expected_signature(header: str, body: bytes) -> bool:
    parts = dict(p.split("=", 1) for p in header.split(","))
    signed = parts["t"].encode() + b"." + body
    mac = hmac.new(SECRET.encode(), signed, hashlib.sha256).hexdigest()
    return hmac.compare_digest(mac, parts["v1"])


async def test_approval_webhook_is_signed_and_keeps_its_idempotency_key_across_retries(
    sessionmaker: Maker, tmp_path: Path, receiver: Receiver
) -> None:
    settings = make_settings(tmp_path, approval_webhook_url=f"{receiver.url}/approval")
    receiver.fail_first = 1
    case_id = await make_case(sessionmaker)
    opinion = {"case_number": "YTK0001", "conclusion": "pass", "说明": "符合要求"}
    await enqueue(
        sessionmaker,
        settings,
        case_id,
        event="opinion_issued:op1",
        template="opinion_issued_window",
        params={
            "case_number": "YTK0001",
            "applicant_name": "惠民便利店有限公司",
            "conclusion_zh": "通过",
            "conclusion_en": "passed",
        },
        applicant=False,
        roles=[Role.window],
        webhook=opinion,
    )
    row = await only(sessionmaker, Channel.approval_system)
    now = utcnow()
    assert await deliver_due(sessionmaker, settings, now) == DeliveryResult(retried=1)
    later = now + timedelta(seconds=10)
    assert await deliver_due(sessionmaker, settings, later) == DeliveryResult(delivered=1)

    first, second = receiver.on("/approval")
    assert first.headers["idempotency-key"] == second.headers["idempotency-key"] == row.id
    for request in (first, second):
        assert json.loads(request.body) == opinion
        header = request.headers["x-cloudinspect-signature"]
        assert _expected_signature(header, request.body)
        assert verify(SECRET, header, request.body)
        assert not verify("another-secret", header, request.body)
        assert not verify(SECRET, header, request.body + b" ")


async def test_approval_webhook_is_never_sent_unsigned(
    sessionmaker: Maker, tmp_path: Path, receiver: Receiver
) -> None:
    settings = make_settings(
        tmp_path, approval_webhook_url=f"{receiver.url}/approval", webhook_secret=SecretStr("")
    )
    await enqueue(sessionmaker, settings, await make_case(sessionmaker), webhook={"a": 1})
    assert await deliver_due(sessionmaker, settings, utcnow()) == DeliveryResult(dead=1)
    row = await only(sessionmaker, Channel.approval_system)
    assert "WEBHOOK_SECRET" in row.last_error
    assert receiver.requests == []


# --- several workers -----------------------------------------------------------------------


async def _drain(sessionmaker: Maker, settings: Settings) -> DeliveryResult:
    total = DeliveryResult()
    while (result := await deliver_due(sessionmaker, settings, utcnow(), batch=4)) != (
        DeliveryResult()
    ):
        total += result
    return total


async def test_two_workers_send_each_row_once(
    sessionmaker: Maker, tmp_path: Path, receiver: Receiver
) -> None:
    settings = make_settings(tmp_path, sms_webhook_url=f"{receiver.url}/sms")
    case_id = await make_case(sessionmaker)
    for i in range(24):
        await enqueue(sessionmaker, settings, case_id, event=f"reminder:{i}")
    first, second = await asyncio.gather(
        _drain(sessionmaker, settings), _drain(sessionmaker, settings)
    )
    assert first.delivered + second.delivered == 24
    keys = Counter(r.headers["idempotency-key"] for r in receiver.requests)
    assert len(keys) == 24
    assert set(keys.values()) == {1}
    assert {r.status for r in await rows(sessionmaker, Channel.sms)} == {"delivered"}


async def test_a_row_left_sending_by_a_dead_worker_is_sent_after_the_lease(
    sessionmaker: Maker, tmp_path: Path, receiver: Receiver
) -> None:
    settings = make_settings(tmp_path, sms_webhook_url=f"{receiver.url}/sms")
    await enqueue(sessionmaker, settings, await make_case(sessionmaker))
    crashed_at = utcnow()
    async with sessionmaker() as session:  # what a worker that died after claiming leaves
        await session.execute(
            update(Notification)
            .where(Notification.channel == "sms")
            .values(status="sending", claim="dead-worker", attempts=1, next_attempt_at=crashed_at)
        )
        await session.commit()
    assert await deliver_due(sessionmaker, settings, crashed_at - LEASE / 2) == DeliveryResult()
    assert await deliver_due(sessionmaker, settings, crashed_at) == DeliveryResult(delivered=1)
    row = await only(sessionmaker, Channel.sms)
    assert (row.status, row.attempts, len(receiver.requests)) == ("delivered", 2, 1)


async def test_a_lease_expired_on_the_last_attempt_is_dead(
    sessionmaker: Maker, tmp_path: Path, receiver: Receiver
) -> None:
    settings = make_settings(tmp_path, sms_webhook_url=f"{receiver.url}/sms")
    await enqueue(sessionmaker, settings, await make_case(sessionmaker))
    now = utcnow()
    async with sessionmaker() as session:
        await session.execute(
            update(Notification)
            .where(Notification.channel == "sms")
            .values(status="sending", claim="dead-worker", attempts=3, next_attempt_at=now)
        )
        await session.commit()
    assert await deliver_due(sessionmaker, settings, now) == DeliveryResult(dead=1)
    assert (await only(sessionmaker, Channel.sms)).status == "failed"
    assert receiver.requests == []


async def test_count_of_rows_is_unchanged_by_delivery(
    sessionmaker: Maker, tmp_path: Path, receiver: Receiver
) -> None:
    settings = make_settings(tmp_path, receiver.url)
    await enqueue(sessionmaker, settings, await make_case(sessionmaker))
    await deliver_due(sessionmaker, settings, utcnow())
    async with sessionmaker() as session:
        assert await session.scalar(select(func.count()).select_from(Notification)) == 3
