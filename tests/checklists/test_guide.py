"""The applicant's preparation guide (零基础准备指南) in HTML and PDF."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from checklists.engine import build_checklist
from checklists.guide import Guide, build_guide, render_guide_html
from checklists.loader import load_catalogue
from checklists.schema import Catalogue, WalkStage
from tests.checklists.helpers import edit

MATTERS = ["FS", "CY", "XC", "NY", "CB", "GW"]


def full_guide(catalogue: Catalogue, matter: str) -> Guide:
    """The guide for one matter with every one of its scenarios switched on."""
    scenarios = list(catalogue.matter(matter).scenarios)
    return build_guide(build_checklist(catalogue, [matter], scenarios))


def test_guide_follows_the_walk_order(catalogue: Catalogue) -> None:
    guide = full_guide(catalogue, "CY")
    stages = [section.stage for section in guide.sections]
    assert stages == sorted(stages, key=lambda s: s.rank)
    assert stages[0] is WalkStage.outside
    assert guide.sections[0].steps[0].item_id == "SH-01"
    numbers = [step.number for section in guide.sections for step in section.steps]
    assert numbers == list(range(1, len(numbers) + 1))


def test_guide_highlights_key_points_and_frequent_problems(catalogue: Catalogue) -> None:
    guide = full_guide(catalogue, "NY")
    assert {"NY-02", "NY-03", "NY-08", "NY-11"} <= {s.item_id for s in guide.key_points}
    assert {"NY-03", "NY-04", "NY-08", "SH-03"} <= {s.item_id for s in guide.frequent_problems}


def test_guide_lists_each_document_once_with_its_items(catalogue: Catalogue) -> None:
    guide = full_guide(catalogue, "NY")
    names = [d.name for d in guide.documents]
    assert len(names) == len(set(names))
    plan = next(d for d in guide.documents if d.name == "经营场所平面布局图")
    assert plan.item_ids == ("SH-03", "NY-02", "NY-03")


def test_guide_carries_the_conflict_warning(catalogue: Catalogue) -> None:
    guide = build_guide(build_checklist(catalogue, ["NY", "FS"], []))
    html = render_guide_html(guide)
    assert "请先处理" in html
    assert "农药经营场所内不得经营食品" in html


@pytest.mark.parametrize("matter", MATTERS)
def test_html_guide_in_chinese_names_every_item(catalogue: Catalogue, matter: str) -> None:
    guide = full_guide(catalogue, matter)
    html = render_guide_html(guide)
    assert '<html lang="zh-CN">' in html
    assert "零基础准备指南" in html
    assert catalogue.matter(matter).name in html
    for step in (s for section in guide.sections for s in section.steps):
        assert step.item_id in html
        assert step.title in html
    for step in guide.frequent_problems:
        assert step.frequent_problem
        assert step.frequent_problem in html
    assert "门牌" in html
    assert "4G" in html
    assert "充" in html


def test_html_guide_is_self_contained_and_phone_sized(catalogue: Catalogue) -> None:
    html = render_guide_html(full_guide(catalogue, "GW"))
    assert 'name="viewport" content="width=device-width' in html
    assert not re.search(r"\b(src|href)=|@import|url\(", html)
    assert "max-width:40rem" in html


def test_html_guide_escapes_catalogue_text(catalogue_copy: Path) -> None:
    edit(
        catalogue_copy,
        "food_retail.yaml",
        "    title: 销售和贮存环境\n",
        "    title: <script>alert(1)</script>\n",
    )
    catalogue = load_catalogue(catalogue_copy)
    html = render_guide_html(build_guide(build_checklist(catalogue, ["FS"], [])))
    assert "<script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html


def test_html_guide_in_english_uses_english_titles(catalogue: Catalogue) -> None:
    html = render_guide_html(full_guide(catalogue, "FS"), lang="en")
    assert '<html lang="en">' in html
    assert "Cloud inspection: preparation guide" in html
    assert "Refrigeration with temperature display" in html


def test_unsupported_language_is_refused(catalogue: Catalogue) -> None:
    with pytest.raises(ValueError, match="unsupported language"):
        render_guide_html(full_guide(catalogue, "FS"), lang="fr")
