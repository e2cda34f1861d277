"""The preparation guide (零基础准备指南) as an A4 PDF, with the CJK font embedded.

Built from the same plain data and text helpers as the HTML page (``checklists.guide``); the
font comes from ``server.platform.fonts``, which is why this rendering lives in the server and
not in ``checklists/`` (pure data and rules). CPU-bound: call it through ``asyncio.to_thread``.
"""

from __future__ import annotations

import io
from typing import Any
from xml.sax.saxutils import escape as xml_escape

from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.platypus import Paragraph, SimpleDocTemplate

from checklists.guide import (
    Guide,
    check_lang,
    document_line,
    label,
    matter_line,
    pick,
    scenario_line,
    step_heading,
    step_lines,
    step_title,
    warning_text,
)
from server.platform.fonts import pdf_text, register_cjk_font


def render_guide_pdf(guide: Guide, lang: str = "zh") -> bytes:
    """The guide as an A4 PDF; the same guide gives the same bytes."""
    check_lang(lang)
    font = register_cjk_font()
    buffer = io.BytesIO()
    document = SimpleDocTemplate(
        buffer,
        pagesize=A4,
        leftMargin=18 * mm,
        rightMargin=18 * mm,
        topMargin=16 * mm,
        bottomMargin=16 * mm,
        title=label("title", lang),
        author="云踏勘 / cloud inspection",
        invariant=True,  # same guide → same bytes
        initialFontName=font,  # else an unused, unembedded Helvetica is declared
    )
    document.build(_story(guide, lang, _styles(font)))
    return buffer.getvalue()


def _styles(font: str) -> dict[str, ParagraphStyle]:
    base = ParagraphStyle("body", fontName=font, fontSize=10, leading=15, wordWrap="CJK")
    return {
        "body": base,
        "h1": ParagraphStyle("h1", parent=base, fontSize=18, leading=26, spaceAfter=6),
        "h2": ParagraphStyle(
            "h2",
            parent=base,
            fontSize=13,
            leading=20,
            spaceBefore=10,
            spaceAfter=4,
            textColor=colors.HexColor("#0969da"),
        ),
        "h3": ParagraphStyle("h3", parent=base, fontSize=11, leading=17, spaceBefore=6),
        "key": ParagraphStyle(
            "key",
            parent=base,
            fontSize=11,
            leading=17,
            spaceBefore=6,
            textColor=colors.HexColor("#9a6700"),
        ),
        "problem": ParagraphStyle("problem", parent=base, textColor=colors.HexColor("#cf222e")),
        "step": ParagraphStyle("step", parent=base, leftIndent=10),
    }


def _story(guide: Guide, lang: str, styles: dict[str, ParagraphStyle]) -> list[Any]:
    def para(text: str, style: str = "body") -> Any:
        return Paragraph(xml_escape(pdf_text(text)), styles[style])

    story = [para(label("title", lang), "h1"), para(matter_line(guide, lang))]
    if scenarios := scenario_line(guide, lang):
        story.append(para(scenarios))
    if guide.warnings:
        story.append(para(f"！{label('warnings', lang)}", "h2"))
        story += [para(warning_text(w, lang), "problem") for w in guide.warnings]
    story.append(para(label("tips", lang), "h2"))
    story += [para(f"· {pick(tip, lang)}") for tip in guide.tips]
    story.append(para(label("documents", lang), "h2"))
    story += [para(document_line(d)) for d in guide.documents]
    story.append(para(label("key_points", lang), "h2"))
    story += [para(f"★ {s.item_id} {step_title(s, lang)}") for s in guide.key_points]
    story += [para(f"{s.item_id} {s.frequent_problem}", "problem") for s in guide.frequent_problems]
    story.append(para(label("route", lang), "h2"))
    for number, section in enumerate(guide.sections, start=1):
        story.append(para(f"{number}. {pick(section.title, lang)}", "h2"))
        for step in section.steps:
            story.append(para(step_heading(step, lang), "key" if step.key else "h3"))
            story += [para(line, "step") for line in step_lines(step, lang)]
            if step.frequent_problem:
                story.append(para(f"{label('problem', lang)}：{step.frequent_problem}", "problem"))
    story.append(para(f"{label('version', lang)}：{guide.catalogue_version}"))
    return story
