"""Zero-basis preparation guide (零基础准备指南) for the applicant, built from the checklist.

The guide is plain data (:func:`build_guide`); it renders to a self-contained HTML page for a
phone (:func:`render_guide_html`). The PDF, which needs an embedded CJK font, is rendered by
the server (``server/inspection/guide_pdf.py``) from the same data and the same text helpers
below. The applicant reads it before the video call: what to prepare, what the inspectors will
ask to see and in which order, the key points and frequent problems.
"""

from __future__ import annotations

from dataclasses import dataclass
from html import escape

from checklists.engine import (
    BlockingFinding,
    CaseChecklist,
    ChecklistItem,
    MatterInfo,
    ScenarioInfo,
)
from checklists.schema import VideoCheck, WalkStage

Bilingual = tuple[str, str]  # (zh, en)


@dataclass(frozen=True)
class GuideStep:
    """One stop of the walk: what the applicant shows for one checklist item."""

    number: int
    item_id: str
    stage: WalkStage
    title: str
    title_en: str
    show: str  # plain-language guidance: what to prepare and show the camera
    check: str
    standard: str | None
    documents: tuple[str, ...]
    key: bool
    frequent_problem: str | None
    notes: tuple[str, ...]
    video: VideoCheck
    rectifiable: bool


@dataclass(frozen=True)
class GuideSection:
    stage: WalkStage
    title: Bilingual
    intro: Bilingual
    steps: tuple[GuideStep, ...]


@dataclass(frozen=True)
class GuideDocument:
    """A document to have at hand, and the items it is shown for."""

    name: str
    item_ids: tuple[str, ...]


@dataclass(frozen=True)
class Guide:
    matters: tuple[MatterInfo, ...]
    scenarios: tuple[ScenarioInfo, ...]
    catalogue_version: str
    tips: tuple[Bilingual, ...]
    documents: tuple[GuideDocument, ...]
    key_points: tuple[GuideStep, ...]
    frequent_problems: tuple[GuideStep, ...]
    sections: tuple[GuideSection, ...]
    warnings: tuple[BlockingFinding, ...]


STAGE_TEXT: dict[WalkStage, tuple[Bilingual, Bilingual]] = {
    WalkStage.outside: (
        ("门外：门牌和周边", "Outside: door plate and surroundings"),
        (
            "先站在门外，拍清门牌号和店招，再原地转一圈拍周边环境。",
            "Start outside at the door plate.",
        ),
    ),
    WalkStage.premises: (
        ("场所：按动线走一遍", "Premises: walk the route"),
        ("拿着平面图，从进货口走到出货口，每个功能区停一停。", "Walk the floor plan in order."),
    ),
    WalkStage.equipment: (
        ("设备设施", "Equipment"),
        ("设备提前通电开机，温度、读数要能看清。", "Switch equipment on beforehand."),
    ),
    WalkStage.personnel: (
        ("人员", "Staff"),
        ("相关人员本人在场，证件按名册排好。", "Have the people concerned present."),
    ),
    WalkStage.documents: (
        ("资料和制度", "Documents and rules"),
        (
            "证照、合同、制度、台账放在一张桌子上，逐份对着镜头。",
            "Show each document to the camera.",
        ),
    ),
}

VIDEO_TIPS: tuple[Bilingual, ...] = (
    ("手机充满电，准备好充电宝或充电线。", "Charge the phone fully; keep a power bank at hand."),
    (
        "用信号好的 4G/5G 或 Wi-Fi，提前在店里各处试一下；关掉其他占网速的应用。",
        "Use good 4G/5G or Wi-Fi and test it everywhere on the route; close other apps.",
    ),
    (
        "提前打开链接做一次摄像头和网络检测，允许浏览器使用摄像头和麦克风。",
        "Open the link early, run the camera/network check, allow camera and microphone.",
    ),
    (
        "开始时站在门外，先拍门牌号，让地址清楚入镜。",
        "Start outside with the door plate and the address clearly in view.",
    ),
    (
        "按本指南的顺序走：门外 → 场所 → 设备 → 人员 → 资料；走慢一点，每处停两三秒。",
        "Walk the route in this guide's order, slowly, pausing two or three seconds at each stop.",
    ),
    (
        "打开所有灯，冷柜、消毒柜、紫外线灯、排风扇等提前通电。",
        "Turn all lights on and switch fridges, sterilisers, UV lamps and fans on beforehand.",
    ),
    (
        "卷尺或激光测距仪、平面图、证件和资料放在手边。",
        "Keep a tape measure, the floor plan, licences and documents at hand.",
    ),
    (
        "核查人员会截图留证，全程录像；听从核查人员的指挥移动镜头。",
        "Inspectors take snapshots and the call is recorded; move the camera as they ask.",
    ),
)


def build_guide(checklist: CaseChecklist) -> Guide:
    """The preparation guide for a case, from its checklist (walk order kept)."""
    steps = [_step(number, item) for number, item in enumerate(checklist.items, start=1)]
    by_stage: dict[WalkStage, list[GuideStep]] = {}
    for step in steps:
        by_stage.setdefault(step.stage, []).append(step)
    return Guide(
        matters=checklist.matters,
        scenarios=checklist.scenarios,
        catalogue_version=checklist.catalogue_version,
        tips=VIDEO_TIPS,
        documents=_documents(checklist.items),
        key_points=tuple(s for s in steps if s.key),
        frequent_problems=tuple(s for s in steps if s.frequent_problem),
        sections=tuple(
            GuideSection(stage, *STAGE_TEXT[stage], tuple(by_stage[stage]))
            for stage in WalkStage
            if stage in by_stage
        ),
        warnings=checklist.blocking_findings,
    )


def _step(number: int, item: ChecklistItem) -> GuideStep:
    return GuideStep(
        number=number,
        item_id=item.id,
        stage=item.stage,
        title=item.title,
        title_en=item.title_en,
        show=item.guidance,
        check=item.check,
        standard=item.standard,
        documents=item.documents,
        key=item.key,
        frequent_problem=item.frequent_problem,
        notes=item.notes,
        video=item.video,
        rectifiable=item.rectifiable,
    )


def _documents(items: tuple[ChecklistItem, ...]) -> tuple[GuideDocument, ...]:
    """Each document once, in the order it is first needed, with the items needing it."""
    needed: dict[str, list[str]] = {}
    for item in items:
        for name in item.documents:
            needed.setdefault(name, []).append(item.id)
    return tuple(GuideDocument(name, tuple(ids)) for name, ids in needed.items())


# --- text shared by the HTML below and the server's PDF (server/inspection/guide_pdf.py) -----

LABELS: dict[str, Bilingual] = {
    "title": ("云踏勘零基础准备指南", "Cloud inspection: preparation guide"),
    "matters": ("申请事项", "Matters"),
    "scenarios": ("适用情形", "Scenarios"),
    "warnings": ("请先处理：冲突事项", "Resolve first: conflicting matters"),
    "tips": ("视频前准备", "Before the video call"),
    "documents": ("放在手边的材料", "Documents to have at hand"),
    "key_points": ("重点项（★）和常见问题", "Key points (★) and frequent problems"),
    "route": ("核查人员会按这个顺序看", "The order the inspectors will follow"),
    "show": ("要准备和拍到的", "Prepare and show"),
    "standard": ("标准", "Standard"),
    "problem": ("常见问题", "Frequent problem"),
    "need": ("材料", "Documents"),
    "not_video": ("这一项不需要在视频里展示", "Not shown on video"),
    "not_rectifiable": ("不合格时无法靠补拍照片整改", "Cannot be fixed by rectification photos"),
    "version": ("检查项目录版本", "Catalogue version"),
    "zh_only": ("", "Item details are in Chinese."),
}


def pick(pair: Bilingual, lang: str) -> str:
    return pair[0] if lang == "zh" else pair[1]


def label(key: str, lang: str) -> str:
    return pick(LABELS[key], lang)


def step_title(step: GuideStep, lang: str) -> str:
    return pick((step.title, step.title_en), lang)


def matter_line(guide: Guide, lang: str) -> str:
    names = "、".join(pick((m.name, m.name_en), lang) for m in guide.matters)
    return f"{label('matters', lang)}：{names}"


def scenario_line(guide: Guide, lang: str) -> str | None:
    if not guide.scenarios:
        return None
    names = "、".join(pick((s.name, s.name_en), lang) for s in guide.scenarios)
    return f"{label('scenarios', lang)}：{names}"


def warning_text(finding: BlockingFinding, lang: str) -> str:
    text = pick((finding.message_zh, finding.message_en), lang)
    return f"{text} {finding.advice}" if finding.advice and lang == "zh" else text


def document_line(document: GuideDocument) -> str:
    return f"□ {document.name}（{'、'.join(document.item_ids)}）"


def step_heading(step: GuideStep, lang: str) -> str:
    return f"{'★ ' if step.key else ''}{step.number}. {step.item_id} {step_title(step, lang)}"


def step_lines(step: GuideStep, lang: str) -> list[str]:
    """The plain lines of a step, shared by the HTML and the PDF."""
    lines = [f"{label('show', lang)}：{step.show}", *step.notes]
    if step.standard:
        lines.append(f"{label('standard', lang)}：{step.standard}")
    if step.documents:
        lines.append(f"{label('need', lang)}：{'、'.join(step.documents)}")
    if step.video is VideoCheck.no:
        lines.append(label("not_video", lang))
    if not step.rectifiable:
        lines.append(label("not_rectifiable", lang))
    return lines


def check_lang(lang: str) -> None:
    if lang not in ("zh", "en"):
        raise ValueError(f"unsupported language {lang!r}; use 'zh' or 'en'")


# --- HTML -------------------------------------------------------------------------------------

_CSS = """
*{box-sizing:border-box}
body{margin:0;font:16px/1.6 -apple-system,"PingFang SC","Noto Sans CJK SC",sans-serif;
color:#1f2328;background:#f6f8fa}
main{max-width:40rem;margin:0 auto;padding:12px}
h1{font-size:1.4rem;margin:.5rem 0}
h2{font-size:1.15rem;margin:1.5rem 0 .5rem;border-left:4px solid #0969da;padding-left:8px}
h3{font-size:1.05rem;margin:.75rem 0 .25rem}
section{background:#fff;border-radius:8px;padding:4px 12px 12px;margin-bottom:12px}
ul,ol{padding-left:1.2rem}
ol.route{list-style:none;padding:0}
li.step{margin:8px 0;padding:8px 12px;border:1px solid #d0d7de;border-radius:8px}
li.key{border-color:#bf8700;background:#fff8c5}
.problem{color:#cf222e}
ul.plain{list-style:none;padding-left:0}
.warning{border:2px solid #cf222e}
.muted{color:#57606a;font-size:.9rem}
p,li{margin:.25rem 0;overflow-wrap:break-word}
"""


def _tag(name: str, text: str, css_class: str | None = None) -> str:
    attr = f' class="{css_class}"' if css_class else ""
    return f"<{name}{attr}>{escape(text)}</{name}>"


def render_guide_html(guide: Guide, lang: str = "zh") -> str:
    """A self-contained page (no external assets), readable on a 360 px wide phone."""
    check_lang(lang)
    title = label("title", lang)
    header = [_tag("h1", title), _tag("p", matter_line(guide, lang))]
    if scenarios := scenario_line(guide, lang):
        header.append(_tag("p", scenarios))
    if lang == "en":
        header.append(_tag("p", label("zh_only", lang), "muted"))
    parts = [
        *header,
        _html_warnings(guide, lang),
        _html_list(label("tips", lang), [pick(tip, lang) for tip in guide.tips]),
        _html_list(label("documents", lang), [document_line(d) for d in guide.documents], "plain"),
        _html_key_points(guide, lang),
        _tag("h2", label("route", lang)),
        *(_html_section(number, section, lang) for number, section in enumerate(guide.sections, 1)),
        _tag("p", f"{label('version', lang)}：{guide.catalogue_version}", "muted"),
    ]
    return (
        f'<!doctype html><html lang="{"zh-CN" if lang == "zh" else "en"}"><head>'
        '<meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">'
        f"{_tag('title', title)}<style>{_CSS}</style></head>"
        f"<body><main>{''.join(parts)}</main></body></html>"
    )


def _html_list(heading: str, entries: list[str], css_class: str | None = None) -> str:
    items = "".join(_tag("li", entry) for entry in entries)
    attr = f' class="{css_class}"' if css_class else ""
    return f"<section>{_tag('h2', heading)}<ul{attr}>{items}</ul></section>"


def _html_warnings(guide: Guide, lang: str) -> str:
    if not guide.warnings:
        return ""
    entries = "".join(_tag("li", warning_text(w, lang)) for w in guide.warnings)
    heading = _tag("h2", f"！{label('warnings', lang)}")
    return f'<section class="warning">{heading}<ul>{entries}</ul></section>'


def _html_key_points(guide: Guide, lang: str) -> str:
    keys = [f"★ {s.item_id} {step_title(s, lang)}" for s in guide.key_points]
    problems = [f"{s.item_id} {s.frequent_problem}" for s in guide.frequent_problems]
    return _html_list(label("key_points", lang), keys) + _html_list(
        label("problem", lang), problems, "problem"
    )


def _html_section(number: int, section: GuideSection, lang: str) -> str:
    steps = "".join(_html_step(step, lang) for step in section.steps)
    return (
        f"<section>{_tag('h3', f'{number}. {pick(section.title, lang)}')}"
        f"{_tag('p', pick(section.intro, lang), 'muted')}"
        f'<ol class="route">{steps}</ol></section>'
    )


def _html_step(step: GuideStep, lang: str) -> str:
    lines = [_tag("h3", step_heading(step, lang))]
    lines += [_tag("p", line) for line in step_lines(step, lang)]
    if step.frequent_problem:
        lines.append(_tag("p", f"{label('problem', lang)}：{step.frequent_problem}", "problem"))
    return f'<li class="step{" key" if step.key else ""}">{"".join(lines)}</li>'
