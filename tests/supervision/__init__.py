"""Tests of the supervision board, ratings (好差评) and follow-ups. Shared helpers live here."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import func, select

from server.audit.models import AuditRecord
from server.audit.service import Actor
from server.cases.models import Case
from server.cases.states import TRANSITIONS, CaseAction, CaseState
from server.cases.workflow import transition
from server.platform.time import CHINA_TZ
from tests.fixtures.app import Api
from tests.test_intake import intake_body

BOARD = "/api/v1/board"
FOLLOW_UPS = "/api/v1/follow-ups"
# The main journey of an online video inspection, from intake to closing (see TRANSITIONS).
MAIN_PATH = (
    CaseAction.assign,
    CaseAction.schedule,
    CaseAction.start_inspection,
    CaseAction.conclude,
    CaseAction.submit_draft,
    CaseAction.co_sign,
    CaseAction.approve,
    CaseAction.close,
)
TEST_ACTOR = Actor.system("test")


def sh(y: int, m: int, d: int, hour: int = 0, minute: int = 0) -> datetime:
    """A moment given in Asia/Shanghai wall time, as UTC (how it is stored)."""
    return datetime(y, m, d, hour, minute, tzinfo=CHINA_TZ).astimezone(UTC)


async def open_case(
    api: Api, dispatcher: dict[str, str], number: str, **changes: object
) -> tuple[str, dict[str, str]]:
    """A case through intake, and its applicant's link headers."""
    response = await api.client.post(
        "/api/v1/cases", json=intake_body(api, number=number, **changes), headers=dispatcher
    )
    assert response.status_code == 201, response.text
    case_id: str = response.json()["id"]
    link = await api.client.post(f"/api/v1/cases/{case_id}/links", headers=dispatcher)
    assert link.status_code == 201, link.text
    return case_id, {"Authorization": f"Bearer {link.json()['token']}"}


async def move_to(api: Api, case_id: str, target: CaseState) -> None:
    """Walk the case along the main journey with the real ``transition`` until ``target``."""
    async with api.ctx.sessionmaker() as session:
        case = await session.get(Case, case_id)
        assert case is not None
        for action in MAIN_PATH:
            if case.state == target:
                break
            if (CaseState(case.state), action) in TRANSITIONS:  # already past this step
                await transition(session, TEST_ACTOR, case, action)
        assert case.state == target
        await session.commit()


async def audit_count(api: Api, action: str) -> int:
    async with api.ctx.sessionmaker() as session:
        query = select(func.count()).select_from(AuditRecord).where(AuditRecord.action == action)
        return int(await session.scalar(query) or 0)
