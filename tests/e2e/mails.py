"""The applicant's mailbox in the browser tests: the outbox job sends to the local SMTP server,
the received MIME messages are parsed and read as a person would (subject, text, the link)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from email.message import EmailMessage

from server.auth.models import Staff
from server.cases.states import CaseAction, CaseState
from server.notifications.jobs import deliver_due
from tests.fixtures.app import Api
from tests.notifications.smtp_server import Inbox

LINK_LINE = re.compile(r"^链接 / Link: (\S+)$", re.MULTILINE)
URL = re.compile(r"https?://\S+")
CODES = [c.value for c in (*CaseState, *CaseAction)]


@dataclass(frozen=True)
class Mail:
    subject: str
    text: str

    def link(self) -> str:
        """The link the mail carries on its own line."""
        found = LINK_LINE.search(self.text)
        assert found, self.text
        return found.group(1)


def read(message: EmailMessage) -> Mail:
    """The plain-text part of a received message, decoded."""
    part = message.get_body(preferencelist=("plain",))
    assert part is not None, message
    content = part.get_content()
    assert isinstance(content, str)
    return Mail(str(message["Subject"]), content)


def in_words(text: str) -> bool:
    """No internal state or action name: no code at all (``rectification_requested``), and the
    Chinese paragraph (the first) holds no English code word (``assigned``); links aside."""
    words = URL.sub("", text)
    chinese = words.split("\n\n", 1)[0]
    if any(code in words for code in CODES if "_" in code):
        return False
    if any(re.search(rf"(?<![A-Za-z]){code}(?![A-Za-z])", chinese) for code in CODES):
        return False
    return "{" not in words and "None" not in words


@dataclass
class Mailbox:
    api: Api
    inbox: Inbox
    address: str
    seen: list[Mail] = field(default_factory=list)

    async def case_number(self, staff: Staff, case_id: str) -> str:
        headers = await self.api.login(staff.username)
        case = await self.api.client.get(f"/api/v1/cases/{case_id}", headers=headers)
        return str(case.json()["number"])

    async def delivered(self, case_number: str) -> list[Mail]:
        """Run the outbox job (as the scheduler would); the mails that arrived since the last
        look, each sent to the applicant alone and naming the case in its subject."""
        await deliver_due(self.api.ctx.sessionmaker, self.api.ctx.settings)
        received = self.inbox.messages[len(self.seen) :]
        mails = [read(message) for _, message in received]
        assert [to for to, _ in received] == [[self.address]] * len(received), received
        for mail in mails:
            assert f"案件{case_number}" in mail.subject, mail.subject
        self.seen += mails
        return mails
