"""Who may see which case: one rule (``visible_to``, a condition on ``Case``) used both by the
loader every case endpoint goes through and by the case list.

A case the caller may not see answers 404, exactly like a case that does not exist, so ids
cannot be probed. Which actions a visible case allows its caller is ``server.cases.permissions``
(checked by the endpoints' dependencies); the state each needs, by the services.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import ColumnElement, false, or_, select, true
from sqlalchemy.ext.asyncio import AsyncSession

from server.auth.clients import ClientScope
from server.auth.models import Role
from server.auth.principal import Principal
from server.cases.models import Case, CaseInspector
from server.cases.states import CaseState
from server.errors import not_found
from server.opinions.models import Opinion

# States in which a reviewer or window staff have something to do with a case.
REVIEWER_STATES = frozenset({CaseState.under_review, CaseState.issued, CaseState.closed})
WINDOW_STATES = frozenset({CaseState.issued, CaseState.closed})


@dataclass(frozen=True, slots=True)
class CaseView:
    case: Case
    inspector_ids: tuple[str, ...]  # current (not released) inspectors, lead first

    @property
    def lead_id(self) -> str | None:
        return self.inspector_ids[0] if self.inspector_ids else None


def visible_to(principal: Principal) -> ColumnElement[bool]:
    """Who sees which case, as a condition on ``Case``: the one rule for one case and for lists."""
    if principal.kind == "applicant":
        return Case.id == principal.case_id
    if principal.kind == "client":  # which endpoints: ``auth.clients.CLIENT_ENDPOINTS``
        if ClientScope.cases_read_results in principal.scopes:
            return true()
        if ClientScope.decisions_write in principal.scopes:  # what window staff decide on
            return Case.state.in_(WINDOW_STATES)
        return false()
    match principal.role:
        case Role.admin | Role.dispatcher | Role.head:
            return true()
        case Role.inspector:
            return Case.id.in_(
                select(CaseInspector.case_id).where(
                    CaseInspector.staff_id == principal.id, CaseInspector.released_at.is_(None)
                )
            )
        case Role.reviewer:  # and the cases they sent back, until they come back for review
            sent_back = select(Opinion.case_id).where(Opinion.reviewed_by == principal.id)
            return or_(Case.state.in_(REVIEWER_STATES), Case.id.in_(sent_back))
        case Role.window:
            return Case.state.in_(WINDOW_STATES)
    return false()


async def current_inspectors(session: AsyncSession, case_id: str) -> tuple[str, ...]:
    rows = await session.scalars(
        select(CaseInspector).where(
            CaseInspector.case_id == case_id, CaseInspector.released_at.is_(None)
        )
    )
    return lead_first((r.staff_id, r.position) for r in rows)


def lead_first(people: Iterable[tuple[str, str]]) -> tuple[str, ...]:
    """Staff ids of ``(staff_id, position)`` pairs, the lead first (the rest as given)."""
    return tuple(staff for staff, _ in sorted(people, key=lambda p: p[1] != "lead"))


async def load_visible_case(session: AsyncSession, principal: Principal, case_id: str) -> CaseView:
    """The case and its current inspectors in one statement (every case endpoint runs this)."""
    rows = (
        await session.execute(
            select(Case, CaseInspector.staff_id, CaseInspector.position)
            .outerjoin(
                CaseInspector,
                (CaseInspector.case_id == Case.id) & CaseInspector.released_at.is_(None),
            )
            .where(Case.id == case_id, visible_to(principal))
        )
    ).all()
    if not rows:
        raise not_found("该案件", "Case")
    people = [(staff, position) for _, staff, position in rows if staff is not None]
    return CaseView(rows[0][0], lead_first(people))
