"""E-mail over SMTP, sent to a real local SMTP server (aiosmtpd) by the outbox job.

The case is opened through the intake endpoint with an applicant e-mail address; messages are
enqueued as the services do (``notify``) and sent by ``deliver_due``. The delivery record is
read through ``GET /api/v1/cases/{id}/notifications``.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from server.config import Settings
from server.notifications.jobs import deliver_due
from server.notifications.service import configured_channels, notify
from server.notifications.templates import REMOVED
from tests.fixtures.app import Api
from tests.flows import intake_body, open_case, start_journey
from tests.notifications.smtp_server import Inbox, free_port

EMAIL = "zhangsan@example.cn"
LINK = "https://ytk.example.gov.cn/m/#t=abc123"


def smtp_settings(api: Api, port: int, **changes: Any) -> Settings:
    values: dict[str, Any] = {
        "smtp_host": "127.0.0.1",
        "smtp_port": port,
        "smtp_from": "云踏勘 <noreply@ytk.example.gov.cn>",
        "smtp_starttls": False,
        "smtp_timeout_seconds": 5,
        "outbox_max_attempts": 2,
    }
    return api.ctx.settings.model_copy(update=values | changes)


async def case_with_email(api: Api, email: str = EMAIL) -> tuple[str, str, dict[str, str]]:
    """A case opened through the intake endpoint; returns its id, number and a dispatcher."""
    journey = await start_journey(api)
    applicant = intake_body(api)["applicant"] | {"email": email}
    case = await open_case(journey, applicant=applicant)
    return case["id"], case["number"], journey.dispatcher


async def send_link(api: Api, settings: Settings, case_id: str, number: str) -> None:
    async with api.ctx.sessionmaker() as session:
        await notify(
            session,
            template="applicant_link",
            params={"case_number": number, "url": LINK, "days": 15},
            event=f"link:{case_id}",
            channels=configured_channels(settings),
            case_id=case_id,
            applicant=True,
        )
        await session.commit()


async def email_record(api: Api, case_id: str, dispatcher: dict[str, str]) -> dict[str, Any]:
    response = await api.client.get(f"/api/v1/cases/{case_id}/notifications", headers=dispatcher)
    assert response.status_code == 200, response.text
    [row] = [r for r in response.json() if r["channel"] == "email"]
    return dict(row)


async def test_the_applicant_gets_the_link_by_email(api: Api, smtp_inbox: Inbox) -> None:
    settings = smtp_settings(api, smtp_inbox.port)
    case_id, number, dispatcher = await case_with_email(api)
    await send_link(api, settings, case_id, number)

    result = await deliver_due(api.ctx.sessionmaker, settings)

    assert result.delivered == 1
    [(recipients, mail)] = smtp_inbox.messages
    assert recipients == [EMAIL]
    assert mail["To"] == EMAIL
    assert mail["Subject"] == f"云踏勘通知：案件{number} / Cloud Inspection notice: case {number}"
    text = mail.get_content()
    assert LINK in text
    assert f"案件{number}的云踏勘新链接" in text
    assert f"Your new cloud inspection link for case {number}" in text
    record = await email_record(api, case_id, dispatcher)
    assert (record["state"], record["state_zh"], record["recipient"]) == ("sent", "已发送", EMAIL)
    # the link's token left with the mail: the outbox row no longer holds a working link
    assert LINK not in record["text_zh"] + record["text_en"]
    assert REMOVED in record["text_zh"]


async def test_a_refused_recipient_fails_with_the_servers_reason(
    api: Api, smtp_inbox: Inbox
) -> None:
    smtp_inbox.refuse.add(EMAIL)
    settings = smtp_settings(api, smtp_inbox.port)
    case_id, number, dispatcher = await case_with_email(api)
    await send_link(api, settings, case_id, number)

    result = await deliver_due(api.ctx.sessionmaker, settings)

    assert (result.delivered, result.dead) == (0, 1)  # a 5xx refusal is final: no retry
    assert smtp_inbox.messages == []
    record = await email_record(api, case_id, dispatcher)
    assert record["state"] == "failed"
    assert "550" in record["last_error"]
    assert "User unknown" in record["last_error"]
    assert record["state_zh"].startswith("发送失败：")
    assert LINK not in record["text_zh"] + record["text_en"]


async def test_server_down_is_retried_then_fails(api: Api) -> None:
    settings = smtp_settings(api, free_port())  # nothing listens there
    case_id, number, dispatcher = await case_with_email(api)
    await send_link(api, settings, case_id, number)

    first = await deliver_due(api.ctx.sessionmaker, settings)

    assert first.retried == 1
    record = await email_record(api, case_id, dispatcher)
    assert (record["state"], record["attempts"]) == ("queued", 1)
    assert LINK in record["text_zh"]  # kept while it may still be sent
    assert "SMTP 连接失败" in record["last_error"]
    assert record["state_zh"].startswith("已排队（第1次发送未成功，将重试")

    later = await deliver_due(api.ctx.sessionmaker, settings, now=_after(record))

    assert later.dead == 1  # outbox_max_attempts=2
    record = await email_record(api, case_id, dispatcher)
    assert (record["state"], record["attempts"]) == ("failed", 2)


async def test_no_smtp_host_fails_the_row_with_a_readable_reason(api: Api) -> None:
    settings = smtp_settings(api, 25, smtp_host="")
    case_id, number, dispatcher = await case_with_email(api)
    await send_link(api, settings, case_id, number)

    result = await deliver_due(api.ctx.sessionmaker, settings)

    assert result.dead == 1
    record = await email_record(api, case_id, dispatcher)
    assert record["state"] == "failed"
    assert "未配置邮件服务器" in record["state_zh"]
    assert "no SMTP server is configured" in record["state_en"]


async def test_a_malformed_applicant_email_is_refused_at_intake(api: Api) -> None:
    journey = await start_journey(api)
    applicant = intake_body(api)["applicant"] | {"email": "not-an-address"}
    response = await api.client.post(
        "/api/v1/cases",
        json=intake_body(api, applicant=applicant),
        headers=journey.dispatcher,
    )
    assert response.status_code == 422, response.text


def _after(record: dict[str, Any]) -> datetime:
    return datetime.fromisoformat(record["next_attempt_at"]) + timedelta(seconds=1)
