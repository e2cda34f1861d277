"""Supervision (监督): the board's queries, the applicant's rating (好差评), follow-ups of bad ones.

Counts are grouped in SQL; only elapsed times (which need medians and the working-day
calendar) read one small row per case, and the overdue and unassigned lists are capped.
Services only flush; the request's session commits.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Collection, Mapping
from datetime import date, datetime

from pydantic import BaseModel
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
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from server.audit.service import Actor, append
from server.auth.principal import Principal
from server.cases.models import Case
from server.cases.states import CaseState, Label
from server.db import utcnow
from server.errors import BadInput, Conflict, not_found
from server.notifications.models import Channel
from server.notifications.service import notify
from server.notifications.templates import TEMPLATES
from server.sla.calendar import WorkCalendar
from server.sla.models import SlaClockRow
from server.supervision import board as b
from server.supervision.models import FollowUp, Rating
from server.timeinputs import start_of_day

BAD_SCORE = 2  # 1–2 stars is a bad rating (差评) and opens a follow-up
OVERDUE_LIMIT = 200
UNASSIGNED_LIMIT = 200
FOLLOW_UP_LIMIT = 500
SUPERVISOR_ROLES = ("admin", "dispatcher")
BAD_RATING_TEMPLATE = "bad_rating"  # params: case_number, score


# ── the board ──


async def build_board(
    session: AsyncSession,
    *,
    now: datetime,
    calendar: WorkCalendar,
    matter_names: Mapping[str, Label],
    since: date | None = None,
) -> b.Board:
    """Everything the supervision board shows, as of ``now``."""
    created_from = None if since is None else start_of_day(since)
    states, cards = b.by_state_and_card(await _state_card_counts(session, now, created_from))
    overdue_total, clocks = await _overdue_clocks(session, now)
    elapsed = b.elapsed_report(
        await case_timings(session, created_from),
        now=now,
        calendar=calendar,
        matter_names=matter_names,
    )
    unassigned_total, waiting = await _waiting(session)
    return b.Board(
        generated_at=now,
        generated_at_local=b.local(now),
        since=since,
        total_cases=sum(s.total for s in states),
        states=states,
        cards=cards,
        overdue_total=overdue_total,
        overdue=b.overdue_cases(clocks, now=now, calendar=calendar),
        elapsed_by_matter=elapsed.by_matter,
        elapsed_by_class=elapsed.by_class,
        inspection_mode=b.mode_share(await _mode_counts(session, created_from)),
        unassigned_total=unassigned_total,
        unassigned=b.unassigned_cases(waiting),
        ratings=await _rating_summary(session),
    )


def _since(created_from: datetime | None) -> list[ColumnElement[bool]]:
    """The filter for cases created on or after ``created_from`` (none when it is None)."""
    return [] if created_from is None else [Case.created_at >= created_from]


async def _state_card_counts(
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


async def _overdue_clocks(session: AsyncSession, now: datetime) -> tuple[int, list[b.RunningClock]]:
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


async def _mode_counts(session: AsyncSession, created_from: datetime | None) -> list[b.ModeCount]:
    query = (
        select(Case.state, Case.mode, func.count())
        .where(Case.state.in_([s.value for s in b.INSPECTED_STATES]), *_since(created_from))
        .group_by(Case.state, Case.mode)
    )
    rows = await session.execute(query)
    return [b.ModeCount(state, mode, count) for state, mode, count in rows]


async def _waiting(session: AsyncSession) -> tuple[int, list[b.WaitingCase]]:
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


async def _rating_summary(session: AsyncSession) -> b.RatingSummary:
    count, score_sum, bad = (
        await session.execute(
            select(
                func.count(Rating.id),
                func.coalesce(func.sum(Rating.score), 0),
                func.coalesce(func.sum(case((Rating.score <= BAD_SCORE, 1), else_=0)), 0),
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


# ── ratings (好差评) ──


class RatingOut(BaseModel):
    id: str
    case_id: str
    score: int
    comment: str
    created_at: datetime
    created_at_local: datetime
    follow_up_id: str | None  # set when the rating was bad (差评)


class RatingStatus(BaseModel):
    """Whether a case has been rated, and whether it can be now."""

    case_id: str
    state: str
    rated: bool
    can_rate: bool  # closed and not yet rated
    rating: RatingOut | None


def _rating_out(rating: Rating, follow_up_id: str | None) -> RatingOut:
    return RatingOut(
        id=rating.id,
        case_id=rating.case_id,
        score=rating.score,
        comment=rating.comment,
        created_at=rating.created_at,
        created_at_local=b.local(rating.created_at),
        follow_up_id=follow_up_id,
    )


def _already_rated() -> Conflict:
    return Conflict(
        "该案件已评价过，每个案件只能评价一次。",
        "This case has already been rated; a case can be rated once.",
        reason="already_rated",
    )


async def rate(
    session: AsyncSession,
    applicant: Principal,
    case: Case,
    *,
    score: int,
    comment: str,
    channels: Collection[Channel] = (),
) -> RatingOut:
    """Record the applicant's rating of a closed case; a bad one opens a follow-up."""
    if case.state != CaseState.closed.value:
        label = b.state_label(case.state)
        raise Conflict(
            f"案件办结后才能评价（当前状态：{label.zh}）。",
            f"The case can be rated only once it is closed (it is '{label.en}').",
            reason="not_closed",
            state=case.state,
        )
    if await session.scalar(select(Rating.id).where(Rating.case_id == case.id)) is not None:
        raise _already_rated()
    rating = Rating(case_id=case.id, score=score, comment=comment.strip(), link_id=applicant.id)
    session.add(rating)
    try:
        await session.flush()
    except IntegrityError as exc:  # a concurrent submission of the same case won
        raise _already_rated() from exc
    follow_up = None
    if score <= BAD_SCORE:
        follow_up = FollowUp(case_id=case.id, rating_id=rating.id, status="open")
        session.add(follow_up)
        await session.flush()
    detail = {
        "rating": rating.id,
        "score": score,
        "comment_chars": len(rating.comment),
        "follow_up": None if follow_up is None else follow_up.id,
    }
    await append(session, applicant.actor, "case.rated", case_id=case.id, detail=detail)
    if follow_up is not None:
        await _notify_supervisors(session, case, rating, channels)
    return _rating_out(rating, None if follow_up is None else follow_up.id)


async def _notify_supervisors(
    session: AsyncSession, case: Case, rating: Rating, channels: Collection[Channel]
) -> None:
    # The message text lives in notifications/templates.py; until it has this template the
    # open follow-up (on the board and in /follow-ups) is how supervisors learn of it.
    if BAD_RATING_TEMPLATE not in TEMPLATES:
        return
    await notify(
        session,
        template=BAD_RATING_TEMPLATE,
        params={"case_number": case.number, "score": rating.score},
        event=f"bad_rating:{rating.id}",
        channels=channels,
        case_id=case.id,
        roles=SUPERVISOR_ROLES,
    )


async def rating_status(session: AsyncSession, case: Case) -> RatingStatus:
    row = (
        await session.execute(
            select(Rating, FollowUp.id)
            .outerjoin(FollowUp, FollowUp.rating_id == Rating.id)
            .where(Rating.case_id == case.id)
        )
    ).one_or_none()
    rating = None if row is None else _rating_out(row[0], row[1])
    return RatingStatus(
        case_id=case.id,
        state=case.state,
        rated=rating is not None,
        can_rate=rating is None and case.state == CaseState.closed.value,
        rating=rating,
    )


# ── follow-ups of bad ratings (差评回访) ──


class FollowUpOut(BaseModel):
    id: str
    case_id: str
    case_number: str
    rating_id: str
    score: int
    comment: str
    status: str
    opened_at: datetime
    opened_at_local: datetime
    closed_at: datetime | None
    closed_at_local: datetime | None
    closed_by: str
    note: str


def _follow_up_query() -> Select[FollowUp, str, int, str]:
    return (
        select(FollowUp, Case.number, Rating.score, Rating.comment)
        .join(Case, Case.id == FollowUp.case_id)
        .join(Rating, Rating.id == FollowUp.rating_id)
    )


def _follow_up_out(row: FollowUp, number: str, score: int, comment: str) -> FollowUpOut:
    return FollowUpOut(
        id=row.id,
        case_id=row.case_id,
        case_number=number,
        rating_id=row.rating_id,
        score=score,
        comment=comment,
        status=row.status,
        opened_at=row.opened_at,
        opened_at_local=b.local(row.opened_at),
        closed_at=row.closed_at,
        closed_at_local=None if row.closed_at is None else b.local(row.closed_at),
        closed_by=row.closed_by,
        note=row.note,
    )


async def list_follow_ups(
    session: AsyncSession, *, status: str | None = None, limit: int = FOLLOW_UP_LIMIT
) -> list[FollowUpOut]:
    """Follow-ups, the oldest first (open ones are the supervisors' to-do list)."""
    query = _follow_up_query().order_by(FollowUp.opened_at, FollowUp.id).limit(limit)
    if status is not None:
        query = query.where(FollowUp.status == status)
    return [_follow_up_out(*row) for row in await session.execute(query)]


async def close_follow_up(
    session: AsyncSession, actor: Actor, follow_up_id: str, *, note: str
) -> FollowUpOut:
    """Close an open follow-up with the supervisor's note; a closed one stays closed (409)."""
    note = note.strip()
    if not note:
        raise BadInput(
            "请填写回访处理情况（如：已电话回访申请人，说明原因并致歉）。",
            "A note is required (e.g. called the applicant back, explained and apologised).",
            field="note",
        )
    now = utcnow()
    # Conditional update: of two concurrent closes only one matches ``status = 'open'``.
    result = await session.execute(
        update(FollowUp)
        .where(FollowUp.id == follow_up_id, FollowUp.status == "open")
        .values(status="closed", closed_at=now, closed_by=actor.id, note=note)
        .execution_options(synchronize_session=False)
    )
    row = (
        await session.execute(
            _follow_up_query()
            .where(FollowUp.id == follow_up_id)
            .execution_options(populate_existing=True)
        )
    ).one_or_none()
    if row is None:
        raise not_found("该差评回访记录", "Follow-up")
    follow_up = row[0]
    if result.rowcount == 0:  # type: ignore[attr-defined]
        raise _already_closed(follow_up)
    await append(
        session,
        actor,
        "follow_up.closed",
        case_id=follow_up.case_id,
        detail={"follow_up": follow_up.id, "rating": follow_up.rating_id, "note": note},
    )
    return _follow_up_out(*row)


def _already_closed(follow_up: FollowUp) -> Conflict:
    when = (
        "" if follow_up.closed_at is None else f"于 {b.local(follow_up.closed_at):%Y-%m-%d %H:%M} "
    )
    return Conflict(
        f"该差评回访已{when}办结，不能重复办结。",
        "This follow-up is already closed; it cannot be closed again.",
        reason="already_closed",
    )
