"""Merging matters, settling the two inspectors' verdicts, and concluding."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import pytest

from checklists.conclusion import Conclusion, ConclusionValue, ReasonKind, conclude
from checklists.engine import (
    CaseChecklist,
    EvidenceViolation,
    ItemState,
    Resolution,
    SelectionError,
    Verdict,
    VerdictValue,
    build_checklist,
    open_items,
    settle,
)
from checklists.loader import load_catalogue
from checklists.schema import Catalogue, WalkStage
from tests.checklists.helpers import edit

PASS, FAIL = VerdictValue.passed, VerdictValue.failed
NA, UNCLEAR = VerdictValue.not_applicable, VerdictValue.unclear
A, B = "inspector-a", "inspector-b"


def ids(checklist: CaseChecklist) -> list[str]:
    return [item.id for item in checklist.items]


def both(item_id: str, value: VerdictValue, photo: bool = True) -> list[Verdict]:
    refs = (f"snap-{item_id}",) if photo else ()
    return [Verdict(item_id, A, value, evidence_refs=refs), Verdict(item_id, B, value)]


def all_pass(checklist: CaseChecklist, *, except_: Iterable[str] = ()) -> list[Verdict]:
    skip = set(except_)
    return [v for item in checklist.items if item.id not in skip for v in both(item.id, PASS)]


# --- merge ------------------------------------------------------------------------------------


def test_shared_item_appears_once_listing_every_matter(catalogue: Catalogue) -> None:
    checklist = build_checklist(catalogue, ["FS", "CY", "XC"], [])
    assert ids(checklist).count("SH-04") == 1
    health = checklist.item("SH-04")
    assert set(health.matters) == {"FS", "CY", "XC"}
    assert set(health.aliases) == {"FS-09", "XC-11"}
    assert len(ids(checklist)) == len(set(ids(checklist)))


def test_shared_item_carries_each_matters_additions(catalogue: Catalogue) -> None:
    ledger = build_checklist(catalogue, ["FS", "NY"], []).item("SH-07")
    assert any("供货者的许可证" in note for note in ledger.notes)
    assert any("≥2年" in note for note in ledger.notes)


def test_single_matter_lists_its_own_and_shared_items(catalogue: Catalogue) -> None:
    checklist = build_checklist(catalogue, ["CB"], [])
    assert {"SH-01", "SH-07", "CB-02", "CB-08"} <= set(ids(checklist))
    assert "SH-04" not in ids(checklist)  # publication wholesale needs no health certificates
    assert "CB-09" not in ids(checklist)  # online distribution only


def test_walk_order_starts_outside_at_the_door_plate(catalogue: Catalogue) -> None:
    checklist = build_checklist(catalogue, ["CY", "GW"], ["beauty_salon"])
    ranks = [item.stage.rank for item in checklist.items]
    assert ranks == sorted(ranks)
    assert checklist.items[0].id == "SH-01"
    assert checklist.items[0].stage is WalkStage.outside
    assert checklist.items[-1].id == "SH-09"  # record-only, last


def test_matter_order_given_does_not_change_the_checklist(catalogue: Catalogue) -> None:
    assert build_checklist(catalogue, ["FS", "CY"]) == build_checklist(catalogue, ["CY", "FS"])


def test_legal_basis_is_resolved_against_sources(catalogue: Catalogue) -> None:
    basis = build_checklist(catalogue, ["NY"]).item("NY-11").basis
    assert [(b.source, b.article, b.grade) for b in basis] == [("NT", "28", "A"), ("NT", "58", "A")]
    assert basis[0].name.startswith("农药管理条例")


@pytest.mark.parametrize(
    ("matter", "scenario", "switched"),
    [
        ("CY", "collective_meal_delivery", {"JT-01", "JT-02", "JT-03", "JT-04", "JT-05", "CY-10"}),
        ("CY", "sample_retention_required", {"CY-10"}),
        ("CY", "special_rooms", {"CY-06"}),
        ("NY", "restricted_pesticides", {"NY-13", "NY-14", "NY-15"}),
        ("GW", "beauty_salon", {"GW-12", "SH-05"}),
        ("GW", "accommodation", {"GW-13"}),
        ("GW", "central_ac", {"GW-06"}),
        ("FS", "bulk_cooked_food", {"FS-06"}),
        ("XC", "cold_dishes", {"XC-06"}),
        ("CB", "online_distribution", {"CB-09"}),
    ],
)
def test_scenario_switches_items_on(
    catalogue: Catalogue, matter: str, scenario: str, switched: set[str]
) -> None:
    without = set(ids(build_checklist(catalogue, [matter], [])))
    with_scenario = set(ids(build_checklist(catalogue, [matter], [scenario])))
    assert with_scenario - without == switched


def test_collective_meal_delivery_implies_sample_retention(catalogue: Catalogue) -> None:
    checklist = build_checklist(catalogue, ["CY"], ["collective_meal_delivery"])
    assert checklist.scenario_keys == ("collective_meal_delivery", "sample_retention_required")


def test_unless_switches_an_item_off(catalogue_copy: Path) -> None:
    edit(
        catalogue_copy,
        "food_retail.yaml",
        "    when: [bulk_cooked_food]\n",
        "    when: [bulk_cooked_food]\n    unless: [special_food]\n",
    )
    catalogue = load_catalogue(catalogue_copy)
    assert "FS-06" in ids(build_checklist(catalogue, ["FS"], ["bulk_cooked_food"]))
    assert "FS-06" not in ids(
        build_checklist(catalogue, ["FS"], ["bulk_cooked_food", "special_food"])
    )


def test_unknown_matter_is_refused(catalogue: Catalogue) -> None:
    with pytest.raises(SelectionError, match="unknown matter ZZ"):
        build_checklist(catalogue, ["ZZ"], [])


def test_scenario_of_a_matter_not_chosen_is_refused(catalogue: Catalogue) -> None:
    with pytest.raises(SelectionError, match="no scenario restricted_pesticides"):
        build_checklist(catalogue, ["FS"], ["restricted_pesticides"])


def test_no_matter_is_refused(catalogue: Catalogue) -> None:
    with pytest.raises(SelectionError):
        build_checklist(catalogue, [], [])


def test_pesticide_with_food_retail_is_a_blocking_finding(catalogue: Catalogue) -> None:
    checklist = build_checklist(catalogue, ["NY", "FS"], [])
    [finding] = checklist.blocking_findings
    assert finding.rule_id == "pesticide-food-same-site"
    assert set(finding.matters) == {"NY", "FS"}
    assert [b.ref for b in finding.basis] == ["NT 28", "NT 58"]


@pytest.mark.parametrize("food", ["CY", "XC"])
def test_pesticide_with_any_catering_is_a_blocking_finding(catalogue: Catalogue, food: str) -> None:
    assert build_checklist(catalogue, ["NY", food], []).blocking_findings


def test_pesticide_with_publications_has_no_conflict(catalogue: Catalogue) -> None:
    assert build_checklist(catalogue, ["NY", "CB"], []).blocking_findings == ()


# --- verdicts ---------------------------------------------------------------------------------


@pytest.fixture
def food(catalogue: Catalogue) -> CaseChecklist:
    return build_checklist(catalogue, ["FS"], [])


def state_of(
    checklist: CaseChecklist, verdicts: list[Verdict], item_id: str, *resolutions: Resolution
) -> ItemState:
    return next(s for s in settle(checklist, verdicts, resolutions) if s.item.id == item_id)


def test_agreeing_verdicts_settle_the_item(food: CaseChecklist) -> None:
    state = state_of(food, both("FS-01", PASS), "FS-01")
    assert state.agreed
    assert not state.disagreement
    assert state.settled is PASS
    assert [v.inspector_id for v in state.verdicts] == [A, B]


def test_one_verdict_leaves_the_item_open(food: CaseChecklist) -> None:
    state = state_of(food, [Verdict("FS-01", A, PASS)], "FS-01")
    assert state.settled is None
    assert state.awaiting_verdicts == 1


def test_disagreement_waits_for_the_lead(food: CaseChecklist) -> None:
    verdicts = [Verdict("FS-01", A, PASS), Verdict("FS-01", B, FAIL, evidence_refs=("s1",))]
    state = state_of(food, verdicts, "FS-01")
    assert state.disagreement
    assert not state.agreed
    assert state.settled is None


def test_resolution_settles_a_disagreement(food: CaseChecklist) -> None:
    verdicts = [Verdict("FS-01", A, PASS), Verdict("FS-01", B, FAIL, evidence_refs=("s1",))]
    resolution = Resolution("FS-01", FAIL, "地面有积水，照片可见")
    state = state_of(food, verdicts, "FS-01", resolution)
    assert state.settled is FAIL
    assert state.resolution == resolution


@pytest.mark.parametrize("reason", ["", "   "])
def test_resolution_without_reason_is_refused(reason: str) -> None:
    with pytest.raises(ValueError, match="reason"):
        Resolution("FS-01", PASS, reason)


def test_resolution_does_not_override_agreement(food: CaseChecklist) -> None:
    state = state_of(food, both("FS-01", PASS), "FS-01", Resolution("FS-01", FAIL, "改判"))
    assert state.settled is PASS
    assert state.resolution is None


def test_later_verdict_of_same_inspector_replaces_earlier(food: CaseChecklist) -> None:
    verdicts = [Verdict("FS-01", A, FAIL, evidence_refs=("s",)), *both("FS-01", PASS)]
    assert state_of(food, verdicts, "FS-01").agreed


def test_verdict_values_given_as_text_are_accepted(food: CaseChecklist) -> None:
    verdict = Verdict("FS-01", A, "pass")  # type: ignore[arg-type]
    assert verdict.value is PASS


def test_third_inspector_is_refused(food: CaseChecklist) -> None:
    verdicts = [*both("FS-01", PASS), Verdict("FS-01", "inspector-c", PASS)]
    with pytest.raises(ValueError, match="more than two"):
        settle(food, verdicts, [])


def test_verdict_on_unknown_item_is_refused(food: CaseChecklist) -> None:
    with pytest.raises(ValueError, match="unknown item NY-01"):
        settle(food, both("NY-01", PASS), [])


# --- evidence rules ---------------------------------------------------------------------------


def test_fail_without_photo_violates_on_fail_rule(food: CaseChecklist) -> None:
    state = state_of(food, both("FS-03", FAIL, photo=False), "FS-03")  # rule: on_fail
    assert state.evidence_violation is EvidenceViolation.photo_required_on_fail


def test_fail_with_photo_satisfies_on_fail_rule(food: CaseChecklist) -> None:
    state = state_of(food, both("FS-03", FAIL, photo=True), "FS-03")
    assert state.evidence_violation is None
    assert state.evidence_refs == ("snap-FS-03",)


def test_pass_without_photo_is_fine_under_on_fail_rule(food: CaseChecklist) -> None:
    assert state_of(food, both("FS-03", PASS, photo=False), "FS-03").evidence_violation is None


def test_always_rule_needs_a_photo_on_pass(food: CaseChecklist) -> None:
    state = state_of(food, both("FS-05", PASS, photo=False), "FS-05")  # rule: always
    assert state.evidence_violation is EvidenceViolation.photo_required_on_pass


def test_on_pass_rule_needs_photo_of_the_report_only_on_pass(catalogue: Catalogue) -> None:
    hygiene = build_checklist(catalogue, ["GW"], [])  # GW-05 test report: on_pass
    passed = state_of(hygiene, both("GW-05", PASS, photo=False), "GW-05")
    failed = state_of(hygiene, both("GW-05", FAIL, photo=False), "GW-05")
    assert passed.evidence_violation is EvidenceViolation.photo_required_on_pass
    assert failed.evidence_violation is None


def test_never_rule_needs_no_photo(food: CaseChecklist) -> None:
    assert state_of(food, both("SH-09", FAIL, photo=False), "SH-09").evidence_violation is None


def test_missing_photo_is_flagged_before_the_item_settles(food: CaseChecklist) -> None:
    state = state_of(food, [Verdict("FS-03", A, FAIL)], "FS-03")
    assert state.settled is None
    assert state.evidence_violation is EvidenceViolation.photo_required_on_fail


# --- conclusion -------------------------------------------------------------------------------


def conclusion(
    checklist: CaseChecklist, verdicts: list[Verdict], *resolutions: Resolution
) -> Conclusion:
    return conclude(checklist, settle(checklist, verdicts, resolutions))


def test_all_pass_concludes_pass(food: CaseChecklist) -> None:
    result = conclusion(food, all_pass(food))
    assert result.value is ConclusionValue.passed
    assert result.reasons == ()


def test_not_applicable_items_do_not_stop_a_pass(food: CaseChecklist) -> None:
    verdicts = all_pass(food, except_=["FS-12"]) + both("FS-12", NA)
    assert conclusion(food, verdicts).value is ConclusionValue.passed


def test_rectifiable_failure_concludes_pass_after_rectification(food: CaseChecklist) -> None:
    verdicts = all_pass(food, except_=["FS-02"]) + both("FS-02", FAIL)
    result = conclusion(food, verdicts)
    assert result.value is ConclusionValue.pass_after_rectification
    assert result.rectification_items == ("FS-02",)
    assert [r.kind for r in result.reasons] == [ReasonKind.rectifiable_failure]


def test_non_rectifiable_failure_concludes_fail(catalogue: Catalogue) -> None:
    shop = build_checklist(catalogue, ["NY"], [])
    verdicts = all_pass(shop, except_=["NY-03"]) + both("NY-03", FAIL)  # store < 50 m²
    result = conclusion(shop, verdicts)
    assert result.value is ConclusionValue.failed
    assert result.reasons[0].kind is ReasonKind.non_rectifiable_failure
    assert result.reasons[0].item_id == "NY-03"


def test_blocking_item_failure_concludes_fail(catalogue: Catalogue) -> None:
    shop = build_checklist(catalogue, ["NY"], [])
    verdicts = all_pass(shop, except_=["NY-11"]) + both("NY-11", FAIL)  # food on the shelves
    assert conclusion(shop, verdicts).value is ConclusionValue.failed


def test_conflicting_matters_conclude_fail_even_if_every_item_passes(catalogue: Catalogue) -> None:
    joint = build_checklist(catalogue, ["NY", "FS"], [])
    result = conclusion(joint, all_pass(joint))
    assert result.value is ConclusionValue.failed
    assert result.reasons[0].kind is ReasonKind.blocking_finding
    assert "农药" in result.reasons[0].message_zh


def test_unclear_item_concludes_needs_onsite(catalogue: Catalogue) -> None:
    shop = build_checklist(catalogue, ["NY"], [])
    verdicts = all_pass(shop, except_=["NY-02"]) + both("NY-02", UNCLEAR)  # area, partly on video
    result = conclusion(shop, verdicts)
    assert result.value is ConclusionValue.needs_onsite
    assert result.onsite_items == ("NY-02",)
    assert "现场核查" in result.reasons[0].message_zh


def test_missing_verdicts_conclude_incomplete(food: CaseChecklist) -> None:
    result = conclusion(food, all_pass(food, except_=["FS-04"]))
    assert result.value is ConclusionValue.incomplete
    assert [(r.kind, r.item_id) for r in result.reasons] == [(ReasonKind.unsettled, "FS-04")]


def test_unresolved_disagreement_concludes_incomplete(food: CaseChecklist) -> None:
    verdicts = [
        *all_pass(food, except_=["FS-04"]),
        Verdict("FS-04", A, PASS),
        Verdict("FS-04", B, FAIL, evidence_refs=("s",)),
    ]
    result = conclusion(food, verdicts)
    assert result.value is ConclusionValue.incomplete
    assert result.reasons[0].kind is ReasonKind.disagreement


def test_resolved_disagreement_counts_as_settled(food: CaseChecklist) -> None:
    verdicts = [
        *all_pass(food, except_=["FS-04"]),
        Verdict("FS-04", A, PASS),
        Verdict("FS-04", B, FAIL, evidence_refs=("s",)),
    ]
    result = conclusion(food, verdicts, Resolution("FS-04", PASS, "货架离地高度已量，符合"))
    assert result.value is ConclusionValue.passed


def test_missing_photo_concludes_incomplete(food: CaseChecklist) -> None:
    verdicts = all_pass(food, except_=["FS-02"]) + both("FS-02", FAIL, photo=False)
    result = conclusion(food, verdicts)
    assert result.value is ConclusionValue.incomplete
    assert [r.kind for r in result.reasons] == [ReasonKind.evidence_missing]


def test_failure_outranks_open_items(catalogue: Catalogue) -> None:
    shop = build_checklist(catalogue, ["NY"], [])
    verdicts = both("NY-11", FAIL)  # nothing else checked yet: inspectors may stop here
    assert conclusion(shop, verdicts).value is ConclusionValue.failed


def test_needs_onsite_outranks_rectification(food: CaseChecklist) -> None:
    verdicts = all_pass(food, except_=["FS-02", "FS-03"])
    verdicts += both("FS-02", UNCLEAR) + both("FS-03", FAIL)
    result = conclusion(food, verdicts)
    assert result.value is ConclusionValue.needs_onsite
    assert result.rectification_items == ("FS-03",)


def test_record_only_item_never_decides(food: CaseChecklist) -> None:
    verdicts = all_pass(food, except_=["SH-09"]) + both("SH-09", FAIL)
    assert conclusion(food, verdicts).value is ConclusionValue.passed
    assert conclusion(food, all_pass(food, except_=["SH-09"])).value is ConclusionValue.passed


def test_open_items_lists_unsettled_items_except_record_only(food: CaseChecklist) -> None:
    verdicts = [*all_pass(food, except_=["FS-01", "FS-02", "SH-09"]), Verdict("FS-02", A, PASS)]
    states = settle(food, verdicts, [])
    assert [s.item.id for s in open_items(states)] == ["FS-01", "FS-02"]
