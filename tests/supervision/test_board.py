"""The board's pure aggregation: counts, overdue, elapsed working time, shares, unassigned."""

from __future__ import annotations

import random
from datetime import date, timedelta

import pytest

from server.cases.states import CaseState, Label
from server.sla.calendar import CalendarOverride, WorkCalendar
from server.supervision.board import (
    CaseTiming,
    ModeCount,
    RunningClock,
    StateCardCount,
    WaitingCase,
    WorkingTimeIndex,
    by_state_and_card,
    elapsed_report,
    mode_share,
    overdue_cases,
    rating_summary,
    unassigned_cases,
)
from tests.supervision import sh

CAL = WorkCalendar()
MONDAY = (2026, 3, 9)  # an ordinary working week: Monday 9 … Friday 13 March 2026


def timing(
    created: tuple[int, ...],
    finished: tuple[int, ...] | None,
    *,
    matters: tuple[str, ...] = ("food_retail",),
    sla_class: str = "general",
    state: str = "closed",
) -> CaseTiming:
    return CaseTiming(
        matters=matters,
        sla_class=sla_class,
        state=state,
        created_at=sh(*created),
        finished_at=None if finished is None else sh(*finished),
    )


def clock(
    number: str, due: tuple[int, ...] | None, card: str = "none", **kw: object
) -> RunningClock:
    fields: dict[str, object] = {
        "case_id": f"id-{number}",
        "number": number,
        "state": "scheduled",
        "sla_class": "general",
        "mode": "online_video",
        "matters": ("food_retail",),
        "phase": "initial",
        "card": card,
        "due_at": None if due is None else sh(*due),
    }
    fields.update(kw)
    return RunningClock(**fields)  # type: ignore[arg-type]


# ── working time ──


def test_working_time_index_agrees_with_the_calendar_across_holidays_and_overrides() -> None:
    calendar = WorkCalendar([CalendarOverride(date(2026, 9, 29), False, "台风停工")])
    first, last = date(2026, 9, 25), date(2026, 10, 12)
    index = WorkingTimeIndex(calendar, first, last)
    rng = random.Random(7)
    span = int((last - first).days * 24 * 60)
    start = sh(2026, 9, 25)
    for _ in range(400):
        a = start + timedelta(minutes=rng.randrange(span))
        b = start + timedelta(minutes=rng.randrange(span))
        assert index.between(a, b) == calendar.working_time_between(a, b), (a, b)


def test_working_time_index_counts_nothing_outside_its_range_twice() -> None:
    index = WorkingTimeIndex(CAL, date(2026, 3, 9), date(2026, 3, 9))
    assert index.between(sh(2026, 3, 8), sh(2026, 3, 9, 10)) == timedelta(hours=1)
    assert index.between(sh(2026, 3, 9, 17), sh(2026, 3, 11)) == timedelta(minutes=30)
    assert index.between(sh(2026, 3, 9, 11), sh(2026, 3, 9, 10)) == timedelta()


# ── elapsed working time ──


def test_average_and_median_elapsed_working_time_per_matter_and_class() -> None:
    rows = [
        timing((*MONDAY, 10), (*MONDAY, 11)),  # 60 min
        timing((*MONDAY, 11), (*MONDAY, 14, 30)),  # 60 before lunch + 60 after: 120
        timing((2026, 3, 13, 10), (2026, 3, 16, 10)),  # Friday 360 + Monday 60 over a weekend
    ]
    names = {"food_retail": Label("食品经营", "food retail")}
    report = elapsed_report(rows, now=sh(2026, 3, 20), calendar=CAL, matter_names=names)
    (matter,) = report.by_matter
    assert (matter.key, matter.label_zh, matter.label_en) == (
        "food_retail",
        "食品经营",
        "food retail",
    )
    assert (matter.cases, matter.open) == (3, 0)
    assert matter.average_minutes == 200.0  # (60 + 120 + 420) / 3
    assert matter.median_minutes == 120.0
    (general,) = report.by_class
    assert (general.key, general.label_zh, general.cases) == ("general", "一般", 3)
    assert (general.average_minutes, general.median_minutes) == (200.0, 120.0)


def test_median_of_an_even_count_is_the_mean_of_the_middle_two() -> None:
    rows = [
        timing((*MONDAY, 9), (*MONDAY, 9, 10)),
        timing((*MONDAY, 9), (*MONDAY, 9, 20)),
        timing((*MONDAY, 9), (*MONDAY, 9, 40)),
        timing((*MONDAY, 9), (*MONDAY, 11, 30)),
    ]
    (group,) = elapsed_report(rows, now=sh(2026, 3, 20), calendar=CAL).by_class
    assert group.median_minutes == 30.0
    assert group.average_minutes == 55.0  # (10 + 20 + 40 + 150) / 4


def test_open_cases_run_to_now_joint_cases_count_per_matter_and_cancelled_are_left_out() -> None:
    now = sh(*MONDAY, 15, 30)
    rows = [
        timing((*MONDAY, 9), None, matters=("food_retail", "drug_retail"), state="scheduled"),
        timing((*MONDAY, 9), (*MONDAY, 10), matters=("drug_retail",), sla_class="simple"),
        timing((*MONDAY, 9), None, state="cancelled", sla_class="complex"),
    ]
    report = elapsed_report(rows, now=now, calendar=CAL)
    groups = {g.key: g for g in report.by_matter}
    assert set(groups) == {"food_retail", "drug_retail"}
    assert (groups["food_retail"].cases, groups["food_retail"].open) == (1, 1)
    assert groups["food_retail"].median_minutes == 300.0  # 9–12 and 13:30–15:30
    assert (groups["drug_retail"].cases, groups["drug_retail"].open) == (2, 1)
    assert groups["drug_retail"].average_minutes == 180.0  # (300 + 60) / 2
    assert [g.key for g in report.by_class] == ["simple", "general"]  # class order, no complex
    assert groups["food_retail"].label_zh == "food_retail"  # no name known: the code


def test_elapsed_of_no_cases_is_empty() -> None:
    report = elapsed_report([], now=sh(*MONDAY), calendar=CAL)
    assert (report.by_matter, report.by_class) == ((), ())


# ── remote vs on site ──


def test_share_inspected_remotely_and_on_site_counts_only_inspected_cases() -> None:
    counts = [
        ModeCount("closed", "online_video", 5),
        ModeCount("in_progress", "rectification", 1),
        ModeCount("under_review", "offline_onsite", 2),
        ModeCount("scheduled", "offline_onsite", 7),  # not inspected yet
        ModeCount("cancelled", "online_video", 3),  # never inspected (as far as the state says)
    ]
    share = mode_share(counts)
    assert (share.inspected, share.remote, share.on_site) == (8, 6, 2)
    assert (share.remote_share, share.on_site_share) == (0.75, 0.25)


def test_shares_are_zero_before_any_inspection() -> None:
    share = mode_share([ModeCount("received", "online_video", 4)])
    assert (share.inspected, share.remote_share, share.on_site_share) == (0, 0.0, 0.0)


# ── overdue ──


def test_overdue_lists_running_clocks_past_due_the_longest_overdue_first() -> None:
    now = sh(2026, 3, 10, 10)  # Tuesday 10:00
    clocks = [
        clock("B", (*MONDAY, 16)),  # 1.5 h on Monday + 1 h on Tuesday
        clock("A", (2026, 3, 6, 17)),  # Friday 17:00: 30 min + Monday 420 + Tuesday 60
        clock("C", (2026, 3, 10, 11)),  # not due yet
        clock("D", None, card="red", pauses=[["2026-03-09T02:00:00+00:00", None]]),
    ]
    late = overdue_cases(clocks, now=now, calendar=CAL)
    assert [c.number for c in late] == ["A", "B", "D"]
    assert [c.overdue_minutes for c in late] == [510, 150, 0]
    assert late[0].due_at_local is not None
    assert late[0].due_at_local.isoformat() == "2026-03-06T17:00:00+08:00"
    assert (late[0].state_zh, late[0].state_en) == ("已预约", "inspection booked")
    assert (late[2].paused, late[2].due_at_local) == (True, None)


def test_a_clock_due_exactly_now_is_not_yet_overdue() -> None:
    now = sh(*MONDAY, 10)
    assert overdue_cases([clock("A", (*MONDAY, 10))], now=now, calendar=CAL) == ()


# ── by state and card ──


def test_counts_list_every_state_with_cards_and_totals() -> None:
    counts = [
        StateCardCount("received", None, 3),  # no clock: none
        StateCardCount("scheduled", "yellow", 2),
        StateCardCount("scheduled", "red", 1),
        StateCardCount("closed", "none", 4),
        StateCardCount("closed", "red", 1),
    ]
    rows, cards = by_state_and_card(counts)
    assert [r.state for r in rows] == [s.value for s in CaseState]
    by_state = {r.state: r for r in rows}
    assert (by_state["received"].total, by_state["received"].none) == (3, 3)
    scheduled = by_state["scheduled"]
    assert (scheduled.total, scheduled.yellow, scheduled.red) == (3, 2, 1)
    assert (scheduled.label_zh, scheduled.label_en) == ("已预约", "inspection booked")
    assert by_state["cancelled"].total == 0
    assert (cards.none, cards.yellow, cards.red) == (7, 2, 2)


# ── unassigned ──


def test_unassigned_cases_carry_the_draw_reason_or_wait_for_the_draw() -> None:
    reason = {"zh": "合格踏勘人员不足两名", "en": "fewer than two qualified inspectors"}
    rows = [
        WaitingCase("b", "YTK-B", ("food_retail",), sh(*MONDAY, 11), {}),
        WaitingCase("a", "YTK-A", ("drug_retail",), sh(*MONDAY, 9), {"unassigned": reason}),
    ]
    first, second = unassigned_cases(rows)
    assert (first.number, first.draw_failed, first.reason_zh) == ("YTK-A", True, reason["zh"])
    assert first.reason_en == reason["en"]
    assert first.created_at_local.isoformat() == "2026-03-09T09:00:00+08:00"
    assert (second.draw_failed, second.reason_zh) == (False, "等待抽取踏勘人员")


# ── ratings ──


@pytest.mark.parametrize(
    ("count", "score_sum", "average"), [(0, 0, None), (3, 11, 3.67), (2, 10, 5.0)]
)
def test_rating_summary_average(count: int, score_sum: int, average: float | None) -> None:
    summary = rating_summary(count=count, score_sum=score_sum, bad=0, open_follow_ups=0)
    assert summary.average_score == average
