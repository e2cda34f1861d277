"""Checklist engine: merge matters into a case checklist and settle verdicts.

Pure: data in, decisions out; no file, network or clock access. The server feeds it the
catalogue (or the snapshot frozen in the case) and the inspectors' verdicts, and stores what
comes out. Concluding the inspection from the settled items is :mod:`checklists.conclusion`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from checklists.references import basis_source
from checklists.schema import (
    SNAPSHOT_FORMAT,
    Catalogue,
    Category,
    EvidenceRule,
    InspectionMode,
    Item,
    Matter,
    SelectionError,
    SharedRef,
    SlaClass,
    VideoCheck,
    WalkStage,
)

__all__ = [
    "BlockingFinding",
    "CaseChecklist",
    "ChecklistItem",
    "EvidenceViolation",
    "ItemState",
    "LegalBasis",
    "MatterInfo",
    "Resolution",
    "ScenarioInfo",
    "SelectionError",
    "SnapshotError",
    "Verdict",
    "VerdictValue",
    "build_checklist",
    "checklist_from_snapshot",
    "open_items",
    "settle",
]


class SnapshotError(ValueError):
    """A stored snapshot that is not one this code can read."""


@dataclass(frozen=True)
class LegalBasis:
    """A legal basis reference resolved against the sources table (依据)."""

    ref: str  # as written, e.g. "FSL 33(2)"
    source: str
    article: str | None
    name: str
    grade: str
    url: str | None


@dataclass(frozen=True)
class MatterInfo:
    code: str
    name: str
    name_en: str
    default_mode: InspectionMode
    default_sla: SlaClass
    note: str | None


@dataclass(frozen=True)
class ScenarioInfo:
    """A scenario (情形) in force for the case."""

    key: str
    name: str
    name_en: str


@dataclass(frozen=True)
class ChecklistItem:
    """One item of a case's checklist; a shared item lists every matter it serves."""

    id: str
    category: Category
    stage: WalkStage
    title: str
    title_en: str
    check: str
    standard: str | None
    basis: tuple[LegalBasis, ...]
    video: VideoCheck
    key: bool
    frequent_problem: str | None
    evidence: EvidenceRule
    rectifiable: bool
    blocking: bool
    record_only: bool
    guidance: str
    documents: tuple[str, ...]
    matters: tuple[str, ...]
    aliases: tuple[str, ...] = ()  # the matters' own numbers for a shared item (FS-09…)
    notes: tuple[str, ...] = ()  # what each matter adds to a shared check

    @property
    def shared(self) -> bool:
        return len(self.matters) > 1


@dataclass(frozen=True)
class BlockingFinding:
    """A finding that decides the case by itself (否决性发现), e.g. pesticides next to food."""

    rule_id: str
    matters: tuple[str, ...]
    message_zh: str
    message_en: str
    basis: tuple[LegalBasis, ...]
    advice: str | None


@dataclass(frozen=True)
class CaseChecklist:
    """The merged checklist of one case, in walk order."""

    catalogue_version: str
    catalogue_fingerprint: str
    matters: tuple[MatterInfo, ...]
    scenarios: tuple[ScenarioInfo, ...]  # in force, including implied ones, by key
    items: tuple[ChecklistItem, ...]
    blocking_findings: tuple[BlockingFinding, ...]

    @property
    def scenario_keys(self) -> tuple[str, ...]:
        return tuple(s.key for s in self.scenarios)

    def item(self, item_id: str) -> ChecklistItem:
        for item in self.items:
            if item.id == item_id:
                return item
        raise KeyError(item_id)


def build_checklist(
    catalogue_or_snapshot: Catalogue | Mapping[str, Any],
    matters: Sequence[str],
    scenarios: Iterable[str] = (),
) -> CaseChecklist:
    """Merge the chosen matters into one checklist.

    Shared items appear once and list every matter they serve; items switched off by the
    scenarios are left out; conflict rules between the matters become blocking findings.
    Order: the walk (门外 → 场所 → 设备 → 人员 → 资料), shared items first in each stage,
    record-only items last. Raises :class:`SelectionError` for unknown matters or scenarios.
    """
    catalogue = (
        catalogue_or_snapshot
        if isinstance(catalogue_or_snapshot, Catalogue)
        else _snapshot_catalogue(catalogue_or_snapshot)
    )
    selected, in_force = catalogue.select(matters, scenarios)
    items = _shared_items(catalogue, selected, in_force) + _own_items(catalogue, selected, in_force)
    return CaseChecklist(
        catalogue_version=catalogue.version,
        catalogue_fingerprint=catalogue.source_fingerprint,
        matters=tuple(_matter_info(m) for m in selected),
        scenarios=_scenario_infos(selected, in_force),
        items=tuple(item for _, item in sorted(items, key=lambda pair: pair[0])),
        blocking_findings=_blocking_findings(catalogue, {m.code for m in selected}),
    )


def checklist_from_snapshot(snapshot: Mapping[str, Any]) -> CaseChecklist:
    """The checklist of a case exactly as it was when its snapshot was taken."""
    return build_checklist(snapshot, snapshot.get("matters", ()), snapshot.get("scenarios", ()))


def _check_format(snapshot: Mapping[str, Any]) -> None:
    if snapshot.get("format") != SNAPSHOT_FORMAT:
        raise SnapshotError(f"not a checklist snapshot (format {snapshot.get('format')!r})")


def _snapshot_catalogue(snapshot: Mapping[str, Any]) -> Catalogue:
    _check_format(snapshot)
    part = snapshot.get("catalogue")
    if not isinstance(part, Mapping):
        raise SnapshotError("checklist snapshot has no catalogue part")
    # Validated like a catalogue file: a tampered or truncated snapshot is refused.
    return Catalogue.model_validate(part)


# Sort key: (stage, record-only last, shared before own, position in its file).
_SortKey = tuple[int, bool, int, int]


def _shared_items(
    catalogue: Catalogue, selected: Sequence[Matter], in_force: frozenset[str]
) -> list[tuple[_SortKey, ChecklistItem]]:
    uses: dict[str, list[tuple[Matter, SharedRef]]] = {}
    for matter in selected:
        for ref in matter.shared:
            if ref.applies(in_force):
                uses.setdefault(ref.ref, []).append((matter, ref))
    result = []
    for position, item in enumerate(catalogue.shared_items):
        if item.id in uses:
            key = (item.stage.rank, item.record_only, 0, position)
            result.append((key, _merge_shared(catalogue, item, uses[item.id])))
    return result


def _merge_shared(
    catalogue: Catalogue, item: Item, uses: Sequence[tuple[Matter, SharedRef]]
) -> ChecklistItem:
    return _checklist_item(
        catalogue,
        item,
        matters=tuple(matter.code for matter, _ in uses),
        aliases=tuple(ref.alias for _, ref in uses if ref.alias),
        notes=tuple(f"（{matter.name}）{ref.note}" for matter, ref in uses if ref.note),
    )


def _own_items(
    catalogue: Catalogue, selected: Sequence[Matter], in_force: frozenset[str]
) -> list[tuple[_SortKey, ChecklistItem]]:
    result = []
    for matter_rank, matter in enumerate(selected, start=1):
        for position, item in enumerate(matter.items):
            if item.applies(in_force):
                key = (item.stage.rank, item.record_only, matter_rank, position)
                result.append((key, _checklist_item(catalogue, item, matters=(matter.code,))))
    return result


def _checklist_item(
    catalogue: Catalogue,
    item: Item,
    *,
    matters: tuple[str, ...],
    aliases: tuple[str, ...] = (),
    notes: tuple[str, ...] = (),
) -> ChecklistItem:
    return ChecklistItem(
        id=item.id,
        category=item.category,
        stage=item.stage,
        title=item.title,
        title_en=item.title_en,
        check=item.check,
        standard=item.standard,
        basis=_resolve_basis(catalogue, item.basis),
        video=item.video,
        key=item.key,
        frequent_problem=item.frequent_problem,
        evidence=item.evidence,
        rectifiable=item.rectifiable,
        blocking=item.blocking,
        record_only=item.record_only,
        guidance=item.guidance,
        documents=item.documents,
        matters=matters,
        aliases=aliases,
        notes=notes,
    )


def _resolve_basis(catalogue: Catalogue, refs: Iterable[str]) -> tuple[LegalBasis, ...]:
    resolved = []
    for ref in refs:
        code = basis_source(ref)
        source = catalogue.sources[code]
        article = ref[len(code) :].strip() or None
        resolved.append(LegalBasis(ref, code, article, source.name, source.grade, source.url))
    return tuple(resolved)


def _matter_info(matter: Matter) -> MatterInfo:
    return MatterInfo(
        matter.code,
        matter.name,
        matter.name_en,
        matter.default_mode,
        matter.default_sla,
        matter.note,
    )


def _scenario_infos(
    selected: Sequence[Matter], in_force: frozenset[str]
) -> tuple[ScenarioInfo, ...]:
    defined = {key: s for matter in selected for key, s in matter.scenarios.items()}
    return tuple(ScenarioInfo(k, defined[k].name, defined[k].name_en) for k in sorted(in_force))


def _blocking_findings(catalogue: Catalogue, codes: set[str]) -> tuple[BlockingFinding, ...]:
    return tuple(
        BlockingFinding(
            rule_id=rule.id,
            matters=(rule.matter, *rule.with_any),
            message_zh=rule.finding,
            message_en=rule.finding_en,
            basis=_resolve_basis(catalogue, rule.basis),
            advice=rule.advice,
        )
        for rule in catalogue.conflicts_among(codes)
    )


# --- verdicts -------------------------------------------------------------------------------


class VerdictValue(StrEnum):
    passed = "pass"
    failed = "fail"
    not_applicable = "not_applicable"
    unclear = "unclear"


@dataclass(frozen=True)
class Verdict:
    """One inspector's mark on one item; each of the two inspectors marks independently."""

    item_id: str
    inspector_id: str
    value: VerdictValue
    note: str = ""
    evidence_refs: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "value", VerdictValue(self.value))


@dataclass(frozen=True)
class Resolution:
    """The lead inspector's decision on an item the two inspectors disagree on."""

    item_id: str
    value: VerdictValue
    reason: str

    def __post_init__(self) -> None:
        object.__setattr__(self, "value", VerdictValue(self.value))
        if not self.reason.strip():
            raise ValueError("裁定必须写明理由 / a resolution needs a reason")


class EvidenceViolation(StrEnum):
    photo_required_on_fail = "photo_required_on_fail"
    photo_required_on_pass = "photo_required_on_pass"


@dataclass(frozen=True)
class ItemState:
    """Where one item stands: both verdicts, agreement, the settled value, evidence."""

    item: ChecklistItem
    verdicts: tuple[Verdict, ...]  # the latest per inspector
    agreed: bool
    disagreement: bool
    resolution: Resolution | None  # only kept when it settles a disagreement
    settled: VerdictValue | None
    evidence_refs: tuple[str, ...]
    evidence_violation: EvidenceViolation | None

    @property
    def awaiting_verdicts(self) -> int:
        return max(0, 2 - len(self.verdicts))


_PHOTO_RULES = {
    VerdictValue.failed: (
        {EvidenceRule.on_fail, EvidenceRule.always},
        EvidenceViolation.photo_required_on_fail,
    ),
    VerdictValue.passed: (
        {EvidenceRule.on_pass, EvidenceRule.always},
        EvidenceViolation.photo_required_on_pass,
    ),
}


def settle(
    checklist: CaseChecklist,
    verdicts: Iterable[Verdict],
    resolutions: Iterable[Resolution] = (),
) -> list[ItemState]:
    """The state of every item, in checklist order.

    An item is settled when both inspectors gave the same value, or when they disagree and
    the lead inspector resolved it. A later verdict of the same inspector replaces the earlier
    one. Raises ValueError for a verdict on an unknown item or from a third inspector.
    """
    by_item = _latest_verdicts(checklist, verdicts)
    resolved = {r.item_id: r for r in resolutions}
    return [
        _state(item, by_item.get(item.id, ()), resolved.get(item.id)) for item in checklist.items
    ]


def _latest_verdicts(
    checklist: CaseChecklist, verdicts: Iterable[Verdict]
) -> dict[str, tuple[Verdict, ...]]:
    known = {item.id for item in checklist.items}
    latest: dict[str, dict[str, Verdict]] = {}
    for verdict in verdicts:
        if verdict.item_id not in known:
            raise ValueError(f"verdict on unknown item {verdict.item_id}")
        per_inspector = latest.setdefault(verdict.item_id, {})
        per_inspector[verdict.inspector_id] = verdict
        if len(per_inspector) > 2:
            raise ValueError(f"item {verdict.item_id} has verdicts from more than two inspectors")
    return {item_id: tuple(v.values()) for item_id, v in latest.items()}


def _state(
    item: ChecklistItem, verdicts: tuple[Verdict, ...], resolution: Resolution | None
) -> ItemState:
    values = {v.value for v in verdicts}
    both = len(verdicts) == 2
    agreed = both and len(values) == 1
    disagreement = both and len(values) > 1
    resolution = resolution if disagreement else None
    settled = verdicts[0].value if agreed else (resolution.value if resolution else None)
    refs = tuple(dict.fromkeys(ref for v in verdicts for ref in v.evidence_refs))
    # Before settling, check what the inspectors marked, so a fail without a photo shows at once.
    checked = {settled} if settled else values
    return ItemState(
        item=item,
        verdicts=verdicts,
        agreed=agreed,
        disagreement=disagreement,
        resolution=resolution,
        settled=settled,
        evidence_refs=refs,
        evidence_violation=None if refs else _missing_photo(item.evidence, checked),
    )


def _missing_photo(rule: EvidenceRule, values: Iterable[VerdictValue]) -> EvidenceViolation | None:
    for value in values:
        rules, violation = _PHOTO_RULES.get(value, (set(), None))
        if rule in rules:
            return violation
    return None


def open_items(states: Iterable[ItemState]) -> list[ItemState]:
    """Items not settled yet (awaiting a verdict or a resolution); record-only items excluded."""
    return [s for s in states if s.settled is None and not s.item.record_only]
