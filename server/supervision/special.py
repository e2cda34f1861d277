"""The board's list of cases in a special procedure (特别程序), their clocks suspended."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from server.cases.states import Label
from server.platform.time import CHINA_TZ

SPECIAL_KINDS: Mapping[str, Label] = {
    "expert_review": Label("专家评审", "expert review"),
    "hearing": Label("听证", "hearing"),
    "site_survey": Label("现场勘验", "on-site survey"),
}


@dataclass(frozen=True, slots=True)
class SpecialCase:
    case_id: str
    case_number: str
    kind: str
    kind_zh: str
    kind_en: str
    reason: str
    since: datetime | None
    since_local: datetime | None


@dataclass(frozen=True, slots=True)
class SpecialProcedures:
    total: int = 0
    cases: tuple[SpecialCase, ...] = ()  # the longest running first, capped


def special_procedures(total: int, rows: Iterable[Sequence[Any]]) -> SpecialProcedures:
    """Rows of (case id, case number, kind, reason, started at)."""
    cases = []
    for case_id, number, kind, reason, since in rows:
        label = SPECIAL_KINDS.get(kind, Label(kind, kind))
        at = None if since is None else since.astimezone(CHINA_TZ)
        cases.append(SpecialCase(case_id, number, kind, label.zh, label.en, reason, since, at))
    return SpecialProcedures(total, tuple(cases))
