"""Supervision orders (督办单): a red card opens one, addressed to the department head.

* opened by the SLA tick's red card (``open_for_red_card``, inside the tick's transaction),
  once per clock (a unique clock id), the head notified;
* the person responsible — the case's lead inspector — records why the case ran over;
* the head (or an admin) answers with the measures taken, which closes the order;
* unanswered after ``supervision_order_answer_days`` working days it escalates one level
  (``escalate_due``, a job), and again every as many working days, each level notified.

The department head is the role ``head`` (科室负责人); escalations go to the ``admin`` role, the
bureau's level above the department in this system. Services only flush, and audit.
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime
from typing import Literal

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from server.audit.service import Actor, append
from server.auth.models import Role
from server.auth.principal import Principal
from server.cases.access import current_inspectors
from server.cases.models import Case
from server.errors import Conflict, Forbidden, not_found
from server.notifications.models import Channel
from server.notifications.service import notify
from server.oversight import repository as repo
from server.oversight.models import SupervisionOrder
from server.oversight.schemas import OrderOut, order_out
from server.platform.time import shanghai_time
from server.sla.calendar import Allowance, WorkCalendar
from server.sla.clock import Card
from server.sla.jobs import CardRaised
from server.sla.service import load_calendar

SYSTEM = Actor.system("oversight")
HEAD_ROLES = (Role.head, Role.admin)  # who answers an order
# Who hears of an order at each level: the head first, then the level above.
LEVEL_ROLES: tuple[tuple[str, ...], ...] = ((Role.head.value,), (Role.admin.value,))
ORDER_LIMIT = 500


def escalation_due(calendar: WorkCalendar, since: datetime, days: int) -> datetime:
    return calendar.add_working_time(since, Allowance.working_days(days)).due_utc


def level_roles(level: int) -> tuple[str, ...]:
    return LEVEL_ROLES[min(level, len(LEVEL_ROLES) - 1)]


async def open_for_red_card(
    session: AsyncSession,
    raised: CardRaised,
    *,
    answer_days: int,
    channels: Collection[Channel],
) -> SupervisionOrder | None:
    """Open the clock's order on its red card (a second call finds the first order)."""
    if raised.card is not Card.red:
        return None
    found = await session.scalar(
        select(SupervisionOrder).where(SupervisionOrder.clock_id == raised.clock_id)
    )
    case = await session.get(Case, raised.case_id)
    if found is not None or case is None:
        return found
    inspectors = await current_inspectors(session, case.id)
    calendar = await load_calendar(session)
    order = SupervisionOrder(
        case_id=case.id,
        clock_id=raised.clock_id,
        status="open",
        due_at=raised.due_at,
        opened_at=raised.at,
        responsible_id=inspectors[0] if inspectors else "",
        level=0,
        next_escalation_at=escalation_due(calendar, raised.at, answer_days),
    )
    session.add(order)
    await session.flush()
    await append(
        session,
        SYSTEM,
        "supervision.order_opened",
        case_id=case.id,
        detail={"order": order.id, "clock": raised.clock_id, "responsible": order.responsible_id},
    )
    due = shanghai_time(raised.due_at) if raised.due_at else "-"
    await notify(
        session,
        template="supervision_order",
        params={"case_number": case.number, "due": due},
        event=f"supervision_order:{order.id}",
        channels=channels,
        case_id=case.id,
        roles=level_roles(0),
    )
    return order


async def list_orders(
    session: AsyncSession,
    principal: Principal,
    *,
    status: Literal["open", "closed"] | None,
    limit: int = ORDER_LIMIT,
) -> list[OrderOut]:
    """The orders, oldest first; an inspector sees only those they are responsible for."""
    responsible = principal.id if principal.role is Role.inspector else None
    rows = await repo.orders(session, status=status, responsible=responsible, limit=limit)
    return [order_out(*row) for row in rows]


async def get_order(session: AsyncSession, principal: Principal, order_id: str) -> OrderOut:
    order = await _visible(session, principal, order_id)
    return await _out(session, order)


async def record_reason(
    session: AsyncSession, principal: Principal, order_id: str, *, reason: str, now: datetime
) -> OrderOut:
    """The person responsible (the case's lead inspector) says why the case ran over; once."""
    order = await _locked(session, order_id)
    lead = (await current_inspectors(session, order.case_id))[:1]
    if principal.id not in lead:
        raise Forbidden(
            "只有该案件的主办踏勘人员可以填写超期原因。",
            "Only the case's lead inspector can record why it ran over.",
        )
    if order.overdue_reason:
        raise Conflict(
            "超期原因已经填写，不能重复填写。",
            "The overdue reason has already been recorded; it cannot be recorded again.",
            reason="reason_recorded",
        )
    if order.status != "open":
        raise _closed()
    order.overdue_reason = reason
    order.reason_by = principal.id
    order.reason_at = now
    order.responsible_id = principal.id
    await session.flush()
    await append(
        session,
        principal.actor,
        "supervision.order_reason",
        case_id=order.case_id,
        detail={"order": order.id, "reason_chars": len(reason)},
    )
    return await _out(session, order)


async def answer(
    session: AsyncSession, principal: Principal, order_id: str, *, measures: str, now: datetime
) -> OrderOut:
    """The head answers with the measures taken; the order is closed."""
    order = await _locked(session, order_id)
    if order.status != "open":
        raise _closed()
    order.status = "closed"
    order.answer = measures
    order.answered_by = principal.id
    order.answered_at = now
    order.next_escalation_at = None
    await session.flush()
    await append(
        session,
        principal.actor,
        "supervision.order_answered",
        case_id=order.case_id,
        detail={"order": order.id, "level": order.level, "measures_chars": len(measures)},
    )
    return await _out(session, order)


async def escalate_due(
    session: AsyncSession,
    now: datetime,
    *,
    answer_days: int,
    channels: Collection[Channel],
) -> int:
    """Raise every open order whose answer time has passed by one level; the count raised.

    Each raise is a conditional update on the level read, so two jobs raise an order once."""
    calendar = await load_calendar(session)
    raised = 0
    for order in await repo.due_for_escalation(session, now):
        level = order.level + 1
        statement = (
            update(SupervisionOrder)
            .where(
                SupervisionOrder.id == order.id,
                SupervisionOrder.level == order.level,
                SupervisionOrder.status == "open",
            )
            .values(
                level=level,
                escalated_at=now,
                next_escalation_at=escalation_due(calendar, now, answer_days),
            )
            .execution_options(synchronize_session=False)
        )
        if (await session.execute(statement)).rowcount != 1:  # type: ignore[attr-defined]
            continue
        await _escalated(session, order, level, answer_days, channels)
        raised += 1
    return raised


async def _escalated(
    session: AsyncSession,
    order: SupervisionOrder,
    level: int,
    answer_days: int,
    channels: Collection[Channel],
) -> None:
    await append(
        session,
        SYSTEM,
        "supervision.order_escalated",
        case_id=order.case_id,
        detail={"order": order.id, "level": level, "notified": list(level_roles(level))},
    )
    case = await session.get(Case, order.case_id)
    number = case.number if case is not None else order.case_id
    await notify(
        session,
        template="supervision_order_escalated",
        params={"case_number": number, "days": answer_days, "level": level},
        event=f"supervision_order:{order.id}:level:{level}",
        channels=channels,
        case_id=order.case_id,
        roles=level_roles(level),
    )


# ── helpers ──


def _closed() -> Conflict:
    return Conflict(
        "该督办单已答复办结，不能再修改。",
        "This supervision order has been answered and closed; it cannot be changed.",
        reason="order_closed",
    )


async def _locked(session: AsyncSession, order_id: str) -> SupervisionOrder:
    query = select(SupervisionOrder).where(SupervisionOrder.id == order_id).with_for_update()
    order: SupervisionOrder | None = await session.scalar(query)
    if order is None:
        raise not_found("该督办单", "Supervision order")
    return order


async def _visible(session: AsyncSession, principal: Principal, order_id: str) -> SupervisionOrder:
    order = await session.get(SupervisionOrder, order_id)
    if order is None:
        raise not_found("该督办单", "Supervision order")
    if principal.role is Role.inspector and order.responsible_id != principal.id:
        raise not_found("该督办单", "Supervision order")
    return order


async def _out(session: AsyncSession, order: SupervisionOrder) -> OrderOut:
    number, name = await repo.order_labels(session, order)
    return order_out(order, number, name)
