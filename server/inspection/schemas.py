"""Request and response bodies of the inspection endpoints (checklist, verdicts, rulings)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from checklists import engine
from checklists.conclusion import Conclusion, ConclusionValue, ReasonKind
from checklists.engine import EvidenceViolation, VerdictValue
from checklists.schema import Category, EvidenceRule, VideoCheck, WalkStage

if TYPE_CHECKING:
    from server.cases.models import Case
    from server.inspection.models import ResolutionRow, VerdictRow
    from server.inspection.service import Standing

ITEM_ID = r"^[A-Z]{2}-\d{2}$"
# A reference to a snapshot or uploaded photo: an evidence id of the same case (checked on write).
EvidenceRef = Annotated[
    str, StringConstraints(min_length=1, max_length=200, pattern=r"^[A-Za-z0-9][\w.:/-]*$")
]
Reason = Annotated[str, StringConstraints(strip_whitespace=True, min_length=2, max_length=2000)]


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")


class VerdictIn(_In):
    """One inspector's mark on one item."""

    value: VerdictValue
    note: str = Field(default="", max_length=2000)
    evidence_refs: list[EvidenceRef] = Field(default_factory=list, max_length=30)


class ResolutionIn(_In):
    """The lead inspector's ruling on a disagreement; the reason is required."""

    value: VerdictValue
    reason: Reason


class CurrentItemIn(_In):
    """The item being inspected now; ``null`` clears it."""

    item_id: str | None = Field(pattern=ITEM_ID)


class Bilingual(BaseModel):
    zh: str
    en: str


class BasisOut(BaseModel):
    ref: str
    source: str
    article: str | None
    name: str
    grade: str
    url: str | None


class FindingOut(BaseModel):
    """A blocking finding (否决性发现) from a conflict rule between the case's matters."""

    rule_id: str
    matters: list[str]
    message_zh: str
    message_en: str
    basis: list[BasisOut]
    advice: str | None


# A matter (事项) the case applies for.
class CaseMatterOut(BaseModel):
    code: str
    name: str
    name_en: str


# A scenario (情形) in force for the case, implied ones included; not the catalogue's offer of
# scenarios for a matter (``/api/v1/matters`` in server.cases).
class ScenarioInForceOut(BaseModel):
    key: str
    name: str
    name_en: str


class VerdictOut(BaseModel):
    inspector_id: str
    position: str  # lead | second
    value: VerdictValue
    note: str
    evidence_refs: list[str]
    at: datetime


class ResolutionOut(BaseModel):
    value: VerdictValue
    reason: str
    resolved_by: str
    at: datetime


class ItemOut(BaseModel):
    """One checklist item with its guidance and where it stands."""

    id: str
    category: Category
    category_label: Bilingual
    stage: WalkStage
    title: str
    title_en: str
    check: str
    standard: str | None
    basis: list[BasisOut]
    video: VideoCheck
    key: bool
    frequent_problem: str | None
    evidence: EvidenceRule
    rectifiable: bool
    blocking: bool
    record_only: bool
    guidance: str
    documents: list[str]
    matters: list[str]
    aliases: list[str]
    notes: list[str]
    # Where it stands; withheld (empty / null) in the applicant's view, see service.redact.
    verdicts: list[VerdictOut] = Field(default_factory=list)
    agreed: bool | None = None
    disagreement: bool | None = None
    resolution: ResolutionOut | None = None
    settled: VerdictValue | None = None
    evidence_refs: list[str] = Field(default_factory=list)
    evidence_violation: EvidenceViolation | None = None


class ReasonOut(BaseModel):
    kind: ReasonKind
    item_id: str | None
    message_zh: str
    message_en: str


class ConclusionOut(BaseModel):
    """The outcome the verdicts lead to now (踏勘结论预览); the opinion makes it final."""

    value: ConclusionValue
    reasons: list[ReasonOut]
    rectification_items: list[str]
    onsite_items: list[str]


class CountsOut(BaseModel):
    total: int
    settled: int
    open: int


class ChecklistOut(BaseModel):
    """A case's checklist: frozen at the start of the inspection, or live before it."""

    case_id: str
    state: str
    frozen: bool
    catalogue_version: str
    catalogue_fingerprint: str
    frozen_at: datetime | None
    frozen_by: str | None
    matters: list[CaseMatterOut]
    scenarios: list[ScenarioInForceOut]
    blocking_findings: list[FindingOut]
    current_item: str | None
    items: list[ItemOut]
    counts: CountsOut | None
    conclusion: ConclusionOut | None
    redacted: bool = False  # the applicant's view: inspectors' marks and notes withheld


class StartOut(BaseModel):
    """The inspection started; blocking findings come first because they decide the case."""

    state: str
    blocking: bool
    blocking_findings: list[FindingOut]
    catalogue_version: str
    catalogue_fingerprint: str
    frozen_at: datetime
    newly_frozen: bool  # false when a restarted inspection kept the snapshot it first froze
    items: int


class ConcludedOut(BaseModel):
    state: str
    conclusion: str
    reasons_zh: list[str]
    reasons_en: list[str]


class OpenItemOut(BaseModel):
    id: str
    title: str
    title_en: str
    awaiting_verdicts: int
    disagreement: bool


class VerdictSaved(BaseModel):
    item: ItemOut
    open_items: int
    conclusion: ConclusionOut


class CurrentItemOut(BaseModel):
    current_item: str | None
    at: datetime | None
    by: str


# --- built from the engine's results ------------------------------------------------------------


def basis_out(basis: Sequence[engine.LegalBasis]) -> list[BasisOut]:
    return [
        BasisOut(
            ref=b.ref, source=b.source, article=b.article, name=b.name, grade=b.grade, url=b.url
        )
        for b in basis
    ]


def finding_out(finding: engine.BlockingFinding) -> FindingOut:
    return FindingOut(
        rule_id=finding.rule_id,
        matters=list(finding.matters),
        message_zh=finding.message_zh,
        message_en=finding.message_en,
        basis=basis_out(finding.basis),
        advice=finding.advice,
    )


def conclusion_out(conclusion: Conclusion) -> ConclusionOut:
    return ConclusionOut(
        value=conclusion.value,
        reasons=[
            ReasonOut(
                kind=r.kind, item_id=r.item_id, message_zh=r.message_zh, message_en=r.message_en
            )
            for r in conclusion.reasons
        ],
        rectification_items=list(conclusion.rectification_items),
        onsite_items=list(conclusion.onsite_items),
    )


def _verdict_out(row: VerdictRow, inspector_ids: Sequence[str]) -> VerdictOut:
    position = "lead" if inspector_ids and inspector_ids[0] == row.inspector_id else "second"
    return VerdictOut(
        inspector_id=row.inspector_id,
        position=position,
        value=VerdictValue(row.value),
        note=row.note,
        evidence_refs=list(row.evidence_refs),
        at=row.created_at,
    )


def _resolution_out(row: ResolutionRow | None) -> ResolutionOut | None:
    if row is None:
        return None
    return ResolutionOut(
        value=VerdictValue(row.value),
        reason=row.reason,
        resolved_by=row.resolved_by,
        at=row.created_at,
    )


def item_out(state: engine.ItemState, standing: Standing, inspector_ids: Sequence[str]) -> ItemOut:
    item = state.item
    rows = [
        standing.verdicts[(item.id, i)] for i in inspector_ids if (item.id, i) in standing.verdicts
    ]
    return ItemOut(
        id=item.id,
        category=item.category,
        category_label=Bilingual(zh=item.category.label_zh, en=item.category.label_en),
        stage=item.stage,
        title=item.title,
        title_en=item.title_en,
        check=item.check,
        standard=item.standard,
        basis=basis_out(item.basis),
        video=item.video,
        key=item.key,
        frequent_problem=item.frequent_problem,
        evidence=item.evidence,
        rectifiable=item.rectifiable,
        blocking=item.blocking,
        record_only=item.record_only,
        guidance=item.guidance,
        documents=list(item.documents),
        matters=list(item.matters),
        aliases=list(item.aliases),
        notes=list(item.notes),
        verdicts=[_verdict_out(r, inspector_ids) for r in rows],
        agreed=state.agreed,
        disagreement=state.disagreement,
        resolution=_resolution_out(standing.resolutions.get(item.id) if state.resolution else None),
        settled=state.settled,
        evidence_refs=list(state.evidence_refs),
        evidence_violation=state.evidence_violation,
    )


def checklist_out(case: Case, standing: Standing, inspector_ids: Sequence[str]) -> ChecklistOut:
    checklist, frozen = standing.checklist, standing.frozen
    open_count = len(engine.open_items(standing.states))
    counted = [s for s in standing.states if not s.item.record_only]
    return ChecklistOut(
        case_id=case.id,
        state=case.state,
        frozen=frozen is not None,
        catalogue_version=checklist.catalogue_version,
        catalogue_fingerprint=checklist.catalogue_fingerprint,
        frozen_at=frozen.frozen_at if frozen else None,
        frozen_by=frozen.frozen_by if frozen else None,
        matters=[
            CaseMatterOut(code=m.code, name=m.name, name_en=m.name_en) for m in checklist.matters
        ],
        scenarios=[
            ScenarioInForceOut(key=s.key, name=s.name, name_en=s.name_en)
            for s in checklist.scenarios
        ],
        blocking_findings=[finding_out(f) for f in checklist.blocking_findings],
        current_item=frozen.current_item if frozen else None,
        items=[item_out(s, standing, inspector_ids) for s in standing.states],
        counts=CountsOut(total=len(counted), settled=len(counted) - open_count, open=open_count),
        conclusion=conclusion_out(standing.conclusion),
    )


def open_items_out(standing: Standing) -> list[OpenItemOut]:
    return [
        OpenItemOut(
            id=s.item.id,
            title=s.item.title,
            title_en=s.item.title_en,
            awaiting_verdicts=s.awaiting_verdicts,
            disagreement=s.disagreement,
        )
        for s in engine.open_items(standing.states)
    ]


def verdict_saved(standing: Standing, item_id: str, inspector_ids: Sequence[str]) -> VerdictSaved:
    return VerdictSaved(
        item=item_out(standing.state_of(item_id), standing, inspector_ids),
        open_items=len(engine.open_items(standing.states)),
        conclusion=conclusion_out(standing.conclusion),
    )
