"""Build the opinion's content (``OpinionContent``) from what is stored about the case.

Applicant, site and matters from the case; the two inspectors from the staff table; items and
the conclusion from the frozen checklist settled by ``checklists.engine``; photos, snapshots
and recording segments (hashes only) from the evidence table.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from checklists import engine
from checklists.conclusion import Conclusion, ConclusionValue, Reason, ReasonKind, conclude
from checklists.schema import Catalogue
from server.auth.models import Staff
from server.cases.access import CaseView
from server.db import utcnow
from server.errors import Conflict
from server.evidence import repository as evidence_repository
from server.evidence.models import Evidence
from server.inspection import service as inspection
from server.opinions.content import (
    Inspector,
    Matter,
    MatterResult,
    OpinionConclusion,
    OpinionContent,
    OpinionItem,
    OpinionMode,
    Photo,
    RectificationRound,
    Segment,
)
from server.rectification import history as rectification_history
from server.rectification import service as rectification

DEFAULT_ISSUER = "行政审批局"
PHOTO_KINDS = ("snapshot", "photo")
CONCLUSION_TEXT: dict[ConclusionValue, tuple[str, str]] = {
    ConclusionValue.passed: ("符合要求，同意通过踏勘", "meets the requirements; passed"),
    ConclusionValue.pass_after_rectification: (
        "经整改后符合要求",
        "meets the requirements after rectification",
    ),
    ConclusionValue.failed: ("不符合要求，踏勘不通过", "does not meet the requirements"),
    ConclusionValue.needs_onsite: ("需现场踏勘", "an on-site inspection is needed"),
    ConclusionValue.incomplete: ("踏勘未完成", "the inspection is incomplete"),
}


def _sha(value: str) -> bool:
    return len(value) == 64 and all(c in "0123456789abcdef" for c in value)


async def case_evidence(session: AsyncSession, case_id: str) -> list[Evidence]:
    """The case's photos, snapshots and recording segments with a stored hash, oldest first."""
    rows = await evidence_repository.in_capture_order(session, case_id, (*PHOTO_KINDS, "segment"))
    return [row for row in rows if _sha(row.sha256) and row.object_key]


def _photo(row: Evidence) -> Photo:
    return Photo(
        id=row.id,
        item_ids=tuple(row.item_ids),
        captured_at=row.captured_at,
        lat=row.lat,
        lng=row.lng,
        distance_m=None if row.distance_m is None else round(row.distance_m, 1),
        sha256=row.sha256,
    )


def _when(row: Evidence, key: str) -> datetime:
    value = row.meta.get(key)
    return datetime.fromisoformat(value) if isinstance(value, str) else row.captured_at


def _segment(row: Evidence) -> Segment:
    return Segment(
        track=str(row.meta.get("track_id", "")),
        seq=int(row.meta.get("seq", 0)),
        start=_when(row, "started_at"),
        end=_when(row, "ended_at"),
        sha256=row.sha256,
    )


def _item(state: engine.ItemState, photos: Sequence[Photo]) -> OpinionItem | None:
    if state.settled is None:
        return None  # a record-only item nobody marked: not part of the findings
    notes = [v.note for v in state.verdicts if v.note]
    if state.resolution is not None:
        notes.append(f"裁定：{state.resolution.reason}")
    return OpinionItem(
        id=state.item.id,
        category_zh=state.item.category.label_zh,
        title=state.item.title,
        verdict=state.settled,
        note="；".join(dict.fromkeys(notes)),
        evidence=tuple(p.id for p in photos if state.item.id in p.item_ids),
    )


def after_rectification(conclusion: Conclusion, accepted: frozenset[str]) -> Conclusion:
    """ "Pass after rectification" holds only once both inspectors accepted every such item;
    otherwise (the applicant gave up or the deadline passed) those failures stand."""
    if conclusion.value is not ConclusionValue.pass_after_rectification:
        return conclusion
    missing = [i for i in conclusion.rectification_items if i not in accepted]
    if not missing:
        return conclusion
    reasons = (
        *conclusion.reasons,
        *(
            Reason(
                ReasonKind.rectifiable_failure,
                item_id,
                "未在补齐补正中整改到位",
                "not put right through rectification",
            )
            for item_id in missing
        ),
    )
    return replace(conclusion, value=ConclusionValue.failed, reasons=reasons)


def _reasons(conclusion: Conclusion) -> tuple[str, ...]:
    return tuple(
        f"{r.item_id}：{r.message_zh}" if r.item_id else r.message_zh for r in conclusion.reasons
    )


def _conclusion(conclusion: Conclusion) -> OpinionConclusion:
    zh, en = CONCLUSION_TEXT[conclusion.value]
    return OpinionConclusion(
        value=conclusion.value, text_zh=zh, text_en=en, reasons=_reasons(conclusion)
    )


def _matter_part(checklist: engine.CaseChecklist, code: str) -> engine.CaseChecklist:
    """The items (shared ones included) and blocking findings that concern one matter."""
    return replace(
        checklist,
        items=tuple(i for i in checklist.items if code in i.matters),
        blocking_findings=tuple(f for f in checklist.blocking_findings if code in f.matters),
    )


def matter_results(
    checklist: engine.CaseChecklist,
    states: Sequence[engine.ItemState],
    accepted: frozenset[str],
) -> tuple[MatterResult, ...]:
    """A joint inspection's result per matter, each from its own items settled as they stand
    (a shared item counts for every matter it serves); none for a single matter."""
    if len(checklist.matters) < 2:
        return ()
    results = []
    for matter in checklist.matters:
        part = _matter_part(checklist, matter.code)
        own = {item.id for item in part.items}
        decided = after_rectification(
            conclude(part, [s for s in states if s.item.id in own]), accepted
        )
        zh, en = CONCLUSION_TEXT[decided.value]
        results.append(
            MatterResult(
                code=matter.code,
                name_zh=matter.name,
                value=decided.value,
                text_zh=zh,
                text_en=en,
                reasons=_reasons(decided),
            )
        )
    return tuple(results)


async def _inspectors(session: AsyncSession, view: CaseView) -> tuple[Inspector, Inspector]:
    if len(view.inspector_ids) < 2:
        raise Conflict(
            "本案尚未分派两名踏勘人员，无法起草意见书。",
            "The case does not have its two inspectors; no opinion can be drafted.",
        )
    rows = {
        s.id: s
        for s in await session.scalars(select(Staff).where(Staff.id.in_(view.inspector_ids)))
    }
    lead, second = (rows[i] for i in view.inspector_ids[:2])
    return (
        Inspector(name=lead.display_name, organisation=lead.organisation, role="drafted"),
        Inspector(name=second.display_name, organisation=second.organisation, role="co_signed"),
    )


def _mode(case_mode: str) -> OpinionMode:
    return (
        OpinionMode(case_mode) if case_mode in OpinionMode.__members__ else OpinionMode.online_video
    )


async def assemble(
    session: AsyncSession,
    catalogue: Catalogue,
    view: CaseView,
    *,
    opinion_id: str,
    version: int,
    previous_id: str | None,
    verification_code: str,
    base_url: str,
    issuer: str = DEFAULT_ISSUER,
) -> tuple[OpinionContent, Conclusion]:
    """The opinion as it stands now (``issued_at`` is set again when it is issued)."""
    case = view.case
    standing = await inspection.standing(session, catalogue, view)
    evidence = await case_evidence(session, case.id)
    photos = [_photo(r) for r in evidence if r.kind in PHOTO_KINDS]
    items = [i for i in (_item(s, photos) for s in standing.states) if i is not None]
    rounds = await rectification.rounds_of(session, case.id)
    accepted = rectification_history.accepted_items(rounds, view.inspector_ids)
    conclusion = after_rectification(standing.conclusion, accepted)
    times = [v.created_at for v in standing.verdicts.values()]
    if standing.frozen is not None:
        times.append(standing.frozen.frozen_at)
    now = utcnow()
    content = OpinionContent(
        opinion_id=opinion_id,
        version=version,
        previous_version_id=previous_id,
        issuer=issuer,
        case_number=case.number,
        application_no=case.application_no,
        applicant=case.applicant_name,
        site_address=case.site_address,
        matters=tuple(Matter(code=m.code, name_zh=m.name) for m in standing.checklist.matters),
        mode=_mode(case.mode),
        inspected_from=min(times, default=now),
        inspected_to=max(times, default=now),
        inspectors=await _inspectors(session, view),
        items=tuple(items),
        conclusion=_conclusion(conclusion),
        matter_results=matter_results(standing.checklist, standing.states, accepted),
        rectifications=tuple(
            RectificationRound(**entry) for entry in rectification_history.history(rounds)
        ),
        photos=tuple(photos),
        segments=tuple(_segment(r) for r in evidence if r.kind == "segment"),
        verification_code=verification_code,
        verification_url=f"{base_url.rstrip('/')}/verify/{verification_code}",
        issued_at=now,
    )
    return content, conclusion
