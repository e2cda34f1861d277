"""E-mail over SMTP (stdlib ``smtplib`` in a worker thread, so the event loop stays free).

The message has a UTF-8 subject naming the case, the Chinese text, the English text, and the
case link when the message carries one (``params["url"]``). SMTP outcomes map to the outbox's
retry rules: a 4xx reply, a timeout or a refused connection is tried again later; a 5xx reply
(unknown recipient, refused sender, bad login) or missing configuration fails the row with the
server's reason.
"""

from __future__ import annotations

import asyncio
import smtplib
import ssl
from email.message import EmailMessage
from email.utils import make_msgid

from server.config import Settings
from server.notifications.senders import DeliveryError, Outgoing
from server.notifications.templates import PREFIX_EN, PREFIX_ZH

SUBJECT_ZH = "云踏勘通知"
SUBJECT_EN = "Cloud Inspection notice"


def subject(message: Outgoing) -> str:
    number = message.params.get("case_number")
    if number:
        return f"{SUBJECT_ZH}：案件{number} / {SUBJECT_EN}: case {number}"
    return f"{SUBJECT_ZH} / {SUBJECT_EN}"


def body(message: Outgoing) -> str:
    lines = [message.text_zh.removeprefix(PREFIX_ZH), "", message.text_en.removeprefix(PREFIX_EN)]
    url = message.params.get("url")
    if url:
        lines += ["", f"链接 / Link: {url}"]
    lines += ["", "—— 云踏勘 / Cloud Inspection（本邮件由系统自动发送，请勿回复）"]
    return "\n".join(lines) + "\n"


def compose(message: Outgoing, sender: str) -> EmailMessage:
    mail = EmailMessage()
    mail["From"] = sender
    mail["To"] = message.recipient
    mail["Subject"] = subject(message)
    # The outbox row id: the same on every retry, so a duplicate can be recognised.
    mail["Message-ID"] = make_msgid(idstring=message.id, domain="cloudinspect")
    mail.set_content(body(message), charset="utf-8")
    return mail


def _reply(code: int, text: bytes | str) -> str:
    reason = text.decode(errors="replace") if isinstance(text, bytes) else text
    return f"SMTP {code}: {reason}".strip()


def _error(exc: Exception) -> DeliveryError:
    """The outbox's view of an SMTP failure."""
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        code, text = next(iter(exc.recipients.values()))
        return DeliveryError(f"收件人被拒绝 {_reply(code, text)}", retryable=400 <= code < 500)
    if isinstance(exc, smtplib.SMTPAuthenticationError):
        reply = _reply(exc.smtp_code, exc.smtp_error)
        return DeliveryError(f"SMTP 登录失败 {reply}", retryable=False)
    if isinstance(exc, smtplib.SMTPResponseException):
        code = exc.smtp_code
        return DeliveryError(_reply(code, exc.smtp_error), retryable=not 500 <= code < 600)
    if isinstance(exc, smtplib.SMTPNotSupportedError):
        return DeliveryError(f"SMTP 服务器不支持: {exc}", retryable=False)
    # connection refused or dropped, timeouts, TLS trouble: the server may be back later
    return DeliveryError(f"SMTP 连接失败 {type(exc).__name__}: {exc}", retryable=True)


class SmtpEmailSender:
    """Sends one e-mail per outbox row through the configured SMTP server."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    def _deliver(self, mail: EmailMessage) -> None:
        s = self.settings
        with smtplib.SMTP(s.smtp_host, s.smtp_port, timeout=s.smtp_timeout_seconds) as smtp:
            smtp.ehlo()
            if s.smtp_starttls:
                smtp.starttls(context=ssl.create_default_context())
                smtp.ehlo()
            if s.smtp_username:
                smtp.login(s.smtp_username, s.smtp_password.get_secret_value())
            smtp.send_message(mail)

    async def send(self, message: Outgoing) -> None:
        if not self.settings.smtp_host:
            raise DeliveryError(
                "未配置邮件服务器（CLOUDINSPECT_SMTP_HOST）/ no SMTP server is configured",
                retryable=False,
            )
        if "@" not in message.recipient:
            raise DeliveryError(
                f"邮箱地址无效 / not an e-mail address: {message.recipient!r}", retryable=False
            )
        mail = compose(message, self.settings.smtp_from)
        try:
            await asyncio.to_thread(self._deliver, mail)
        except (smtplib.SMTPException, OSError) as exc:
            raise _error(exc) from exc
