"""SLA clocks of stored cases: due times at intake, pauses, re-inspection, stop, the board view."""

from __future__ import annotations

import datetime as dt

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from server.audit.service import Actor
from server.cases.states import CaseState
from server.platform.time import CHINA_TZ
from server.sla.clock import SlaPolicy
from server.sla.overrides import remove_override, set_override
from server.sla.service import (
    clock_view,
    on_transition,
    start_for_case,
)
from tests.sla import audit_count, clocks_of, new_case, sh

Maker = async_sessionmaker[AsyncSession]
POLICY = SlaPolicy()
S = CaseState
ADMIN = Actor("staff", "admin1")


async def test_intake_stores_the_due_time_of_the_case_class(sessionmaker: Maker) -> None:
    async with sessionmaker() as session:
        case = await new_case(session, sla_class="general")
        row = await start_for_case(session, case, now=sh(2026, 3, 9, 10), policy=POLICY)
        await session.commit()
    assert (row.phase, row.sla_class, row.allowance_unit, row.allowance_amount) == (
        "initial",
        "general",
        "working_days",
        1,
    )
    async with sessionmaker() as session:
        [stored] = await clocks_of(session, case.id)
        assert stored.due_at == sh(2026, 3, 10, 10)  # one working day later
        assert stored.provisional is False
        assert stored.next_check_at == sh(2026, 3, 9, 16, 45)  # 75 % of seven working hours
        assert (stored.active, stored.card) == (True, "none")
        assert await audit_count(session, "sla.clock_started", case.id) == 1


async def test_starting_again_keeps_the_running_clock(sessionmaker: Maker) -> None:
    async with sessionmaker() as session:
        case = await new_case(session, sla_class="simple")
        first = await start_for_case(session, case, now=sh(2026, 3, 9, 10), policy=POLICY)
        again = await start_for_case(session, case, now=sh(2026, 3, 9, 11), policy=POLICY)
        assert again.id == first.id
        assert len(await clocks_of(session, case.id)) == 1


async def test_waiting_on_the_applicant_pauses_and_leaving_resumes(sessionmaker: Maker) -> None:
    async with sessionmaker() as session:
        case = await new_case(session, sla_class="simple")
        await start_for_case(session, case, now=sh(2026, 3, 9, 10), policy=POLICY)
        await on_transition(session, case, S.scheduled, S.rescheduling, sh(2026, 3, 9, 10, 30))
        [row] = await clocks_of(session, case.id)
        assert (row.due_at, row.next_check_at) == (None, None)
        assert row.pauses == [[sh(2026, 3, 9, 10, 30).isoformat(), None]]
        await on_transition(session, case, S.rescheduling, S.scheduled, sh(2026, 3, 10, 9))
        assert row.due_at == sh(2026, 3, 10, 9, 30)  # 30 minutes were left
        assert row.next_check_at == sh(2026, 3, 10, 9, 15)
        assert row.pauses[0][1] == sh(2026, 3, 10, 9).isoformat()


async def test_a_transition_dated_before_the_clock_start_keeps_its_order(
    sessionmaker: Maker,
) -> None:
    async with sessionmaker() as session:
        case = await new_case(session, sla_class="simple")
        await start_for_case(session, case, now=sh(2026, 3, 9, 10), policy=POLICY)
        await on_transition(session, case, S.scheduled, S.rescheduling, sh(2026, 3, 9, 9))
        [row] = await clocks_of(session, case.id)
        assert row.pauses == [[sh(2026, 3, 9, 10).isoformat(), None]]


async def test_rectification_submission_starts_a_reinspection_clock(sessionmaker: Maker) -> None:
    async with sessionmaker() as session:
        case = await new_case(session, sla_class="general")
        await start_for_case(session, case, now=sh(2026, 3, 9, 10), policy=POLICY)
        wait, submitted = S.rectification_requested, S.rectification_submitted
        await on_transition(session, case, S.in_progress, wait, sh(2026, 3, 9, 11))
        await on_transition(session, case, wait, submitted, sh(2026, 3, 11, 10))
        initial, reinspection = await clocks_of(session, case.id)
        assert (initial.active, initial.stopped_at) == (False, sh(2026, 3, 11, 10))
        assert initial.next_check_at is None
        assert (reinspection.phase, reinspection.sla_class) == ("reinspection", "reinspection")
        assert (reinspection.active, reinspection.started_at) == (True, sh(2026, 3, 11, 10))
        assert reinspection.due_at == sh(2026, 3, 11, 12)  # two working hours
        # rejected, then submitted again: a new round on a new re-inspection clock
        await on_transition(session, case, submitted, wait, sh(2026, 3, 11, 11))
        assert reinspection.due_at is None
        await on_transition(session, case, wait, submitted, sh(2026, 3, 12, 10))
        clocks = await clocks_of(session, case.id)
        assert [c.active for c in clocks] == [False, False, True]
        assert clocks[2].due_at == sh(2026, 3, 12, 12)


async def test_issued_and_cancelled_stop_the_clock(sessionmaker: Maker) -> None:
    async with sessionmaker() as session:
        issued = await new_case(session, sla_class="simple")
        cancelled = await new_case(session, sla_class="simple")
        for case in (issued, cancelled):
            await start_for_case(session, case, now=sh(2026, 3, 9, 10), policy=POLICY)
        await on_transition(session, issued, S.under_review, S.issued, sh(2026, 3, 9, 10, 50))
        await on_transition(session, cancelled, S.rescheduling, S.cancelled, sh(2026, 3, 9, 11))
        for case, stopped_at in ((issued, (10, 50)), (cancelled, (11, 0))):
            [row] = await clocks_of(session, case.id)
            assert (row.active, row.stopped_at) == (False, sh(2026, 3, 9, *stopped_at))
            assert row.next_check_at is None
        # a later transition (closing the issued case) finds no running clock and is fine
        await on_transition(session, issued, S.issued, S.closed, sh(2026, 3, 9, 12))


async def test_transitions_of_a_case_without_a_clock_are_harmless(sessionmaker: Maker) -> None:
    async with sessionmaker() as session:
        case = await new_case(session)
        for old, new in ((S.scheduled, S.rescheduling), (S.rescheduling, S.scheduled)):
            await on_transition(session, case, old, new, sh(2026, 3, 9, 10))
        await on_transition(session, case, S.under_review, S.issued, sh(2026, 3, 9, 10))
        assert await clocks_of(session, case.id) == []


async def test_clock_view_gives_the_due_time_in_utc_and_shanghai(sessionmaker: Maker) -> None:
    async with sessionmaker() as session:
        case = await new_case(session, sla_class="general")
        await start_for_case(session, case, now=sh(2026, 3, 9, 10), policy=POLICY)
        view = await clock_view(session, case.id, sh(2026, 3, 9, 14), policy=POLICY)
    assert view.due_at == dt.datetime(2026, 3, 10, 2, tzinfo=dt.UTC)
    assert view.due_at_local is not None
    assert view.due_at_local.utcoffset() == dt.timedelta(hours=8)
    assert view.due_at_local.replace(tzinfo=None) == dt.datetime(2026, 3, 10, 10)
    assert (view.used_minutes, view.remaining_minutes) == (150, 270)
    assert view.used_share == round(150 / 420, 4)
    assert (view.card, view.paused, view.provisional) == ("none", False, False)
    assert view.message_zh == "正常"
    assert '+08:00"' in view.model_dump_json()


async def test_a_2027_due_time_is_provisional(sessionmaker: Maker) -> None:
    async with sessionmaker() as session:
        case = await new_case(session, sla_class="general")
        row = await start_for_case(session, case, now=sh(2027, 3, 8, 10), policy=POLICY)
        assert (row.due_at, row.provisional) == (sh(2027, 3, 9, 10), True)
        view = await clock_view(session, case.id, sh(2027, 3, 8, 11), policy=POLICY)
    assert view.provisional is True
    assert "可能调整" in view.message_zh
    assert "may change" in view.message_en


async def test_an_admin_override_moves_the_due_time(sessionmaker: Maker) -> None:
    async with sessionmaker() as session:
        case = await new_case(session, sla_class="general")
        row = await start_for_case(session, case, now=sh(2026, 3, 9, 10), policy=POLICY)
        await session.commit()
    tuesday = dt.date(2026, 3, 10)
    async with sessionmaker() as session:
        _, moved = await set_override(
            session, ADMIN, tuesday, is_workday=False, note="台风停工", policy=POLICY
        )
        await session.commit()
    assert moved == 1
    async with sessionmaker() as session:
        [row] = await clocks_of(session, case.id)
        assert row.due_at == sh(2026, 3, 11, 10)  # Tuesday is off now
        view = await clock_view(session, case.id, sh(2026, 3, 9, 11), policy=POLICY)
        assert view.due_at_local == dt.datetime(2026, 3, 11, 10, tzinfo=CHINA_TZ)
        await remove_override(session, ADMIN, tuesday, policy=POLICY)
        [row] = await clocks_of(session, case.id)
        assert row.due_at == sh(2026, 3, 10, 10)
        assert await audit_count(session, "calendar.override_set") == 1
        assert await audit_count(session, "calendar.override_removed") == 1


async def test_a_2027_override_moves_a_provisional_due_time(sessionmaker: Maker) -> None:
    async with sessionmaker() as session:
        case = await new_case(session, sla_class="general")
        await start_for_case(session, case, now=sh(2027, 3, 8, 10), policy=POLICY)
        await set_override(
            session, ADMIN, dt.date(2027, 3, 9), is_workday=False, note="调休", policy=POLICY
        )
        [row] = await clocks_of(session, case.id)
    assert (row.due_at, row.provisional) == (sh(2027, 3, 10, 10), True)
