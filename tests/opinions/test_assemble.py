"""The opinion's conclusion after rectification: it holds only for items actually put right."""

from __future__ import annotations

from checklists.conclusion import Conclusion, ConclusionValue
from server.opinions.assemble import after_rectification

PENDING = Conclusion(
    ConclusionValue.pass_after_rectification,
    reasons=(),
    rectification_items=("FS-02", "FS-05"),
)


def test_every_item_accepted_keeps_pass_after_rectification() -> None:
    assert after_rectification(PENDING, frozenset({"FS-02", "FS-05"})) == PENDING


def test_an_item_not_put_right_makes_it_a_fail_naming_the_item() -> None:
    result = after_rectification(PENDING, frozenset({"FS-02"}))
    assert result.value is ConclusionValue.failed
    assert [r.item_id for r in result.reasons] == ["FS-05"]


def test_other_conclusions_are_left_alone() -> None:
    passed = Conclusion(ConclusionValue.passed, reasons=())
    assert after_rectification(passed, frozenset()) == passed
