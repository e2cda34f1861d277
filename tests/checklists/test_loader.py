"""Loading the catalogue directory and reporting broken files with file, line and message."""

from __future__ import annotations

from pathlib import Path

import pytest

from checklists.loader import CatalogueError, CatalogueIssue, load_catalogue, validate_catalogue
from checklists.schema import Catalogue, Category, EvidenceRule, VideoCheck
from tests.checklists.helpers import edit

SIX_MATTERS = {"FS", "CY", "XC", "NY", "CB", "GW"}


def only_issue(directory: Path) -> CatalogueIssue:
    issues = validate_catalogue(directory)
    assert len(issues) == 1, [str(i) for i in issues]
    return issues[0]


def test_shipped_catalogue_has_no_issues() -> None:
    assert validate_catalogue() == []


def test_six_matters_load_with_version(catalogue: Catalogue) -> None:
    assert {m.code for m in catalogue.matters} == SIX_MATTERS
    assert catalogue.version == "2026.11-1"


def test_shared_items_sh01_to_sh09_defined_once(catalogue: Catalogue) -> None:
    assert [i.id for i in catalogue.shared_items] == [f"SH-0{n}" for n in range(1, 10)]


def test_yes_and_no_stay_words_not_booleans(catalogue: Catalogue) -> None:
    # YAML 1.1 would read `video: yes` as True; the catalogue means the word.
    sh01 = catalogue.shared_by_id["SH-01"]
    ny15 = next(i for i in catalogue.matter("NY").items if i.id == "NY-15")
    assert sh01.video is VideoCheck.yes
    assert ny15.video is VideoCheck.no


def test_reference_facts_are_kept(catalogue: Catalogue) -> None:
    items = {i.id: i for m in catalogue.matters for i in m.items}
    assert "≥25 m" in (catalogue.shared_by_id["SH-05"].standard or "")
    assert "≥30 m²" in (items["NY-02"].standard or "")
    assert "≥50 m²" in (items["NY-03"].standard or "")
    assert "0–8 ℃" in (items["FS-05"].standard or "")
    assert "≤−18 ℃" in (items["FS-05"].standard or "")
    assert "≥125 g" in (items["CY-10"].standard or "")
    assert "≥48 h" in (items["CY-10"].standard or "")


def test_folded_chinese_lines_join_without_spaces(catalogue: Catalogue) -> None:
    siting = catalogue.shared_by_id["SH-05"]
    assert "如实拍到，并准备" in siting.guidance
    assert "≥25 m；农药" in (siting.standard or "")  # the space in "25 m" stays


def test_every_item_has_category_guidance_and_known_sources(catalogue: Catalogue) -> None:
    items = [*catalogue.shared_items, *(i for m in catalogue.matters for i in m.items)]
    assert all(isinstance(i.category, Category) and i.guidance for i in items)
    assert {ref.split()[0] for i in items for ref in i.basis} <= set(catalogue.sources)


def test_frequent_problems_from_the_reference_are_marked(catalogue: Catalogue) -> None:
    items = [*catalogue.shared_items, *(i for m in catalogue.matters for i in m.items)]
    marked = {i.id for i in items if i.frequent_problem}
    assert marked == {
        "SH-03",
        "FS-02",
        "CY-06",
        "CY-07",
        "XC-09",
        "SH-04",
        "NY-03",
        "NY-04",
        "NY-08",
        "CB-02",
        "GW-05",
    }


def test_pesticide_selling_food_is_blocking(catalogue: Catalogue) -> None:
    ny11 = next(i for i in catalogue.matter("NY").items if i.id == "NY-11")
    assert ny11.blocking
    assert not ny11.rectifiable
    assert ny11.evidence is EvidenceRule.on_fail


def test_malformed_yaml_reports_file_and_line(catalogue_copy: Path) -> None:
    line = edit(
        catalogue_copy,
        "food_retail.yaml",
        "    title: 有毒有害物品分开存放\n",
        "    title: 有毒有害物品分开存放\n   bad: indent\n",
    )
    issue = only_issue(catalogue_copy)
    assert (issue.file, issue.line) == ("food_retail.yaml", line + 1)
    assert issue.message_zh.startswith("YAML 格式错误")
    assert issue.message_en.startswith("malformed YAML")


def test_malformed_shared_file_is_reported_not_crashed_on(catalogue_copy: Path) -> None:
    (catalogue_copy / "shared.yaml").write_text("version: [unclosed\n", encoding="utf-8")
    issue = only_issue(catalogue_copy)
    assert issue.file == "shared.yaml"
    assert issue.message_en.startswith("malformed YAML")


def test_unknown_shared_item_reports_file_line_and_message(catalogue_copy: Path) -> None:
    line = edit(catalogue_copy, "food_retail.yaml", "  - ref: SH-06\n", "  - ref: SH-99\n")
    issue = only_issue(catalogue_copy)
    assert (
        str(issue) == f"food_retail.yaml:{line}: 未知的共用检查项 SH-99 / unknown shared item SH-99"
    )


def test_duplicate_item_id_across_files_is_rejected(catalogue_copy: Path) -> None:
    line = edit(catalogue_copy, "food_retail.yaml", "  - id: FS-04\n", "  - id: CY-08\n")
    issue = only_issue(catalogue_copy)
    assert (issue.file, issue.line) == ("food_retail.yaml", line)
    assert "CY-08" in issue.message_zh
    assert "重复" in issue.message_zh
    assert "duplicate item id CY-08" in issue.message_en


def test_missing_category_points_at_the_item(catalogue_copy: Path) -> None:
    line = edit(
        catalogue_copy,
        "food_retail.yaml",
        "  - id: FS-04\n    category: equipment\n",
        "  - id: FS-04\n",
    )
    issue = only_issue(catalogue_copy)
    assert (issue.file, issue.line) == ("food_retail.yaml", line)
    assert issue.message_zh == "字段 items[3].category：缺少必填字段"
    assert issue.message_en == "field items[3].category: Field required"


def test_unknown_category_lists_allowed_values(catalogue_copy: Path) -> None:
    line = edit(
        catalogue_copy,
        "pesticide.yaml",
        "    category: personnel\n    title: 经营人员资质",
        "    category: furniture\n    title: 经营人员资质",
    )
    issue = only_issue(catalogue_copy)
    assert (issue.file, issue.line) == ("pesticide.yaml", line)
    assert "取值不在允许范围内" in issue.message_zh
    assert "premises" in issue.message_zh


def test_wrong_type_is_rejected_at_its_line(catalogue_copy: Path) -> None:
    line = edit(
        catalogue_copy,
        "food_retail.yaml",
        "    documents: [冷柜温度记录]\n",
        "    documents: 冷柜温度记录\n",
    )
    issue = only_issue(catalogue_copy)
    assert (issue.file, issue.line) == ("food_retail.yaml", line)
    assert issue.message_zh == "字段 items[4].documents：应为列表"


def test_non_boolean_flag_is_rejected(catalogue_copy: Path) -> None:
    text = "    when: [sample_retention_required]\n"
    line = edit(
        catalogue_copy,
        "catering.yaml",
        "    rectifiable: true\n" + text,
        "    rectifiable: maybe\n" + text,
    )
    issue = only_issue(catalogue_copy)
    assert (issue.file, issue.line) == ("catering.yaml", line)
    assert "应为 true 或 false" in issue.message_zh


def test_unknown_scenario_is_rejected(catalogue_copy: Path) -> None:
    line = edit(
        catalogue_copy,
        "food_retail.yaml",
        "    when: [bulk_cooked_food]\n",
        "    when: [bulk_cooked]\n",
    )
    issue = only_issue(catalogue_copy)
    assert (
        str(issue)
        == f"food_retail.yaml:{line}: 未定义的情形 bulk_cooked / unknown scenario bulk_cooked"
    )


def test_unknown_source_code_is_rejected(catalogue_copy: Path) -> None:
    line = edit(
        catalogue_copy, "food_retail.yaml", "    basis: [FSL 33]\n", "    basis: [XYZ 33]\n"
    )
    issue = only_issue(catalogue_copy)
    assert (issue.file, issue.line) == ("food_retail.yaml", line)
    assert issue.message_en == "unknown source code XYZ"


def test_conflict_rule_naming_unknown_matter_is_rejected(catalogue_copy: Path) -> None:
    line = edit(catalogue_copy, "shared.yaml", "with_any: [FS, CY, XC]", "with_any: [FS, CY, ZZ]")
    issue = only_issue(catalogue_copy)
    assert str(issue) == (
        f"shared.yaml:{line}: 冲突规则提到未知的事项 ZZ / conflict rule names unknown matter ZZ"
    )


def test_duplicate_key_is_not_silently_dropped(catalogue_copy: Path) -> None:
    line = edit(
        catalogue_copy,
        "catering.yaml",
        "    title: 原料清洗水池\n",
        "    title: 原料清洗水池\n    title: 水池\n",
    )
    issue = only_issue(catalogue_copy)
    assert (issue.file, issue.line, issue.message_en) == (
        "catering.yaml",
        line + 1,
        "duplicate key title",
    )


def test_blocking_item_cannot_be_rectifiable(catalogue_copy: Path) -> None:
    line = edit(
        catalogue_copy,
        "pesticide.yaml",
        "    rectifiable: false\n    blocking: true\n",
        "    rectifiable: true\n    blocking: true\n",
    )
    issue = only_issue(catalogue_copy)
    assert issue.file == "pesticide.yaml"
    assert issue.line is not None
    assert issue.line < line
    assert "否决项不能标为可整改" in issue.message_zh


def test_unknown_field_is_reported_as_possible_typo(catalogue_copy: Path) -> None:
    line = edit(
        catalogue_copy,
        "food_retail.yaml",
        "    key: true\n    frequent_problem:",
        "    kee: true\n    frequent_problem:",
    )
    issue = only_issue(catalogue_copy)
    assert (issue.line, issue.message_en) == (
        line,
        "field items[1].kee: Extra inputs are not permitted",
    )


def test_every_problem_is_reported_not_only_the_first(catalogue_copy: Path) -> None:
    edit(
        catalogue_copy,
        "food_retail.yaml",
        "  - id: FS-04\n    category: equipment\n",
        "  - id: FS-04\n",
    )
    edit(catalogue_copy, "catering.yaml", "    title: 原料清洗水池\n", "    title: 1\n")
    files = {issue.file for issue in validate_catalogue(catalogue_copy)}
    assert files == {"food_retail.yaml", "catering.yaml"}


def test_missing_shared_file_is_reported(catalogue_copy: Path) -> None:
    (catalogue_copy / "shared.yaml").unlink()
    issue = only_issue(catalogue_copy)
    assert (issue.file, issue.line) == ("shared.yaml", None)


def test_empty_file_and_non_mapping_file_are_reported(catalogue_copy: Path) -> None:
    (catalogue_copy / "empty.yaml").write_text("# nothing\n", encoding="utf-8")
    (catalogue_copy / "list.yaml").write_text("- a\n- b\n", encoding="utf-8")
    issues = {i.file: i for i in validate_catalogue(catalogue_copy)}
    assert issues["empty.yaml"].message_en == "file is empty"
    assert issues["list.yaml"].message_en == "top level must be a mapping"


def test_load_catalogue_raises_with_all_issues(catalogue_copy: Path) -> None:
    edit(catalogue_copy, "food_retail.yaml", "  - ref: SH-06\n", "  - ref: SH-99\n")
    with pytest.raises(CatalogueError) as caught:
        load_catalogue(catalogue_copy)
    assert [i.message_en for i in caught.value.errors] == ["unknown shared item SH-99"]
    assert "food_retail.yaml" in str(caught.value)


def test_comments_and_formatting_do_not_change_the_fingerprint(
    catalogue_copy: Path, catalogue: Catalogue
) -> None:
    edit(catalogue_copy, "food_retail.yaml", "code: FS\n", "# 注释\ncode:   FS\n")
    assert load_catalogue(catalogue_copy).fingerprint == catalogue.fingerprint


def test_content_change_changes_the_fingerprint(catalogue_copy: Path, catalogue: Catalogue) -> None:
    edit(catalogue_copy, "food_retail.yaml", "    title: 销售和贮存环境\n", "    title: 销售环境\n")
    assert load_catalogue(catalogue_copy).fingerprint != catalogue.fingerprint
