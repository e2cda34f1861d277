"""Supervision (监督): the board, the applicant's rating (好差评), follow-ups of bad ones.

The queries are in ``repository``; services only flush, the request's session commits.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from datetime import date, datetime

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from server.audit.service import Actor, append
from server.auth.principal import Principal
from server.cases.models import Case
from server.cases.states import CaseState, Label
from server.config import Settings
from server.db import utcnow
from server.errors import BadInput, Conflict, not_found
from server.notifications.models import Channel
from server.notifications.service import configured_channels, notify
from server.notifications.templates import TEMPLATES
from server.oversight.repository import active_procedures
from server.sla.calendar import WorkCalendar
from server.supervision import board as b
from server.supervision import repository as repo
from server.supervision.labels import BAD_REASONS, OTHER_REASON
from server.supervision.models import FollowUp, Rating
from server.supervision.schemas import (
    FollowUpOut,
    FollowUpRow,
    RatingOut,
    RatingStatus,
    choices,
    follow_up_out,
    rating_out,
)
from server.supervision.special import special_procedures
from server.timeinputs import start_of_day

BAD_SCORE = b.BAD_SCORE
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
    states, cards = b.by_state_and_card(await repo.state_card_counts(session, now, created_from))
    overdue_total, clocks = await repo.overdue_clocks(session, now)
    elapsed = b.elapsed_report(
        await repo.case_timings(session, created_from),
        now=now,
        calendar=calendar,
        matter_names=matter_names,
    )
    unassigned_total, waiting = await repo.waiting_cases(session)
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
        inspection_mode=b.mode_share(await repo.mode_counts(session, created_from)),
        unassigned_total=unassigned_total,
        unassigned=b.unassigned_cases(waiting),
        ratings=await repo.rating_summary(session),
        special_procedures=special_procedures(*await active_procedures(session)),
    )


# ── ratings (好差评) ──


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
    reasons: list[str],
    comment: str,
    settings: Settings,
) -> RatingOut:
    """Record the applicant's rating of a closed case; a bad one opens a follow-up."""
    comment = comment.strip()
    reasons = check_reasons(score, reasons, comment)
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
    rating = Rating(
        case_id=case.id, score=score, reasons=reasons, comment=comment, link_id=applicant.id
    )
    session.add(rating)
    try:
        await session.flush()
    except IntegrityError as exc:  # a concurrent submission of the same case won
        raise _already_rated() from exc
    follow_up = None
    if score <= BAD_SCORE:
        follow_up = FollowUp(case_id=case.id, source="rating", rating_id=rating.id, status="open")
        session.add(follow_up)
        await session.flush()
    detail = {
        "rating": rating.id,
        "score": score,
        "reasons": reasons,
        "comment_chars": len(rating.comment),
        "follow_up": None if follow_up is None else follow_up.id,
    }
    await append(session, applicant.actor, "case.rated", case_id=case.id, detail=detail)
    if follow_up is not None:
        await _notify_supervisors(session, case, rating, configured_channels(settings))
    return rating_out(rating, None if follow_up is None else follow_up.id)


def check_reasons(score: int, reasons: list[str], comment: str) -> list[str]:
    """A bad rating (1–2) names one or more reasons of the fixed list (``other`` with words);
    a good one names none. Returns the reasons without repeats, in the list's order."""
    unknown = [r for r in reasons if r not in BAD_REASONS]
    if unknown:
        raise BadInput(
            f"评价原因“{unknown[0]}”不在可选范围内，请从列表中选择。",
            f"The reason '{unknown[0]}' is not one of the choices; pick from the list.",
            field="reasons",
        )
    if score > BAD_SCORE and reasons:
        raise BadInput(
            "只有“不满意”或“非常不满意”时才需要选择原因。",
            "Reasons are chosen only for a 'dissatisfied' or 'very dissatisfied' rating.",
            field="reasons",
        )
    if score <= BAD_SCORE and not reasons:
        raise BadInput(
            "请至少选择一个不满意的原因，方便我们改进。",
            "Please choose at least one reason you were dissatisfied, so we can improve.",
            field="reasons",
        )
    if OTHER_REASON in reasons and not comment:
        raise BadInput(
            "选择了“其他”原因，请在下方写明具体情况。",
            "You chose 'something else': please say what in the box below.",
            field="comment",
        )
    return [r for r in BAD_REASONS if r in reasons]


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
    found = await repo.rating_of(session, case.id)
    rating = None if found is None else rating_out(*found)
    scores, bad_reasons = choices()
    return RatingStatus(
        case_id=case.id,
        state=case.state,
        rated=rating is not None,
        can_rate=rating is None and case.state == CaseState.closed.value,
        rating=rating,
        scores=scores,
        bad_reasons=bad_reasons,
    )


# ── follow-ups of bad ratings (差评回访) ──


async def list_follow_ups(
    session: AsyncSession, *, status: str | None = None, limit: int = FOLLOW_UP_LIMIT
) -> list[FollowUpOut]:
    """Follow-ups, the oldest first (open ones are the supervisors' to-do list)."""
    rows = await repo.follow_ups(session, status=status, limit=limit)
    return [follow_up_out(row) for row in rows]


async def answer_follow_up(
    session: AsyncSession, actor: Actor, follow_up_id: str, *, answer: str, answered_by: str
) -> FollowUpOut:
    """Record the answer (整改反馈) of an open follow-up: what was done, and by whom."""
    answer, answered_by = answer.strip(), answered_by.strip()
    if not answer:
        raise BadInput(
            "请填写整改反馈：针对差评或投诉做了什么（如：已约谈踏勘人员，改进预约安排）。",
            "Say what was done about the bad rating or complaint (e.g. talked to the inspectors,"
            " changed how appointments are offered).",
            field="answer",
        )
    if not answered_by:
        raise BadInput(
            "请填写由谁整改（人员或科室）。",
            "Say who did it (a person or a section).",
            field="answered_by",
        )
    done = await repo.answer_if_open(
        session,
        follow_up_id,
        answer=answer,
        answered_by=answered_by,
        recorded_by=actor.id,
        now=utcnow(),
    )
    row = await _require_follow_up(session, follow_up_id)
    if not done:
        raise _already_closed(row[0])
    detail = {"follow_up": follow_up_id, "answer": answer, "answered_by": answered_by}
    await append(session, actor, "follow_up.answered", case_id=row[0].case_id, detail=detail)
    return follow_up_out(row)


async def _require_follow_up(session: AsyncSession, follow_up_id: str) -> FollowUpRow:
    row = await repo.follow_up(session, follow_up_id)
    if row is None:
        raise not_found("该回访记录", "Follow-up")
    return row


async def close_follow_up(
    session: AsyncSession, actor: Actor, follow_up_id: str, *, note: str
) -> FollowUpOut:
    """Close an open, answered follow-up with the supervisor's note; a closed one stays closed
    (409), an unanswered one cannot close (409)."""
    note = note.strip()
    if not note:
        raise BadInput(
            "请填写回访处理情况（如：已电话回访申请人，说明原因并致歉）。",
            "A note is required (e.g. called the applicant back, explained and apologised).",
            field="note",
        )
    now = utcnow()
    closed = await repo.close_if_open(session, follow_up_id, closed_by=actor.id, note=note, now=now)
    row = await _require_follow_up(session, follow_up_id)
    follow_up = row[0]
    if not closed:
        if follow_up.status == "open":
            raise _not_answered()
        raise _already_closed(follow_up)
    await append(
        session,
        actor,
        "follow_up.closed",
        case_id=follow_up.case_id,
        detail={"follow_up": follow_up.id, "source": follow_up.source, "note": note},
    )
    return follow_up_out(row)


def _not_answered() -> Conflict:
    return Conflict(
        "请先记录整改反馈（做了什么、由谁整改），再办结回访。",
        "Record the answer first (what was done, and by whom), then close the follow-up.",
        reason="not_answered",
    )


def _already_closed(follow_up: FollowUp) -> Conflict:
    when = (
        "" if follow_up.closed_at is None else f"于 {b.local(follow_up.closed_at):%Y-%m-%d %H:%M} "
    )
    return Conflict(
        f"该回访已{when}办结，不能再修改或重复办结。",
        "This follow-up is already closed; it cannot be changed or closed again.",
        reason="already_closed",
    )
