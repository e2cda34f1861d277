"""The supervision board (监督看板): pure aggregation over plain rows, no I/O.

The service runs the queries (counts are grouped in SQL) and hands rows to these functions.
Definitions the numbers follow:

* **card of a case** — the card of its current SLA clock (the running one, else the last one).
  A running clock whose due time has passed counts red even before the tick has issued the
  card; a case without a clock counts as ``none``.
* **overdue** — the case's clock is running and its due time has passed (or a red card was
  issued). The overdue time is working time from the due time to now.
* **elapsed working time (办理用时)** — working time on the bureau's calendar from the case's
  creation to the issue of its opinion (已出具); for a case still open, to now. Waits on the
  applicant (改约、补正) are included: this is the turnaround the applicant sees, not the SLA's
  counted time. Cancelled cases are left out; a joint case counts once under each matter.
* **inspected remotely vs on site** — among cases now in ``in_progress`` or a later state of
  the inspection (rectification, drafting, co-signing, review, issued, closed): remote is mode
  ``online_video`` or ``rectification``, on site is ``offline_onsite``.
* **unassigned** — cases still ``received``; the reason is the failed draw's (stored by the
  assignment service), else "waiting for the draw".

A ``since`` day limits the counts, elapsed times and shares to cases created from then; the
overdue and unassigned lists and the rating summary are to-do lists and always complete.
"""

from __future__ import annotations

import bisect
import statistics
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from server.cases.states import STATE_LABELS, CaseState, Label
from server.platform.time import CHINA_TZ
from server.sla.calendar import WorkCalendar
from server.supervision.special import SpecialProcedures

S = CaseState
CARDS = ("none", "yellow", "red")
BAD_SCORE = 2  # 1–2 stars is a bad rating (差评) and opens a follow-up
FINISHED_STATES = frozenset({S.issued, S.closed})
# Cases here have been inspected (at least once, in the current mode).
INSPECTED_STATES = frozenset(
    {
        S.in_progress,
        S.rectification_requested,
        S.rectification_submitted,
        S.drafted,
        S.awaiting_cosign,
        S.under_review,
        S.issued,
        S.closed,
    }
)
REMOTE_MODES = frozenset({"online_video", "rectification"})
ON_SITE_MODES = frozenset({"offline_onsite"})
CLASS_LABELS: Mapping[str, Label] = {
    "simple": Label("简易", "simple"),
    "general": Label("一般", "general"),
    "reinspection": Label("复核", "re-inspection"),
    "complex": Label("复杂", "complex"),
}
WAITING_FOR_DRAW = Label("等待抽取踏勘人员", "waiting for the inspector draw")


def local(moment: datetime) -> datetime:
    """``moment`` in Asia/Shanghai, as shown to people."""
    if moment.tzinfo is None:
        raise ValueError("naive datetime: board times must be timezone-aware")
    return moment.astimezone(CHINA_TZ)


def state_label(state: str) -> Label:
    try:
        return STATE_LABELS[CaseState(state)]
    except ValueError:
        return Label(state, state)


# ── cases by state and card ──


@dataclass(frozen=True, slots=True)
class StateCardCount:
    """One row of ``GROUP BY state, card``."""

    state: str
    card: str | None
    count: int


@dataclass(frozen=True, slots=True)
class StateRow:
    state: str
    label_zh: str
    label_en: str
    total: int
    none: int
    yellow: int
    red: int


@dataclass(frozen=True, slots=True)
class CardTotals:
    none: int
    yellow: int
    red: int


def by_state_and_card(counts: Iterable[StateCardCount]) -> tuple[tuple[StateRow, ...], CardTotals]:
    """Every state in workflow order (zeros included), each split by card, and card totals."""
    grid: dict[str, dict[str, int]] = {s.value: dict.fromkeys(CARDS, 0) for s in CaseState}
    for row in counts:
        card = row.card if row.card in CARDS else "none"
        grid.setdefault(row.state, dict.fromkeys(CARDS, 0))[card] += row.count
    rows = tuple(
        StateRow(
            state=state,
            label_zh=state_label(state).zh,
            label_en=state_label(state).en,
            total=sum(cards.values()),
            none=cards["none"],
            yellow=cards["yellow"],
            red=cards["red"],
        )
        for state, cards in grid.items()
    )
    totals = CardTotals(*(sum(r[c] for r in grid.values()) for c in CARDS))
    return rows, totals


# ── overdue ──


@dataclass(frozen=True, slots=True)
class RunningClock:
    """A case's running SLA clock with what the board shows of the case."""

    case_id: str
    number: str
    state: str
    sla_class: str
    mode: str
    matters: tuple[str, ...]
    phase: str
    card: str
    due_at: datetime | None
    pauses: Sequence[Sequence[str | None]] = ()

    @property
    def paused(self) -> bool:
        return bool(self.pauses) and self.pauses[-1][1] is None


@dataclass(frozen=True, slots=True)
class OverdueCase:
    case_id: str
    number: str
    state: str
    state_zh: str
    state_en: str
    sla_class: str
    mode: str
    matters: tuple[str, ...]
    phase: str
    paused: bool
    due_at: datetime | None
    due_at_local: datetime | None
    overdue_minutes: int  # working minutes since the due time


def is_overdue(clock: RunningClock, now: datetime) -> bool:
    return clock.card == "red" or (clock.due_at is not None and clock.due_at < now)


def overdue_cases(
    clocks: Iterable[RunningClock], *, now: datetime, calendar: WorkCalendar
) -> tuple[OverdueCase, ...]:
    """Running clocks past their due time, the longest overdue first."""
    late = sorted(
        (c for c in clocks if is_overdue(c, now)),
        key=lambda c: (c.due_at is None, c.due_at or now, c.number),
    )
    dues = [c.due_at for c in late if c.due_at is not None]
    index = WorkingTimeIndex.covering(calendar, [*dues, now])
    return tuple(_overdue(c, now, index) for c in late)


def _overdue(clock: RunningClock, now: datetime, index: WorkingTimeIndex) -> OverdueCase:
    label = state_label(clock.state)
    late = timedelta() if clock.due_at is None else index.between(clock.due_at, now)
    return OverdueCase(
        case_id=clock.case_id,
        number=clock.number,
        state=clock.state,
        state_zh=label.zh,
        state_en=label.en,
        sla_class=clock.sla_class,
        mode=clock.mode,
        matters=clock.matters,
        phase=clock.phase,
        paused=clock.paused,
        due_at=clock.due_at,
        due_at_local=None if clock.due_at is None else local(clock.due_at),
        overdue_minutes=int(late.total_seconds() // 60),
    )


# ── elapsed working time ──


class WorkingTimeIndex:
    """``WorkCalendar.working_time_between`` for many intervals: one pass over the days.

    Prefix sums of each day's working time make every lookup O(1), so 100k cases spanning
    years cost one walk over the calendar, not one walk per case.
    """

    def __init__(self, calendar: WorkCalendar, first: date, last: date) -> None:
        # Integer microseconds since the epoch: exact, and cheap to compare across zones.
        self._starts: list[int] = []  # local midnight of each day
        self._periods: list[tuple[tuple[int, int], ...]] = []
        self._before = [0]  # working time before each day (one more: after the last day)
        day = first
        while day <= last:
            hours = calendar.hours.on(day) if calendar.is_workday(day) else ()
            periods = tuple((_us(a), _us(b)) for a, b in hours)
            self._starts.append(_us(datetime.combine(day, time(), tzinfo=CHINA_TZ)))
            self._periods.append(periods)
            self._before.append(self._before[-1] + sum(b - a for a, b in periods))
            day += timedelta(days=1)

    @classmethod
    def covering(cls, calendar: WorkCalendar, moments: Iterable[datetime]) -> WorkingTimeIndex:
        """An index over the local days from the earliest to the latest of ``moments``."""
        ordered = list(moments)
        return cls(calendar, local(min(ordered)).date(), local(max(ordered)).date())

    def _upto(self, moment: int) -> int:
        index = bisect.bisect_right(self._starts, moment) - 1
        if index < 0:
            return 0
        today = sum(
            min(moment, end) - start for start, end in self._periods[index] if moment > start
        )
        return self._before[index] + today

    def between(self, start: datetime, end: datetime) -> timedelta:
        """Working time inside [start, end); zero when end is not after start."""
        return timedelta(microseconds=max(0, self._upto(_us(end)) - self._upto(_us(start))))


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)


def _us(moment: datetime) -> int:
    if moment.tzinfo is None:
        raise ValueError("naive datetime: board times must be timezone-aware")
    return (moment - _EPOCH) // _MICROSECOND


@dataclass(frozen=True, slots=True)
class CaseTiming:
    """What elapsed time needs of a case; ``finished_at`` is None while it is open."""

    matters: tuple[str, ...]
    sla_class: str
    state: str
    created_at: datetime
    finished_at: datetime | None


@dataclass(frozen=True, slots=True)
class ElapsedGroup:
    key: str  # a matter code or an SLA class
    label_zh: str
    label_en: str
    cases: int
    open: int  # of which still open (measured to now)
    average_minutes: float
    median_minutes: float


@dataclass(frozen=True, slots=True)
class ElapsedReport:
    by_matter: tuple[ElapsedGroup, ...]
    by_class: tuple[ElapsedGroup, ...]


def elapsed_report(
    timings: Iterable[CaseTiming],
    *,
    now: datetime,
    calendar: WorkCalendar,
    matter_names: Mapping[str, Label] | None = None,
) -> ElapsedReport:
    """Average and median elapsed working time per matter and per SLA class."""
    rows = [t for t in timings if t.state != S.cancelled]
    if not rows:
        return ElapsedReport((), ())
    ends = [t.finished_at for t in rows if t.finished_at is not None]
    index = WorkingTimeIndex.covering(calendar, [now, *ends, *(t.created_at for t in rows)])
    by_matter: dict[str, list[tuple[float, bool]]] = defaultdict(list)
    by_class: dict[str, list[tuple[float, bool]]] = defaultdict(list)
    for t in rows:
        is_open = t.finished_at is None
        minutes = index.between(t.created_at, t.finished_at or now).total_seconds() / 60
        for matter in dict.fromkeys(t.matters):
            by_matter[matter].append((minutes, is_open))
        by_class[t.sla_class].append((minutes, is_open))
    names = matter_names or {}
    class_order = {c: i for i, c in enumerate(CLASS_LABELS)}
    return ElapsedReport(
        by_matter=tuple(
            _group(m, names.get(m, Label(m, m)), by_matter[m]) for m in sorted(by_matter)
        ),
        by_class=tuple(
            _group(c, CLASS_LABELS.get(c, Label(c, c)), by_class[c])
            for c in sorted(by_class, key=lambda c: (class_order.get(c, len(class_order)), c))
        ),
    )


def _group(key: str, label: Label, values: list[tuple[float, bool]]) -> ElapsedGroup:
    minutes = [m for m, _ in values]
    return ElapsedGroup(
        key=key,
        label_zh=label.zh,
        label_en=label.en,
        cases=len(values),
        open=sum(1 for _, is_open in values if is_open),
        average_minutes=round(statistics.fmean(minutes), 1),
        median_minutes=round(statistics.median(minutes), 1),
    )


# ── remote vs on site ──


@dataclass(frozen=True, slots=True)
class ModeCount:
    """One row of ``GROUP BY state, mode``."""

    state: str
    mode: str
    count: int


@dataclass(frozen=True, slots=True)
class ModeShare:
    inspected: int
    remote: int
    on_site: int
    remote_share: float  # 0–1; 0 when nothing has been inspected yet
    on_site_share: float


def mode_share(counts: Iterable[ModeCount]) -> ModeShare:
    """Share of inspected cases done by video (remote) and on site."""
    remote = on_site = 0
    for row in counts:
        if row.state not in INSPECTED_STATES:
            continue
        if row.mode in REMOTE_MODES:
            remote += row.count
        elif row.mode in ON_SITE_MODES:
            on_site += row.count
    inspected = remote + on_site
    return ModeShare(
        inspected=inspected,
        remote=remote,
        on_site=on_site,
        remote_share=round(remote / inspected, 4) if inspected else 0.0,
        on_site_share=round(on_site / inspected, 4) if inspected else 0.0,
    )


# ── unassigned ──


@dataclass(frozen=True, slots=True)
class WaitingCase:
    """A case still ``received`` and its ``extra`` (where a failed draw leaves its reason)."""

    case_id: str
    number: str
    matters: tuple[str, ...]
    created_at: datetime
    extra: Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class UnassignedCase:
    case_id: str
    number: str
    matters: tuple[str, ...]
    created_at: datetime
    created_at_local: datetime
    draw_failed: bool  # a draw found fewer than two qualified inspectors
    reason_zh: str
    reason_en: str


def unassigned_cases(rows: Iterable[WaitingCase]) -> tuple[UnassignedCase, ...]:
    """Cases without inspectors, the longest waiting first, each with why."""
    return tuple(_unassigned(r) for r in sorted(rows, key=lambda r: (r.created_at, r.number)))


def _unassigned(row: WaitingCase) -> UnassignedCase:
    stored = row.extra.get("unassigned")
    failed = isinstance(stored, Mapping) and bool(stored.get("zh") or stored.get("en"))
    reason = (
        Label(str(stored.get("zh", "")), str(stored.get("en", "")))
        if failed and isinstance(stored, Mapping)
        else WAITING_FOR_DRAW
    )
    return UnassignedCase(
        case_id=row.case_id,
        number=row.number,
        matters=row.matters,
        created_at=row.created_at,
        created_at_local=local(row.created_at),
        draw_failed=failed,
        reason_zh=reason.zh,
        reason_en=reason.en,
    )


# ── ratings ──


@dataclass(frozen=True, slots=True)
class RatingSummary:
    count: int
    average_score: float | None  # None before the first rating
    bad: int  # scores at or below the bad-rating threshold (差评)
    open_follow_ups: int


def rating_summary(*, count: int, score_sum: int, bad: int, open_follow_ups: int) -> RatingSummary:
    average = round(score_sum / count, 2) if count else None
    return RatingSummary(count, average, bad, open_follow_ups)


# ── the whole board ──


@dataclass(frozen=True, slots=True)
class Board:
    generated_at: datetime
    generated_at_local: datetime
    since: date | None  # counts, elapsed times and shares cover cases created since (local)
    total_cases: int
    states: tuple[StateRow, ...]
    cards: CardTotals
    overdue_total: int
    overdue: tuple[OverdueCase, ...]  # the longest overdue first, capped
    elapsed_by_matter: tuple[ElapsedGroup, ...]
    elapsed_by_class: tuple[ElapsedGroup, ...]
    inspection_mode: ModeShare
    unassigned_total: int
    unassigned: tuple[UnassignedCase, ...]  # the longest waiting first, capped
    ratings: RatingSummary
    special_procedures: SpecialProcedures = field(default_factory=SpecialProcedures)
