"""The preparation guide (零基础准备指南) of a case, from the checklist it is held to."""

from __future__ import annotations

import asyncio

from sqlalchemy.ext.asyncio import AsyncSession

from checklists import engine
from checklists.guide import build_guide, render_guide_html
from checklists.schema import Catalogue
from server.cases.models import Case
from server.inspection.guide_pdf import render_guide_pdf
from server.inspection.service import case_checklist


def _guide_html(checklist: engine.CaseChecklist, lang: str) -> str:
    return render_guide_html(build_guide(checklist), lang)


def _guide_pdf(checklist: engine.CaseChecklist, lang: str) -> bytes:
    return render_guide_pdf(build_guide(checklist), lang)


async def guide_html(session: AsyncSession, catalogue: Catalogue, case: Case, lang: str) -> str:
    """The preparation guide (零基础准备指南) for the case, from the checklist it is held to."""
    checklist, _ = await case_checklist(session, catalogue, case)
    return await asyncio.to_thread(_guide_html, checklist, lang)


async def guide_pdf(session: AsyncSession, catalogue: Catalogue, case: Case, lang: str) -> bytes:
    """The same guide as a PDF; rendering takes ~100 ms of CPU, so it runs in a thread."""
    checklist, _ = await case_checklist(session, catalogue, case)
    return await asyncio.to_thread(_guide_pdf, checklist, lang)


def guide_filename(case: Case, lang: str) -> str:
    if lang == "en":
        return f"preparation-guide-{case.number}.pdf"
    return f"零基础准备指南-{case.number}.pdf"
