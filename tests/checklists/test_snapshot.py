"""Version freezing: a case keeps the checklist it started with, whatever the catalogue becomes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from checklists.engine import SnapshotError, build_checklist, checklist_from_snapshot
from checklists.loader import load_catalogue
from checklists.schema import Catalogue, SelectionError
from tests.checklists.helpers import edit


def test_snapshot_is_json_serialisable_and_names_its_catalogue(catalogue: Catalogue) -> None:
    snapshot = catalogue.snapshot_for(["CY"], ["collective_meal_delivery"])
    assert json.loads(json.dumps(snapshot, ensure_ascii=False)) == snapshot
    assert snapshot["catalogue_version"] == catalogue.version
    assert snapshot["catalogue_fingerprint"] == catalogue.fingerprint
    assert snapshot["matters"] == ["CY"]
    assert snapshot["scenarios"] == ["collective_meal_delivery"]


def test_checklist_from_snapshot_equals_the_live_one(catalogue: Catalogue) -> None:
    live = build_checklist(catalogue, ["NY", "FS"], ["restricted_pesticides"])
    snapshot = json.loads(
        json.dumps(catalogue.snapshot_for(["NY", "FS"], ["restricted_pesticides"]))
    )
    assert checklist_from_snapshot(snapshot) == live


def test_snapshot_keeps_only_what_the_case_needs(catalogue: Catalogue) -> None:
    part = catalogue.snapshot_for(["CB"], [])["catalogue"]
    assert [m["code"] for m in part["matters"]] == ["CB"]
    assert "SH-04" not in {item["id"] for item in part["shared_items"]}
    assert part["conflicts"] == []


def test_snapshot_keeps_the_conflict_between_its_matters(catalogue: Catalogue) -> None:
    snapshot = catalogue.snapshot_for(["NY", "FS"], [])
    assert [r["with_any"] for r in snapshot["catalogue"]["conflicts"]] == [["FS"]]
    assert checklist_from_snapshot(snapshot).blocking_findings


def test_edited_catalogue_does_not_change_a_started_case(catalogue_copy: Path) -> None:
    before = load_catalogue(catalogue_copy)
    snapshot = json.loads(json.dumps(before.snapshot_for(["CY"], ["special_rooms"])))
    started = checklist_from_snapshot(snapshot)

    edit(catalogue_copy, "shared.yaml", 'version: "2026.11-1"', 'version: "2026.12-1"')
    edit(catalogue_copy, "catering.yaml", "    title: 餐用具洗消保洁\n", "    title: 餐具消毒\n")
    edit(
        catalogue_copy,
        "catering.yaml",
        "    standard: 专间室温≤25 ℃。\n",
        "    standard: 专间室温≤20 ℃。\n",
    )
    after = load_catalogue(catalogue_copy)

    assert after.fingerprint != before.fingerprint
    assert build_checklist(after, ["CY"], ["special_rooms"]).item("CY-07").title == "餐具消毒"
    frozen = checklist_from_snapshot(snapshot)
    assert frozen == started
    assert frozen.item("CY-07").title == "餐用具洗消保洁"
    assert frozen.item("CY-06").standard == "专间室温≤25 ℃。"
    assert (frozen.catalogue_version, frozen.catalogue_fingerprint) == (
        "2026.11-1",
        before.fingerprint,
    )


def test_snapshot_of_unknown_format_is_refused(catalogue: Catalogue) -> None:
    snapshot = {**catalogue.snapshot_for(["FS"], []), "format": "something-else"}
    with pytest.raises(SnapshotError):
        checklist_from_snapshot(snapshot)


def test_tampered_snapshot_is_refused(catalogue: Catalogue) -> None:
    snapshot = catalogue.snapshot_for(["FS"], [])
    snapshot["catalogue"]["matters"][0]["shared"][0]["ref"] = "SH-99"
    with pytest.raises(ValueError, match="unknown shared item SH-99"):
        checklist_from_snapshot(snapshot)


def test_snapshot_for_unknown_scenario_is_refused(catalogue: Catalogue) -> None:
    with pytest.raises(SelectionError):
        catalogue.snapshot_for(["FS"], ["collective_meal_delivery"])
