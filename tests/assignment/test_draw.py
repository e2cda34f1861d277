"""The draw (双随机): eligibility, reproducibility, load spreading, replacements."""

from __future__ import annotations

import math
import random

import pytest

from server.assignment.draw import (
    Candidate,
    DrawInput,
    ExclusionReason,
    address_key,
    applicant_key,
    case_keys,
    draw_pair,
    load_weight,
    new_seed,
    normalise_key,
    phone_key,
    replacement,
)
from server.errors import BadInput

FOOD = "食品经营"
PESTICIDE = "农药经营"
SHOP_KEYS = case_keys(
    applicant_name="青禾农资店",
    applicant_id_no="91330100MA2XXXXX1X",
    phone="+86 138-0000-1234",
    address="杭州市西湖区文三路 1 号",
)


def inspector(
    inspector_id: str,
    *,
    organisation: str = "市场监管局",
    matters: frozenset[str] = frozenset({FOOD, PESTICIDE}),
    active: bool = True,
    open_cases: int = 0,
    conflicts: frozenset[str] = frozenset(),
) -> Candidate:
    return Candidate(inspector_id, organisation, matters, active, open_cases, conflicts)


def draw_input(
    candidates: list[Candidate],
    *,
    seed: str = "seed-1",
    matters: frozenset[str] = frozenset({PESTICIDE}),
    exclude: frozenset[str] = frozenset(),
    prefer_distinct_organisations: bool = True,
) -> DrawInput:
    return DrawInput(
        case_id="case-1",
        matters=matters,
        applicant_keys=SHOP_KEYS,
        candidates=tuple(candidates),
        seed=seed,
        exclude=exclude,
        prefer_distinct_organisations=prefer_distinct_organisations,
    )


def mixed_pool() -> list[Candidate]:
    return [
        inspector("i-ok-1"),
        inspector("i-ok-2", organisation="农业农村局"),
        inspector("i-ok-3", open_cases=2),
        inspector("i-inactive", active=False),
        inspector("i-food-only", matters=frozenset({FOOD})),
        inspector("i-conflict-name", conflicts=frozenset({applicant_key("青禾农资店")})),
        # declared with full-width digits and spaces: must still match the case's address
        inspector("i-conflict-addr", conflicts=frozenset({"address:杭州市西湖区文三路１号"})),
        inspector("i-conflict-phone", conflicts=frozenset({phone_key("13800001234")})),
    ]


def test_draw_never_picks_a_conflicted_inactive_or_unqualified_inspector() -> None:
    allowed = {"i-ok-1", "i-ok-2", "i-ok-3"}
    for i in range(300):
        result = draw_pair(draw_input(mixed_pool(), seed=f"s-{i}"))
        assert result.pair is not None
        assert set(result.pair) <= allowed
        assert result.pair[0] != result.pair[1]


def test_excluded_inspectors_are_listed_with_reasons() -> None:
    result = draw_pair(draw_input(mixed_pool(), exclude=frozenset({"i-ok-3"})))
    reasons = {e.inspector_id: e.reasons for e in result.excluded}
    assert reasons == {
        "i-ok-3": (ExclusionReason.excluded,),
        "i-inactive": (ExclusionReason.inactive,),
        "i-food-only": (ExclusionReason.unqualified,),
        "i-conflict-name": (ExclusionReason.conflict,),
        "i-conflict-addr": (ExclusionReason.conflict,),
        "i-conflict-phone": (ExclusionReason.conflict,),
    }
    assert result.pair is not None
    assert set(result.pair) == {"i-ok-1", "i-ok-2"}
    assert [c.inspector_id for c in result.eligible] == ["i-ok-1", "i-ok-2"]


def test_same_seed_gives_the_same_pair_whatever_the_candidate_order() -> None:
    pool = [inspector(f"i-{n:02}", open_cases=n % 4) for n in range(12)]
    first = draw_pair(draw_input(pool, seed="f3a9"))
    for shuffle_seed in range(5):
        shuffled = list(pool)
        random.Random(shuffle_seed).shuffle(shuffled)
        assert draw_pair(draw_input(shuffled, seed="f3a9")).pair == first.pair


def test_stored_record_replays_to_the_same_pair() -> None:
    original = draw_input(mixed_pool(), seed=new_seed())
    replayed = DrawInput.from_record(original.as_record())
    assert replayed == original
    assert draw_pair(replayed).pair == draw_pair(original).pair


def test_different_seeds_give_different_pairs() -> None:
    pool = [inspector(f"i-{n:02}") for n in range(10)]
    pairs = {draw_pair(draw_input(pool, seed=f"s-{i}")).pair for i in range(50)}
    assert len(pairs) > 10


def test_lighter_load_is_drawn_more_often() -> None:
    loads = {"i-a": 0, "i-b": 1, "i-c": 2, "i-d": 3, "i-e": 4}
    pool = [inspector(i, open_cases=n) for i, n in loads.items()]
    draws = 2000
    counts = dict.fromkeys(loads, 0)
    for i in range(draws):
        pair = draw_pair(draw_input(pool, seed=f"load-{i}")).pair
        assert pair is not None
        for inspector_id in pair:
            counts[inspector_id] += 1

    # Each count is within 4 standard deviations of the exact inclusion probability of
    # weighted sampling without replacement …
    weights = {i: load_weight(n) for i, n in loads.items()}
    for inspector_id, count in counts.items():
        p = _inclusion_probability(inspector_id, weights)
        assert abs(count - draws * p) < 4 * math.sqrt(draws * p * (1 - p)), counts
    # … and the idle inspector is picked significantly more often than the busiest one
    # (two-proportion z-test, z > 3).
    p_light, p_heavy = counts["i-a"] / draws, counts["i-e"] / draws
    pooled = (p_light + p_heavy) / 2
    z = (p_light - p_heavy) / math.sqrt(2 * pooled * (1 - pooled) / draws)
    assert z > 3, counts


def _inclusion_probability(target: str, weights: dict[str, float]) -> float:
    total = sum(weights.values())
    first = weights[target] / total
    second = sum(
        (w / total) * (weights[target] / (total - w)) for i, w in weights.items() if i != target
    )
    return first + second


def test_pair_comes_from_two_organisations_when_possible() -> None:
    pool = [
        inspector("i-1", organisation="市场监管局"),
        inspector("i-2", organisation="市场监管局"),
        inspector("i-3", organisation="市场监管局"),
        inspector("i-4", organisation="农业农村局"),
    ]
    for i in range(100):
        pair = draw_pair(draw_input(pool, seed=f"org-{i}")).pair
        assert pair is not None
        assert "i-4" in pair


def test_one_organisation_still_gives_a_pair() -> None:
    pool = [inspector("i-1"), inspector("i-2")]
    assert draw_pair(draw_input(pool)).pair in {("i-1", "i-2"), ("i-2", "i-1")}


def test_fewer_than_two_qualified_names_the_matter() -> None:
    pool = [
        inspector("i-1"),
        inspector("i-2", matters=frozenset({FOOD})),
        inspector("i-3", active=False),
    ]
    result = draw_pair(draw_input(pool))
    assert result.pair is None
    assert "only 1 available qualified inspector(s) for 农药经营" in result.reason_en
    assert "农药经营 仅有 1 名" in result.reason_zh
    assert "1 inactive" in result.reason_en
    assert [c.inspector_id for c in result.eligible] == ["i-1"]


def test_joint_inspection_needs_each_inspector_qualified_for_all_matters() -> None:
    pool = [
        inspector("i-food-1", matters=frozenset({FOOD})),
        inspector("i-food-2", matters=frozenset({FOOD})),
        inspector("i-pest-1", matters=frozenset({PESTICIDE})),
        inspector("i-pest-2", matters=frozenset({PESTICIDE})),
        inspector("i-both"),
    ]
    result = draw_pair(draw_input(pool, matters=frozenset({FOOD, PESTICIDE})))
    assert result.pair is None
    assert "qualified for all of" in result.reason_en
    assert [c.inspector_id for c in result.eligible] == ["i-both"]


def test_empty_pool_gives_no_pair() -> None:
    result = draw_pair(draw_input([]))
    assert result.pair is None
    assert "only 0" in result.reason_en


def test_bad_input_is_refused() -> None:
    with pytest.raises(BadInput):
        draw_pair(draw_input([inspector("i-1"), inspector("i-1")]))
    with pytest.raises(BadInput):
        draw_pair(draw_input([inspector("i-1")], seed=""))
    with pytest.raises(BadInput):
        draw_pair(draw_input([inspector("i-1")], matters=frozenset()))
    with pytest.raises(BadInput):
        draw_pair(draw_input([inspector("i-1", open_cases=-1)]))


# ── replacement ──


def test_replacement_requires_a_written_reason() -> None:
    with pytest.raises(BadInput):
        replacement(
            draw_input(mixed_pool()), pair=("i-ok-1", "i-ok-2"), leaving="i-ok-1", reason=" "
        )


def test_replacement_must_name_one_of_the_pair() -> None:
    with pytest.raises(BadInput):
        replacement(
            draw_input(mixed_pool()), pair=("i-ok-1", "i-ok-2"), leaving="i-x", reason="病假"
        )


def test_dispatcher_choice_keeps_the_position() -> None:
    result = replacement(
        draw_input(mixed_pool()),
        pair=("i-ok-1", "i-ok-2"),
        leaving="i-ok-1",
        reason="病假 sick leave",
        chosen="i-ok-3",
    )
    assert result.pair == ("i-ok-3", "i-ok-2")
    assert result.chosen_by == "dispatcher"
    assert result.reason == "病假 sick leave"


@pytest.mark.parametrize(
    "chosen", ["i-conflict-addr", "i-inactive", "i-food-only", "i-ok-2", "i-x"]
)
def test_dispatcher_cannot_choose_an_ineligible_inspector(chosen: str) -> None:
    with pytest.raises(BadInput):
        replacement(
            draw_input(mixed_pool()),
            pair=("i-ok-1", "i-ok-2"),
            leaving="i-ok-1",
            reason="病假",
            chosen=chosen,
        )


def test_drawn_replacement_is_eligible_and_new() -> None:
    pool = [*mixed_pool(), inspector("i-ok-4"), inspector("i-ok-5", open_cases=5)]
    for i in range(100):
        result = replacement(
            draw_input(pool, seed=f"r-{i}"),
            pair=("i-ok-1", "i-ok-2"),
            leaving="i-ok-2",
            reason="出差",
        )
        assert result.chosen_by == "draw"
        assert result.replacement in {"i-ok-3", "i-ok-4", "i-ok-5"}
        assert result.pair == ("i-ok-1", result.replacement)


def test_replacement_with_no_one_left_says_so() -> None:
    pool = [inspector("i-1"), inspector("i-2"), inspector("i-3", active=False)]
    result = replacement(draw_input(pool), pair=("i-1", "i-2"), leaving="i-1", reason="病假")
    assert result.pair is None
    assert result.replacement is None
    assert "No eligible inspector" in result.message_en


# ── keys ──


def test_normalise_key_folds_width_case_and_spaces() -> None:
    assert normalise_key(" ＡＢＣ 路 １２ 号\u3000") == "abc路12号"
    assert address_key("文三路１号") == address_key("文三路 1 号")


def test_phone_key_drops_punctuation_and_country_code() -> None:
    assert phone_key("+86 138-0000-1234") == "phone:13800001234"
    assert phone_key("0086 13800001234") == phone_key("１３８００００１２３４")


def test_new_seed_is_fresh() -> None:
    seeds = {new_seed() for _ in range(20)}
    assert len(seeds) == 20
    assert all(len(s) == 32 for s in seeds)
