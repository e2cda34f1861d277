"""Helpers for tests of the applicant's links and of how cases end."""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import select

from server.audit.models import AuditRecord
from tests.fixtures.app import Api


async def sent_to_applicant(
    api: Api, case_id: str, staff: dict[str, str], template: str
) -> list[dict[str, Any]]:
    """The case's in-app messages of ``template`` to its applicant, oldest first."""
    record = await api.client.get(f"/api/v1/cases/{case_id}/notifications", headers=staff)
    assert record.status_code == 200, record.text
    rows = [
        r
        for r in record.json()
        if r["template"] == template and r["audience"] == "applicant" and r["channel"] == "feed"
    ]
    return sorted(rows, key=lambda r: str(r["created_at"]))


def token_in(text: str) -> dict[str, str]:
    """The bearer headers of the link a message carries (``…/applicant/#<token>``)."""
    found = re.search(r"/applicant/#([A-Za-z0-9_-]+)", text)
    assert found is not None, text
    return {"Authorization": f"Bearer {found.group(1)}"}


async def audited(api: Api, case_id: str, action: str) -> list[AuditRecord]:
    async with api.ctx.sessionmaker() as session:
        rows = await session.scalars(
            select(AuditRecord)
            .where(AuditRecord.case_id == case_id, AuditRecord.action == action)
            .order_by(AuditRecord.seq)
        )
        return list(rows)
