"""The supervision board's queries, and the reads of ratings and follow-ups.

Counts are grouped in SQL; only elapsed times (which need medians and the working-day
calendar) read one small row per case, and the overdue and unassigned lists are capped.
"""

from __future__ import annotations

import functools
import json
from datetime import datetime

from sqlalchemy import (
    ColumnElement,
    Select,
    String,
    Subquery,
    and_,
    case,
    cast,
    func,
    or_,
    select,
    update,
)
from sqlalchemy.ext.asyncio import AsyncSession

from server.cases.models import Case
from server.cases.states import CaseState
from server.sla.models import SlaClockRow
from server.supervision import board as b
from server.supervision.models import Complaint, FollowUp, PhoneCall, Rating
from server.supervision.schemas import FollowUpRow

OVERDUE_LIMIT = 200
UNASSIGNED_LIMIT = 200


def _since(created_from: datetime | None) -> list[ColumnElement[bool]]:
    """The filter for cases created on or after ``created_from`` (none when it is None)."""
    return [] if created_from is None else [Case.created_at >= created_from]


async def state_card_counts(
    session: AsyncSession, now: datetime, created_from: datetime | None
) -> list[b.StateCardCount]:
    # Each case's card is that of its current clock: the running one, else the last started.
    # Same answer two ways, each the faster on its database at 100k cases (SQLite: an index
    # lookup per case, about 3x faster; PostgreSQL: one window pass, about 2x faster).
    if session.get_bind().dialect.name == "sqlite":
        per_case = _cards_by_lookup(now, created_from)
    else:
        per_case = _cards_by_window(now, created_from)
    query = select(per_case.c.state, per_case.c.card, func.count()).group_by(
        per_case.c.state, per_case.c.card
    )
    rows = await session.execute(query)
    return [b.StateCardCount(state, card_, count) for state, card_, count in rows]


def _live_card(now: datetime) -> ColumnElement[str]:
    """A running clock past its due time is red even before the tick has issued the card."""
    late = and_(SlaClockRow.active, SlaClockRow.due_at < now)
    return case((late, "red"), else_=SlaClockRow.card)


def _cards_by_lookup(now: datetime, created_from: datetime | None) -> Subquery:
    current = (
        select(_live_card(now))
        .where(SlaClockRow.case_id == Case.id)
        .order_by(SlaClockRow.active.desc(), SlaClockRow.started_at.desc())
        .limit(1)
        .scalar_subquery()
    )
    card = func.coalesce(current, "none").label("card")
    return select(Case.state.label("state"), card).where(*_since(created_from)).subquery()


def _cards_by_window(now: datetime, created_from: datetime | None) -> Subquery:
    ranked = select(
        SlaClockRow.case_id,
        _live_card(now).label("card"),
        func.row_number()
        .over(
            partition_by=SlaClockRow.case_id,
            order_by=(SlaClockRow.active.desc(), SlaClockRow.started_at.desc()),
        )
        .label("recency"),
    ).subquery()
    card = func.coalesce(ranked.c.card, "none").label("card")
    return (
        select(Case.state.label("state"), card)
        .select_from(Case)
        .outerjoin(ranked, and_(ranked.c.case_id == Case.id, ranked.c.recency == 1))
        .where(*_since(created_from))
        .subquery()
    )


async def overdue_clocks(session: AsyncSession, now: datetime) -> tuple[int, list[b.RunningClock]]:
    late = and_(SlaClockRow.active, or_(SlaClockRow.card == "red", SlaClockRow.due_at < now))
    total = await session.scalar(select(func.count()).select_from(SlaClockRow).where(late))
    query = (
        select(SlaClockRow, Case.number, Case.state, Case.mode, Case.matters)
        .join(Case, Case.id == SlaClockRow.case_id)
        .where(late)
        .order_by(SlaClockRow.due_at.is_(None), SlaClockRow.due_at, Case.number)
        .limit(OVERDUE_LIMIT)
    )
    clocks = [
        b.RunningClock(
            case_id=clock.case_id,
            number=number,
            state=state,
            sla_class=clock.sla_class,
            mode=mode,
            matters=tuple(matters),
            phase=clock.phase,
            card=clock.card,
            due_at=clock.due_at,
            pauses=clock.pauses,
        )
        for clock, number, state, mode, matters in await session.execute(query)
    ]
    return int(total or 0), clocks


async def case_timings(session: AsyncSession, created_from: datetime | None) -> list[b.CaseTiming]:
    """One small row per case for elapsed times; ``finished_at`` is when the opinion issued.

    The SLA service stops a case's clock when its opinion is issued (已出具) and nothing
    restarts it, so the latest ``stopped_at`` is the issue time; a finished case without any
    clock (data from before clocks started at intake) falls back to its last change.
    """
    finished_states = [s.value for s in b.FINISHED_STATES]
    stopped = (
        select(func.max(SlaClockRow.stopped_at))
        .where(SlaClockRow.case_id == Case.id)
        .scalar_subquery()
    )
    # Correlated and only for finished cases: an index lookup each, no scan of all clocks.
    finished_at = case(
        (Case.state.in_(finished_states), func.coalesce(stopped, Case.updated_at)), else_=None
    )
    # The matter lists as text, decoded once per distinct list rather than once per case.
    matters_text = cast(Case.matters, String)
    query = select(
        matters_text, Case.sla_class, Case.state, Case.created_at, finished_at.label("finished_at")
    ).where(Case.state != CaseState.cancelled.value, *_since(created_from))
    return [
        b.CaseTiming(_matter_list(text), sla_class, state, created_at, end)
        for text, sla_class, state, created_at, end in await session.execute(query)
    ]


@functools.lru_cache(maxsize=4096)
def _matter_list(text: str) -> tuple[str, ...]:
    return tuple(json.loads(text))


async def mode_counts(session: AsyncSession, created_from: datetime | None) -> list[b.ModeCount]:
    query = (
        select(Case.state, Case.mode, func.count())
        .where(Case.state.in_([s.value for s in b.INSPECTED_STATES]), *_since(created_from))
        .group_by(Case.state, Case.mode)
    )
    rows = await session.execute(query)
    return [b.ModeCount(state, mode, count) for state, mode, count in rows]


async def waiting_cases(session: AsyncSession) -> tuple[int, list[b.WaitingCase]]:
    received = Case.state == CaseState.received.value
    total = await session.scalar(select(func.count()).select_from(Case).where(received))
    query = (
        select(Case.id, Case.number, Case.matters, Case.created_at, Case.extra)
        .where(received)
        .order_by(Case.created_at, Case.number)
        .limit(UNASSIGNED_LIMIT)
    )
    rows = [
        b.WaitingCase(case_id, number, tuple(matters), created_at, extra or {})
        for case_id, number, matters, created_at, extra in await session.execute(query)
    ]
    return int(total or 0), rows


async def rating_summary(session: AsyncSession) -> b.RatingSummary:
    count, score_sum, bad = (
        await session.execute(
            select(
                func.count(Rating.id),
                func.coalesce(func.sum(Rating.score), 0),
                func.coalesce(func.sum(case((Rating.score <= b.BAD_SCORE, 1), else_=0)), 0),
            )
        )
    ).one()
    open_follow_ups = await session.scalar(
        select(func.count()).select_from(FollowUp).where(FollowUp.status == "open")
    )
    return b.rating_summary(
        count=int(count),
        score_sum=int(score_sum),
        bad=int(bad),
        open_follow_ups=int(open_follow_ups or 0),
    )


def _follow_up_query() -> Select[FollowUp, str, Rating, Complaint, PhoneCall]:
    return (
        select(FollowUp, Case.number, Rating, Complaint, PhoneCall)
        .join(Case, Case.id == FollowUp.case_id)
        .outerjoin(Rating, Rating.id == FollowUp.rating_id)
        .outerjoin(Complaint, Complaint.id == FollowUp.complaint_id)
        .outerjoin(PhoneCall, PhoneCall.id == FollowUp.call_id)
    )


async def rating_of(session: AsyncSession, case_id: str) -> tuple[Rating, str | None] | None:
    """The case's rating and its follow-up's id (None when the rating was not bad)."""
    row = (
        await session.execute(
            select(Rating, FollowUp.id)
            .outerjoin(FollowUp, FollowUp.rating_id == Rating.id)
            .where(Rating.case_id == case_id)
        )
    ).one_or_none()
    return None if row is None else (row[0], row[1])


async def follow_ups(session: AsyncSession, *, status: str | None, limit: int) -> list[FollowUpRow]:
    """Follow-ups with their case number and what opened them, the oldest first."""
    query = _follow_up_query().order_by(FollowUp.opened_at, FollowUp.id).limit(limit)
    if status is not None:
        query = query.where(FollowUp.status == status)
    return [(f, n, r, c, p) for f, n, r, c, p in await session.execute(query)]


async def answer_if_open(
    session: AsyncSession,
    follow_up_id: str,
    *,
    answer: str,
    answered_by: str,
    recorded_by: str,
    now: datetime,
) -> bool:
    """Record the answer (整改反馈) of an open follow-up; False when it is not open (or none).
    A later answer replaces an earlier one until the follow-up is closed."""
    result = await session.execute(
        update(FollowUp)
        .where(FollowUp.id == follow_up_id, FollowUp.status == "open")
        .values(
            answer=answer, answered_by=answered_by, answer_recorded_by=recorded_by, answered_at=now
        )
        .execution_options(synchronize_session=False)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


async def close_if_open(
    session: AsyncSession, follow_up_id: str, *, closed_by: str, note: str, now: datetime
) -> bool:
    """Close the follow-up if it is still open and answered; False when it was not (or does
    not exist).

    A conditional update: of two concurrent closes only one matches ``status = 'open'``."""
    result = await session.execute(
        update(FollowUp)
        .where(
            FollowUp.id == follow_up_id,
            FollowUp.status == "open",
            FollowUp.answered_at.is_not(None),
        )
        .values(status="closed", closed_at=now, closed_by=closed_by, note=note)
        .execution_options(synchronize_session=False)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


async def follow_up(session: AsyncSession, follow_up_id: str) -> FollowUpRow | None:
    """One follow-up with its case number and what opened it, read afresh from the database."""
    row = (
        await session.execute(
            _follow_up_query()
            .where(FollowUp.id == follow_up_id)
            .execution_options(populate_existing=True)
        )
    ).one_or_none()
    return None if row is None else (row[0], row[1], row[2], row[3], row[4])
