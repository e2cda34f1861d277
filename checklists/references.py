"""Cross-file rules of the catalogue: every reference must point at something, ids are unique.

Shared by the loader (which adds file and line to each :class:`Problem`) and by
:class:`checklists.schema.Catalogue` itself (so a stored snapshot is checked the same way).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from checklists.schema import Item, Matter, SharedFile, Source


def basis_source(ref: str) -> str:
    """The source code of a basis reference: ``"FSL 33(2)"`` → ``"FSL"``."""
    return ref.split(" ", 1)[0]


@dataclass(frozen=True)
class Problem:
    """A cross-reference problem; ``matter`` is None for shared.yaml, ``loc`` is in that file."""

    matter: str | None
    loc: tuple[str | int, ...]
    message_zh: str
    message_en: str


def reference_problems(shared: SharedFile, matters: Iterable[Matter]) -> list[Problem]:
    """Every reference in the catalogue that points at nothing, and every duplicate."""
    matters = tuple(matters)
    seen_ids: dict[str, str] = {}
    problems = _shared_file_problems(shared) + _duplicate_ids(None, shared.items, seen_ids)
    seen_codes: set[str] = set()
    for matter in matters:
        if matter.code in seen_codes:
            problems.append(
                Problem(
                    matter.code,
                    ("code",),
                    f"事项代码 {matter.code} 重复",
                    f"duplicate matter code {matter.code}",
                )
            )
        seen_codes.add(matter.code)
        problems += _matter_problems(matter, shared)
        problems += _duplicate_ids(matter.code, matter.items, seen_ids)
    return problems + _conflict_problems(shared, seen_codes)


def _duplicate_ids(
    matter: str | None, items: Iterable[Item], seen: dict[str, str]
) -> list[Problem]:
    """Item ids are unique across all files; ``seen`` maps an id to where it was first defined."""
    here = f"事项 {matter}" if matter else "shared.yaml"
    problems = []
    for index, item in enumerate(items):
        if item.id in seen:
            problems.append(
                Problem(
                    matter,
                    ("items", index, "id"),
                    f"检查项编号 {item.id} 重复（已在 {seen[item.id]} 中定义）",
                    f"duplicate item id {item.id} (already defined in {seen[item.id]})",
                )
            )
        else:
            seen[item.id] = here
    return problems


def _conflict_problems(shared: SharedFile, codes: set[str]) -> list[Problem]:
    problems = []
    for index, rule in enumerate(shared.conflicts):
        named: list[tuple[tuple[str | int, ...], str]] = [
            (("conflicts", index, "matter"), rule.matter)
        ]
        named += [(("conflicts", index, "with_any", i), c) for i, c in enumerate(rule.with_any)]
        problems += [
            Problem(
                None,
                loc,
                f"冲突规则提到未知的事项 {code}",
                f"conflict rule names unknown matter {code}",
            )
            for loc, code in named
            if code not in codes
        ]
    return problems


def _shared_file_problems(shared: SharedFile) -> list[Problem]:
    problems = _basis_problems(None, ("items",), shared.items, shared.sources)
    for index, rule in enumerate(shared.conflicts):
        problems += _source_refs(None, ("conflicts", index, "basis"), rule.basis, shared.sources)
    for index, item in enumerate(shared.items):
        if item.when or item.unless:
            problems.append(
                Problem(
                    None,
                    ("items", index, "when" if item.when else "unless"),
                    f"共用检查项 {item.id} 不能自带情形，请写在事项文件的引用处",
                    f"shared item {item.id} cannot carry scenarios; put them on the matter's ref",
                )
            )
    return problems


def _matter_problems(matter: Matter, shared: SharedFile) -> list[Problem]:
    code = matter.code
    problems = _basis_problems(code, ("items",), matter.items, shared.sources)
    known_shared = {item.id for item in shared.items}
    referenced: set[str] = set()
    for index, ref in enumerate(matter.shared):
        if ref.ref not in known_shared:
            zh, en = f"未知的共用检查项 {ref.ref}", f"unknown shared item {ref.ref}"
        elif ref.ref in referenced:
            zh, en = f"重复引用共用检查项 {ref.ref}", f"shared item {ref.ref} referenced twice"
        else:
            referenced.add(ref.ref)
            continue
        problems.append(Problem(code, ("shared", index, "ref"), zh, en))
    return problems + _scenario_problems(matter)


def _scenario_problems(matter: Matter) -> list[Problem]:
    """Every scenario named in a matter file must be declared under its ``scenarios``."""
    named: list[tuple[tuple[str | int, ...], str]] = []
    for key, scenario in matter.scenarios.items():
        named += [(("scenarios", key, "implies", i), s) for i, s in enumerate(scenario.implies)]
    for group, entries in (("shared", matter.shared), ("items", matter.items)):
        for index, entry in enumerate(entries):
            for field in ("when", "unless"):
                values: tuple[str, ...] = getattr(entry, field)
                named += [((group, index, field, i), s) for i, s in enumerate(values)]
    return [
        Problem(matter.code, loc, f"未定义的情形 {key}", f"unknown scenario {key}")
        for loc, key in named
        if key not in matter.scenarios
    ]


def _basis_problems(
    matter: str | None,
    prefix: tuple[str | int, ...],
    items: Iterable[Item],
    sources: Mapping[str, Source],
) -> list[Problem]:
    problems: list[Problem] = []
    for index, item in enumerate(items):
        problems += _source_refs(matter, (*prefix, index, "basis"), item.basis, sources)
    return problems


def _source_refs(
    matter: str | None,
    loc: tuple[str | int, ...],
    refs: Iterable[str],
    sources: Mapping[str, Source],
) -> list[Problem]:
    return [
        Problem(
            matter,
            (*loc, index),
            f"未知的依据来源代码 {basis_source(ref)}",
            f"unknown source code {basis_source(ref)}",
        )
        for index, ref in enumerate(refs)
        if basis_source(ref) not in sources
    ]
