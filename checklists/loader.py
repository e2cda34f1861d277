"""Load and validate the catalogue directory, reporting every problem with file and line.

The directory holds ``shared.yaml`` (version, sources, shared items, conflict rules) and one
``*.yaml`` file per matter; every file other than ``shared.yaml`` is read as a matter.

A catalogue file is input from outside like any other: it is validated at the edge, and a bad
file is rejected with messages a domain expert can act on, e.g.
``food_retail.yaml:42: 未知的共用检查项 SH-99 / unknown shared item SH-99``.
"""

from __future__ import annotations

import re
from collections.abc import Hashable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

from checklists.references import Problem, reference_problems
from checklists.schema import Catalogue, Matter, SharedFile

DEFAULT_CATALOGUE_DIR = Path(__file__).parent / "catalogue"
SHARED_FILE = "shared.yaml"

Loc = tuple[str | int, ...]
M = TypeVar("M", bound=BaseModel)


@dataclass(frozen=True)
class CatalogueIssue:
    """One problem in a catalogue file; ``line`` is 1-based, None when it concerns the file."""

    file: str
    line: int | None
    message_zh: str
    message_en: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else self.file
        return f"{where}: {self.message_zh} / {self.message_en}"


class CatalogueError(Exception):
    """The catalogue does not validate; ``errors`` lists every problem found."""

    def __init__(self, errors: list[CatalogueIssue]) -> None:
        super().__init__("\n".join(str(e) for e in errors))
        self.errors = errors


class _CatalogueYaml(yaml.SafeLoader):
    """YAML 1.1 reads ``yes``/``no``/``on``/``off`` as booleans; here only true/false are.

    The catalogue says ``video: yes`` and means the word, as a domain expert would.
    """


_CatalogueYaml.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers if tag != "tag:yaml.org,2002:bool"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_CatalogueYaml.add_implicit_resolver(
    "tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF")
)


@dataclass
class _Document:
    """A parsed file: plain data plus the line where each value starts."""

    name: str
    data: Any
    lines: dict[Loc, int]

    def line_for(self, loc: Loc) -> int:
        """Line of the deepest part of ``loc`` that exists (a missing field → its mapping)."""
        for end in range(len(loc), -1, -1):
            if loc[:end] in self.lines:
                return self.lines[loc[:end]]
        return 1


def load_catalogue(path: Path | None = None) -> Catalogue:
    """Load the catalogue directory (default: the one shipped in ``checklists/catalogue``).

    Raises :class:`CatalogueError` listing every problem if any file does not validate.
    """
    catalogue, issues = _load(path or DEFAULT_CATALOGUE_DIR)
    if catalogue is None:
        raise CatalogueError(issues)
    return catalogue


def validate_catalogue(path: Path | None = None) -> list[CatalogueIssue]:
    """Every problem in the catalogue directory; empty when it is valid."""
    return _load(path or DEFAULT_CATALOGUE_DIR)[1]


def _load(directory: Path) -> tuple[Catalogue | None, list[CatalogueIssue]]:
    if not directory.is_dir():
        return None, [_file_issue(str(directory), "目录不存在", "catalogue directory not found")]
    paths = sorted(directory.glob("*.yaml"))
    if not any(p.name == SHARED_FILE for p in paths):
        return None, [_file_issue(SHARED_FILE, "缺少共用文件", "shared file is missing")]
    issues: list[CatalogueIssue] = []
    documents = [doc for p in paths if (doc := _read(p, issues)) is not None]
    shared_doc = next((d for d in documents if d.name == SHARED_FILE), None)
    shared = _validate(shared_doc, SharedFile, issues) if shared_doc else None
    matters = _validate_matters([d for d in documents if d.name != SHARED_FILE], issues)
    if shared is None or shared_doc is None or issues:
        return None, _sorted(issues)
    issues += _reference_issues(shared, matters, shared_doc)
    if issues:
        return None, _sorted(issues)
    catalogue = Catalogue(
        version=shared.version,
        sources=shared.sources,
        shared_items=shared.items,
        conflicts=shared.conflicts,
        matters=tuple(matter for matter, _ in matters.values()),
    )
    return catalogue, []


def _validate_matters(
    documents: list[_Document], issues: list[CatalogueIssue]
) -> dict[str, tuple[Matter, _Document]]:
    """Valid matter files by matter code; a code used by two files is an issue."""
    matters: dict[str, tuple[Matter, _Document]] = {}
    for document in documents:
        matter = _validate(document, Matter, issues)
        if matter is None:
            continue
        if matter.code in matters:
            first = matters[matter.code][1].name
            issues.append(
                CatalogueIssue(
                    document.name,
                    document.line_for(("code",)),
                    f"事项代码 {matter.code} 重复（{first} 已使用）",
                    f"duplicate matter code {matter.code} (already used by {first})",
                )
            )
            continue
        matters[matter.code] = (matter, document)
    return matters


def _reference_issues(
    shared: SharedFile,
    matters: Mapping[str, tuple[Matter, _Document]],
    shared_doc: _Document,
) -> list[CatalogueIssue]:
    problems = reference_problems(shared, (matter for matter, _ in matters.values()))
    return [_problem_issue(p, matters[p.matter][1] if p.matter else shared_doc) for p in problems]


def _problem_issue(problem: Problem, document: _Document) -> CatalogueIssue:
    return CatalogueIssue(
        document.name, document.line_for(problem.loc), problem.message_zh, problem.message_en
    )


def _read(path: Path, issues: list[CatalogueIssue]) -> _Document | None:
    """Parse one YAML file keeping line numbers; problems go to ``issues``."""
    try:
        text = path.read_text(encoding="utf-8")
        node = yaml.compose(text, Loader=_CatalogueYaml)
    except UnicodeDecodeError:
        issues.append(_file_issue(path.name, "文件不是 UTF-8 编码", "file is not UTF-8 text"))
        return None
    except yaml.MarkedYAMLError as exc:
        issues.append(_yaml_issue(path.name, exc))
        return None
    if node is None:
        issues.append(_file_issue(path.name, "文件是空的", "file is empty"))
        return None
    document = _Document(path.name, None, {})
    document.data = _to_data(node, (), document, issues)
    return document


def _to_data(node: yaml.Node, loc: Loc, document: _Document, issues: list[CatalogueIssue]) -> Any:
    """Build plain Python data from a composed node, recording each value's line."""
    document.lines[loc] = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        return _mapping_to_data(node, loc, document, issues)
    if isinstance(node, yaml.SequenceNode):
        return [_to_data(child, (*loc, i), document, issues) for i, child in enumerate(node.value)]
    return _CONSTRUCTOR.construct_object(node, deep=True)


def _mapping_to_data(
    node: yaml.MappingNode, loc: Loc, document: _Document, issues: list[CatalogueIssue]
) -> dict[Any, Any]:
    result: dict[Any, Any] = {}
    for key_node, value_node in node.value:
        key = _CONSTRUCTOR.construct_object(key_node, deep=True)
        line = key_node.start_mark.line + 1
        if not isinstance(key, Hashable) or isinstance(key, list | dict):
            issues.append(CatalogueIssue(document.name, line, "键必须是文本", "key must be text"))
            continue
        if key in result:
            # PyYAML would silently keep the last value; an expert's typo must not vanish.
            issues.append(
                CatalogueIssue(document.name, line, f"重复的键 {key}", f"duplicate key {key}")
            )
            continue
        part = key if isinstance(key, str | int) else str(key)
        result[key] = _to_data(value_node, (*loc, part), document, issues)
    return result


_CONSTRUCTOR = yaml.constructor.SafeConstructor()


def _validate(document: _Document, model: type[M], issues: list[CatalogueIssue]) -> M | None:
    if not isinstance(document.data, dict):
        issues.append(
            CatalogueIssue(document.name, 1, "文件顶层应为键值映射", "top level must be a mapping")
        )
        return None
    try:
        return model.model_validate(document.data)
    except ValidationError as exc:
        issues += [_pydantic_issue(document, error) for error in exc.errors(include_url=False)]
        return None


# Chinese texts for the pydantic errors a catalogue author meets; others fall back to a
# generic text next to pydantic's English message.
_ZH_ERRORS = {
    "missing": "缺少必填字段",
    "extra_forbidden": "不认识的字段（是否拼错了？）",
    "string_type": "应为文本",
    "string_too_short": "不能为空",
    "string_pattern_mismatch": "格式不符合要求",
    "bool_type": "应为 true 或 false",
    "bool_parsing": "应为 true 或 false",
    "enum": "取值不在允许范围内",
    "literal_error": "取值不在允许范围内",
    "tuple_type": "应为列表",
    "list_type": "应为列表",
    "dict_type": "应为键值映射",
    "model_type": "应为键值映射",
    "too_short": "条目太少",
}


def _pydantic_issue(document: _Document, error: ErrorDetails) -> CatalogueIssue:
    loc = tuple(error["loc"])
    field = _format_loc(loc)
    message = error["msg"]
    if error["type"] == "value_error":
        # Our own validators already write "English / 中文".
        text = message.removeprefix("Value error, ")
        en, _, zh = text.partition(" / ")
        zh = zh or en
    else:
        zh, en = _ZH_ERRORS.get(error["type"], "取值无效"), message
        if "expected" in error.get("ctx", {}):
            zh += f"（可选：{error['ctx']['expected']}）"
    return CatalogueIssue(
        document.name, document.line_for(loc), f"字段 {field}：{zh}", f"field {field}: {en}"
    )


def _format_loc(loc: Loc) -> str:
    text = ""
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text or "(文件)"


def _yaml_issue(name: str, exc: yaml.MarkedYAMLError) -> CatalogueIssue:
    mark = exc.problem_mark or exc.context_mark
    line = mark.line + 1 if mark else None
    problem = exc.problem or "syntax error"
    return CatalogueIssue(name, line, f"YAML 格式错误：{problem}", f"malformed YAML: {problem}")


def _file_issue(name: str, zh: str, en: str) -> CatalogueIssue:
    return CatalogueIssue(name, None, zh, en)


def _sorted(issues: list[CatalogueIssue]) -> list[CatalogueIssue]:
    return sorted(issues, key=lambda i: (i.file, i.line or 0))
