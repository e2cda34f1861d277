"""What a case-list request asks for, checked at the edge: pure rules, no I/O.

The repository (``server.cases.repository``) turns a valid :class:`CaseQuery` into SQL. Every
refusal is a 422 in words a person can act on (zh-CN with the English alternative), raised
before anything is read.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from enum import StrEnum

from server.cases.states import CaseState
from server.errors import BadInput
from server.timeinputs import start_of_day

MAX_PAGE_SIZE = 100
DEFAULT_PAGE_SIZE = 50
MAX_QUERY_CHARS = 100
CARDS = ("none", "yellow", "red")


class CaseSort(StrEnum):
    """How a page is ordered; ties break on the case number so pages never overlap."""

    due = "due"  # the running SLA clock's due time, soonest first; no due time last
    created_desc = "created_desc"  # newest first (the default)
    created = "created"  # oldest first


@dataclass(frozen=True, slots=True)
class CaseQuery:
    """One page of the case list: filters, search, order and window (all already checked)."""

    limit: int = DEFAULT_PAGE_SIZE
    offset: int = 0
    sort: CaseSort = CaseSort.created_desc
    states: tuple[CaseState, ...] = ()
    matter: str | None = None
    inspector_id: str | None = None
    card: str | None = None
    created_from: datetime | None = None  # inclusive, the start of a Beijing day
    created_before: datetime | None = None  # exclusive, the start of the day after ``to``
    q: str | None = None


def _bad(zh: str, en: str, field: str) -> BadInput:
    return BadInput(zh, en, field=field)


def check_page(limit: int, page: int) -> tuple[int, int]:
    """``(limit, offset)`` for 1-based ``page`` of ``limit`` rows."""
    if not 1 <= limit <= MAX_PAGE_SIZE:
        raise _bad(
            f"每页条数须在 1 到 {MAX_PAGE_SIZE} 之间（收到 {limit}）。",
            f"Rows per page must be between 1 and {MAX_PAGE_SIZE} (got {limit}).",
            "limit",
        )
    if page < 1:
        raise _bad(f"页码须从 1 开始（收到 {page}）。", f"Pages start at 1 (got {page}).", "page")
    return limit, (page - 1) * limit


def check_states(values: list[str]) -> tuple[CaseState, ...]:
    known = {s.value for s in CaseState}
    unknown = [v for v in values if v not in known]
    if unknown:
        raise _bad(
            f"未知的案件状态：{'、'.join(unknown)}。请从状态筛选列表中选择。",
            f"Unknown case state: {', '.join(unknown)}. Pick one from the state filter.",
            "state",
        )
    return tuple(CaseState(v) for v in dict.fromkeys(values))


def check_matter(value: str | None, known: set[str]) -> str | None:
    if value is not None and value not in known:
        raise _bad(
            f"目录中没有事项“{value}”，请从事项列表中按名称选择。",
            f"The catalogue has no matter '{value}'; pick one by name from the list.",
            "matter",
        )
    return value


def check_card(value: str | None) -> str | None:
    if value is not None and value not in CARDS:
        raise _bad(
            f"时限标识只能是 none（无）、yellow（黄牌）或 red（红牌），收到“{value}”。",
            f"The card must be none, yellow or red (got '{value}').",
            "card",
        )
    return value


def check_created(
    created_from: date | None, created_to: date | None
) -> tuple[datetime | None, datetime | None]:
    """A range of Beijing days, both ends included, as ``[start, end)`` instants."""
    if created_from is not None and created_to is not None and created_from > created_to:
        raise _bad(
            f"起始日期（{created_from.isoformat()}）晚于结束日期（{created_to.isoformat()}），"
            "请调换或修改日期。",
            f"The start date ({created_from.isoformat()}) is after the end date "
            f"({created_to.isoformat()}); swap or change them.",
            "created_from",
        )
    start = None if created_from is None else start_of_day(created_from)
    end = None if created_to is None else start_of_day(created_to + timedelta(days=1))
    return start, end


def check_search(q: str | None) -> str | None:
    text = (q or "").strip()
    if len(text) > MAX_QUERY_CHARS:
        raise _bad(
            f"搜索内容过长（最多 {MAX_QUERY_CHARS} 个字）。",
            f"The search text is too long (at most {MAX_QUERY_CHARS} characters).",
            "q",
        )
    return text or None
