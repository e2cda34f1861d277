"""Catalogue schema (检查项目录): the pydantic models every catalogue file is validated against.

The catalogue is data written by domain experts (``checklists/catalogue/*.yaml``); these models
say what a file may contain. Cross-file rules (unknown shared item, unknown source, unknown
scenario…) live in :mod:`checklists.references`, shared by the loader (which adds file and
line) and by :class:`Catalogue` itself (so a stored snapshot is checked the same way).
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable, Mapping
from enum import StrEnum
from functools import cached_property
from typing import Annotated, Any, Literal, Self

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    model_validator,
)

from checklists.references import reference_problems

ItemId = Annotated[str, StringConstraints(pattern=r"^[A-Z]{2}-\d{2}$")]
MatterCode = Annotated[str, StringConstraints(pattern=r"^[A-Z]{2}$")]
ScenarioKey = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]*$")]
SourceCode = Annotated[str, StringConstraints(pattern=r"^[A-Z][A-Za-z0-9-]*$")]
_CJK = r"[\u2018-\u201d\u2014\u2026\u3000-\u303f\u3400-\u4dbf\u4e00-\u9fff\uff00-\uffef]"
_SPACE_BETWEEN_CJK = re.compile(rf"(?<={_CJK})\s+(?={_CJK})")


def tidy_text(text: str) -> str:
    """Drop the spaces YAML's folded lines leave between Chinese characters.

    ``>-`` blocks join lines with a space, right for English, wrong for Chinese; spaces next
    to Latin text ("25 m", "4G 或 Wi-Fi") are kept.
    """
    return _SPACE_BETWEEN_CJK.sub("", text.strip())


def _tidy_optional(text: str | None) -> str | None:
    return tidy_text(text) if text else text


Text = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1), AfterValidator(tidy_text)
]
OptionalText = Annotated[str | None, AfterValidator(_tidy_optional)]
# A legal-basis reference: a source code, optionally followed by a space and the article.
BasisRef = Annotated[str, StringConstraints(pattern=r"^[A-Z][A-Za-z0-9-]*( \S.*)?$")]


class Category(StrEnum):
    """Kind of requirement (类): 制度 / 人员 / 场所 / 设备 / 管理."""

    rules = "rules"
    personnel = "personnel"
    premises = "premises"
    equipment = "equipment"
    management = "management"

    @property
    def label_zh(self) -> str:
        return _CATEGORY_LABELS[self][0]

    @property
    def label_en(self) -> str:
        return _CATEGORY_LABELS[self][1]


_CATEGORY_LABELS = {
    Category.rules: ("制度", "Rules"),
    Category.personnel: ("人员", "Personnel"),
    Category.premises: ("场所", "Premises"),
    Category.equipment: ("设备", "Equipment"),
    Category.management: ("管理", "Management"),
}


class VideoCheck(StrEnum):
    """Can the item be verified over live video (视频核验)?"""

    yes = "yes"
    partly = "partly"  # needs tape measure on camera, several angles, plan comparison
    no = "no"  # needs instruments or a desk check


class EvidenceRule(StrEnum):
    """When a photo (snapshot) must be tied to the item."""

    never = "never"
    on_fail = "on_fail"
    on_pass = "on_pass"  # e.g. a test report that exists only when the item passes
    always = "always"


class InspectionMode(StrEnum):
    online_video = "online_video"
    offline_onsite = "offline_onsite"


class SlaClass(StrEnum):
    """Time class: simple 1 h · general 1 working day · re-inspection · complex 3 days."""

    simple = "simple"
    general = "general"
    reinspection = "reinspection"
    complex = "complex"


class WalkStage(StrEnum):
    """Where in the walk an item is checked; the checklist is ordered by these stages."""

    outside = "outside"  # door plate, address, surroundings
    premises = "premises"  # walk the floor plan along the process flow
    equipment = "equipment"
    personnel = "personnel"
    documents = "documents"  # licences, rules, ledgers, systems

    @property
    def rank(self) -> int:
        return list(WalkStage).index(self)


DEFAULT_STAGE = {
    Category.premises: WalkStage.premises,
    Category.equipment: WalkStage.equipment,
    Category.personnel: WalkStage.personnel,
    Category.rules: WalkStage.documents,
    Category.management: WalkStage.documents,
}


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Source(_Model):
    """A legal or reference source (依据来源) with its reliability grade A–D."""

    name: Text
    url: str | None = None
    location: str | None = None  # where the text was read when there is no stable URL
    grade: Literal["A", "B", "C", "D"]
    note: str | None = None


class Item(_Model):
    """One checklist item (检查项)."""

    id: ItemId
    category: Category
    title: Text
    title_en: Text
    walk: WalkStage | None = None  # overrides the stage implied by the category
    check: Text
    standard: OptionalText = None
    basis: tuple[BasisRef, ...] = Field(min_length=1)
    video: VideoCheck
    key: bool = False  # ★ key point
    frequent_problem: OptionalText = None  # a frequent failure, quoted in the applicant's guide
    evidence: EvidenceRule
    rectifiable: bool
    blocking: bool = False  # a failure is a blocking finding, not just "not rectifiable"
    record_only: bool = False  # noted in the record, never decides the outcome
    guidance: Text
    documents: tuple[Text, ...] = ()
    when: tuple[ScenarioKey, ...] = ()  # only if one of these scenarios applies
    unless: tuple[ScenarioKey, ...] = ()  # not if one of these scenarios applies

    @model_validator(mode="after")
    def _blocking_is_not_rectifiable(self) -> Self:
        if self.blocking and self.rectifiable:
            raise ValueError("a blocking item cannot be rectifiable / 否决项不能标为可整改")
        return self

    @property
    def stage(self) -> WalkStage:
        return self.walk or DEFAULT_STAGE[self.category]

    def applies(self, scenarios: frozenset[str]) -> bool:
        return _switched_on(self.when, self.unless, scenarios)


class SharedRef(_Model):
    """A matter's use of a shared item, with the matter's own number and additions."""

    ref: ItemId
    alias: ItemId | None = None  # the matter's own number for it, e.g. FS-09 → SH-04
    note: OptionalText = None  # what this matter adds to the shared check
    when: tuple[ScenarioKey, ...] = ()
    unless: tuple[ScenarioKey, ...] = ()

    def applies(self, scenarios: frozenset[str]) -> bool:
        return _switched_on(self.when, self.unless, scenarios)


class Scenario(_Model):
    """A situation (情形) of the applicant that switches items on or off."""

    name: Text
    name_en: Text
    implies: tuple[ScenarioKey, ...] = ()


class Matter(_Model):
    """An approval matter (事项) and its checklist: one catalogue file."""

    code: MatterCode
    name: Text
    name_en: Text
    default_mode: InspectionMode
    default_sla: SlaClass  # the promised time (承诺时限) of an inspection of this matter
    # False for a matter handled without an inspection (e.g. a filing, 备案): in a joint case
    # it does not decide the mode or the promised time.
    needs_inspection: bool = True
    note: OptionalText = None
    scenarios: dict[ScenarioKey, Scenario] = Field(default_factory=dict)
    shared: tuple[SharedRef, ...] = ()
    items: tuple[Item, ...] = ()


class ConflictRule(_Model):
    """Matters that must not share one site (e.g. pesticides next to food, NT28)."""

    id: Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_-]*$")]
    matter: MatterCode
    with_any: tuple[MatterCode, ...] = Field(min_length=1)
    basis: tuple[BasisRef, ...] = Field(min_length=1)
    finding: Text
    finding_en: Text
    advice: OptionalText = None


class SharedFile(_Model):
    """``shared.yaml``: version, sources, shared items and cross-matter rules."""

    version: Text
    sources: dict[SourceCode, Source]
    items: tuple[Item, ...]
    conflicts: tuple[ConflictRule, ...] = ()


class SelectionError(ValueError):
    """Matters or scenarios asked for that the catalogue does not have."""

    def __init__(self, message_zh: str, message_en: str) -> None:
        super().__init__(f"{message_zh} / {message_en}")
        self.message_zh = message_zh
        self.message_en = message_en


class Catalogue(_Model):
    """The whole catalogue (or the frozen part of it stored in a case)."""

    version: Text
    sources: dict[SourceCode, Source]
    shared_items: tuple[Item, ...]
    conflicts: tuple[ConflictRule, ...] = ()
    matters: tuple[Matter, ...]
    # Set on a snapshot: the fingerprint of the full catalogue it was cut from.
    origin_fingerprint: str | None = None

    @model_validator(mode="after")
    def _references_resolve(self) -> Self:
        problems = reference_problems(
            SharedFile(
                version=self.version,
                sources=self.sources,
                items=self.shared_items,
                conflicts=self.conflicts,
            ),
            self.matters,
        )
        if problems:
            raise ValueError("; ".join(p.message_en for p in problems))
        return self

    @cached_property
    def fingerprint(self) -> str:
        """sha256 over the canonical JSON of the content (formatting and comments ignored)."""
        canonical = json.dumps(
            self.model_dump(mode="json"), sort_keys=True, ensure_ascii=False, separators=(",", ":")
        )
        return hashlib.sha256(canonical.encode("utf-8")).hexdigest()

    @property
    def source_fingerprint(self) -> str:
        """Fingerprint of the catalogue a case's checklist came from."""
        return self.origin_fingerprint or self.fingerprint

    @cached_property
    def shared_by_id(self) -> dict[str, Item]:
        return {item.id: item for item in self.shared_items}

    def matter(self, code: str) -> Matter:
        for matter in self.matters:
            if matter.code == code:
                return matter
        known = "、".join(m.code for m in self.matters)
        raise SelectionError(
            f"未知的事项 {code}（可选：{known}）", f"unknown matter {code} (known: {known})"
        )

    def select(
        self, matters: Iterable[str], scenarios: Iterable[str]
    ) -> tuple[tuple[Matter, ...], frozenset[str]]:
        """Matters in catalogue order and the scenarios in force (with the implied ones).

        Raises :class:`SelectionError` for an unknown matter or a scenario that none of the
        chosen matters defines.
        """
        codes = list(dict.fromkeys(matters))
        if not codes:
            raise SelectionError("至少选择一个事项", "choose at least one matter")
        chosen = {self.matter(code).code for code in codes}
        selected = tuple(m for m in self.matters if m.code in chosen)
        defined: dict[str, Scenario] = {}
        for matter in selected:
            defined.update(matter.scenarios)
        for key in scenarios:
            if key not in defined:
                raise SelectionError(
                    f"所选事项没有情形 {key}", f"no scenario {key} in the chosen matters"
                )
        return selected, _close_scenarios(set(scenarios), defined)

    def conflicts_among(self, codes: Iterable[str]) -> tuple[ConflictRule, ...]:
        """The conflict rules that fire among ``codes``, trimmed to name only those matters."""
        chosen = set(codes)
        kept = []
        for rule in self.conflicts:
            others = tuple(code for code in rule.with_any if code in chosen)
            if rule.matter in chosen and others:
                kept.append(rule.model_copy(update={"with_any": others}))
        return tuple(kept)

    def snapshot_for(self, matters: Iterable[str], scenarios: Iterable[str]) -> dict[str, Any]:
        """A frozen, JSON-serialisable copy of what a case needs; stored when inspection starts.

        Later edits of the catalogue never change a case built from its snapshot.
        """
        requested = sorted(set(scenarios))
        selected, _ = self.select(matters, requested)
        codes = {m.code for m in selected}
        used_shared = {ref.ref for m in selected for ref in m.shared}
        part = Catalogue(
            version=self.version,
            sources=self.sources,
            shared_items=tuple(i for i in self.shared_items if i.id in used_shared),
            conflicts=self.conflicts_among(codes),
            matters=selected,
            origin_fingerprint=self.source_fingerprint,
        )
        return {
            "format": SNAPSHOT_FORMAT,
            "catalogue_version": self.version,
            "catalogue_fingerprint": self.source_fingerprint,
            "matters": [m.code for m in selected],
            "scenarios": requested,
            "catalogue": part.model_dump(mode="json"),
        }


SNAPSHOT_FORMAT = "cloudinspect/checklist-snapshot@1"


def _switched_on(when: tuple[str, ...], unless: tuple[str, ...], scenarios: frozenset[str]) -> bool:
    if when and not scenarios.intersection(when):
        return False
    return not scenarios.intersection(unless)


def _close_scenarios(start: set[str], defined: Mapping[str, Scenario]) -> frozenset[str]:
    """Add the scenarios implied by the chosen ones (集体用餐配送 ⇒ 须留样)."""
    result = set(start)
    pending = list(start)
    while pending:
        for implied in defined[pending.pop()].implies:
            if implied not in result:
                result.add(implied)
                pending.append(implied)
    return frozenset(result)
