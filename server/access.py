"""Who may see which case: a pure rule plus the one loader every case endpoint goes through.

A case the caller may not see answers 404, exactly like a case that does not exist, so ids
cannot be probed. What a visible case allows (write a verdict, approve…) is checked by role
dependencies and the services.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from server.auth.clients import ClientScope
from server.auth.models import Role
from server.auth.principal import Principal
from server.cases.models import Case, CaseInspector
from server.errors import not_found

# States in which a reviewer or window staff have something to do with a case.
REVIEWER_STATES = frozenset({"under_review", "issued", "closed"})
WINDOW_STATES = frozenset({"issued", "closed"})


@dataclass(frozen=True, slots=True)
class CaseView:
    case: Case
    inspector_ids: tuple[str, ...]  # current (not released) inspectors, lead first

    @property
    def lead_id(self) -> str | None:
        return self.inspector_ids[0] if self.inspector_ids else None


def case_visible(
    principal: Principal, *, state: str, case_id: str, inspectors: tuple[str, ...]
) -> bool:
    if principal.kind == "applicant":
        return principal.case_id == case_id
    if principal.kind == "client":  # which endpoints: ``auth.clients.CLIENT_ENDPOINTS``
        return ClientScope.cases_read_results in principal.scopes
    match principal.role:
        case Role.admin | Role.dispatcher:
            return True
        case Role.inspector:
            return principal.id in inspectors
        case Role.reviewer:
            return state in REVIEWER_STATES
        case Role.window:
            return state in WINDOW_STATES
    return False


async def current_inspectors(session: AsyncSession, case_id: str) -> tuple[str, ...]:
    rows = await session.scalars(
        select(CaseInspector).where(
            CaseInspector.case_id == case_id, CaseInspector.released_at.is_(None)
        )
    )
    return tuple(r.staff_id for r in sorted(rows, key=lambda r: r.position != "lead"))


async def load_visible_case(session: AsyncSession, principal: Principal, case_id: str) -> CaseView:
    case = await session.get(Case, case_id)
    if case is None:
        raise not_found("该案件", "Case")
    inspectors = await current_inspectors(session, case_id)
    if not case_visible(principal, state=case.state, case_id=case.id, inspectors=inspectors):
        raise not_found("该案件", "Case")
    return CaseView(case, inspectors)
