"""The case list as SQL: one page, its total, and the page's inspectors — three statements
whatever the page size (no query per row).

Who sees which case stays the one rule in ``server.cases.access.visible_to``. The due time and
card of a case are those of its running SLA clock (``sla_clocks.active``; at most one per case);
a case without a running clock has no due time (sorted last) and counts as card ``none``.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Select, String, UnaryExpression, cast, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from server.auth.principal import Principal
from server.cases.access import CaseView, lead_first, visible_to
from server.cases.listing import CaseQuery, CaseSort
from server.cases.models import Case, CaseInspector
from server.sla.models import SlaClockRow

# The running clock of a case, joined beside it (a LEFT JOIN: cases without one stay listed).
RUNNING = SlaClockRow.__table__.alias("running_clock")
CARD = func.coalesce(RUNNING.c.card, "none")
COUNT_CAP = 10_000  # past this a list says "more than 10,000" instead of counting on


@dataclass(frozen=True, slots=True)
class ListedCase:
    view: CaseView
    due_at: datetime | None
    card: str


def _joined(statement: Select[Any]) -> Select[Any]:
    return statement.outerjoin(RUNNING, (RUNNING.c.case_id == Case.id) & RUNNING.c.active)


def conditions(principal: Principal, query: CaseQuery) -> list[ColumnElement[bool]]:
    """The WHERE clause of a list request: visibility first, then the filters and the search."""
    where: list[ColumnElement[bool]] = [visible_to(principal)]
    if query.states:
        where.append(Case.state.in_([s.value for s in query.states]))
    if query.matter is not None:  # matters is a JSON list of codes: match the quoted code
        where.append(cast(Case.matters, String).contains(f'"{query.matter}"', autoescape=True))
    if query.inspector_id is not None:
        where.append(
            Case.id.in_(
                select(CaseInspector.case_id).where(
                    CaseInspector.staff_id == query.inspector_id,
                    CaseInspector.released_at.is_(None),
                )
            )
        )
    if query.card is not None:
        where.append(CARD == query.card)
    if query.created_from is not None:
        where.append(Case.created_at >= query.created_from)
    if query.created_before is not None:
        where.append(Case.created_at < query.created_before)
    if query.q is not None:
        where.append(
            or_(
                *(
                    column.icontains(query.q, autoescape=True)
                    for column in (
                        Case.number,
                        Case.application_no,
                        Case.applicant_name,
                        Case.site_address,
                    )
                )
            )
        )
    return where


def _order(sort: CaseSort) -> tuple[UnaryExpression[Any], ...]:
    match sort:
        case CaseSort.due:
            return (RUNNING.c.due_at.asc().nulls_last(), Case.number.asc())
        case CaseSort.created:
            return (Case.created_at.asc(), Case.number.asc())
    return (Case.created_at.desc(), Case.number.desc())


async def inspectors_of(
    session: AsyncSession, case_ids: Sequence[str]
) -> dict[str, tuple[str, ...]]:
    """Current inspectors of many cases in one statement, lead first."""
    if not case_ids:
        return {}
    rows = await session.execute(
        select(CaseInspector.case_id, CaseInspector.staff_id, CaseInspector.position).where(
            CaseInspector.case_id.in_(case_ids), CaseInspector.released_at.is_(None)
        )
    )
    found: dict[str, list[tuple[str, str]]] = defaultdict(list)
    for case_id, staff_id, position in rows:
        found[case_id].append((staff_id, position))
    return {case_id: lead_first(people) for case_id, people in found.items()}


async def count_cases(session: AsyncSession, principal: Principal, query: CaseQuery) -> int:
    """How many cases match, counted up to ``COUNT_CAP + 1`` (so "more than the cap" is known
    without counting a whole large table); the running clock is joined only for a card filter."""
    matching = select(Case.id)
    if query.card is not None:
        matching = _joined(matching)
    capped = matching.where(*conditions(principal, query)).limit(COUNT_CAP + 1).subquery()
    return int(await session.scalar(select(func.count()).select_from(capped)) or 0)


async def list_cases(
    session: AsyncSession, principal: Principal, query: CaseQuery
) -> list[ListedCase]:
    """One page of the cases ``principal`` may see, filtered and ordered as asked."""
    statement = (
        _joined(select(Case, RUNNING.c.due_at, CARD))
        .where(*conditions(principal, query))
        .order_by(*_order(query.sort))
        .limit(query.limit)
        .offset(query.offset)
    )
    rows = (await session.execute(statement)).all()
    people = await inspectors_of(session, [case.id for case, _, _ in rows])
    return [
        ListedCase(CaseView(case, people.get(case.id, ())), due_at, card)
        for case, due_at, card in rows
    ]
