"""The draw (双随机): two eligible inspectors picked at random, weighted towards lighter load.

Pure and replayable: every input is in ``DrawInput`` (stored by the caller with its result),
and the only randomness is ``random.Random(seed)`` over candidates sorted by id, so re-running
a stored input gives the same pair on any machine (a ``str`` seed is hashed with SHA-512 by
``random.seed``, independent of ``PYTHONHASHSEED``).

Rules, in the order they are applied:

* eligible = active ∧ not excluded by the dispatcher ∧ no declared conflict (回避) with the
  case's keys ∧ qualified for **every** matter of the case. For a joint inspection (联合踏勘)
  each inspector must hold all its matters, not just the pair together: both walk the whole
  checklist and both sign the whole opinion, so each must be able to judge every item. It is
  also the simpler rule: eligibility is a per-inspector filter and the draw stays a plain
  weighted pick.
* weight = 1 / (1 + open cases): an idle inspector is twice as likely as one with one open case.
* two picks without replacement. The second pick is restricted to another organisation than
  the first when anyone eligible is from another one (a common 双随机 practice so one unit
  does not inspect alone); otherwise it is from everyone left.
"""

from __future__ import annotations

import random
import re
import secrets
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Literal

from server.errors import BadInput

DRAW_ALGORITHM = "weighted-inverse-load/distinct-organisation/v1"


class ExclusionReason(StrEnum):
    excluded = "excluded"  # named by the dispatcher (e.g. the inspector being replaced)
    inactive = "inactive"
    conflict = "conflict"
    unqualified = "unqualified"


_REASON_ZH = {
    ExclusionReason.excluded: "调度排除",
    ExclusionReason.inactive: "未在岗",
    ExclusionReason.conflict: "回避",
    ExclusionReason.unqualified: "资格不符",
}


@dataclass(frozen=True)
class Candidate:
    """An inspector in the pool (踏勘人员库) as the draw sees them."""

    inspector_id: str
    organisation: str
    matters: frozenset[str]
    active: bool
    open_cases: int
    conflicts: frozenset[str] = frozenset()


@dataclass(frozen=True)
class DrawInput:
    """Everything a draw depends on; store it with the result to replay the draw."""

    case_id: str
    matters: frozenset[str]
    applicant_keys: frozenset[str]
    candidates: tuple[Candidate, ...]
    seed: str
    exclude: frozenset[str] = frozenset()
    prefer_distinct_organisations: bool = True

    def __post_init__(self) -> None:
        # One canonical order (by id): the draw walks candidates in it, and equal inputs
        # compare and store equal whatever order the pool was loaded in.
        object.__setattr__(self, "candidates", tuple(_sorted(self.candidates)))

    def as_record(self) -> dict[str, Any]:
        """A JSON-ready form with sorted lists, so equal inputs store identically."""
        return {
            "case_id": self.case_id,
            "matters": sorted(self.matters),
            "applicant_keys": sorted(self.applicant_keys),
            "candidates": [_candidate_record(c) for c in self.candidates],
            "seed": self.seed,
            "exclude": sorted(self.exclude),
            "prefer_distinct_organisations": self.prefer_distinct_organisations,
            "algorithm": DRAW_ALGORITHM,
        }

    @classmethod
    def from_record(cls, record: Mapping[str, Any]) -> DrawInput:
        return cls(
            case_id=record["case_id"],
            matters=frozenset(record["matters"]),
            applicant_keys=frozenset(record["applicant_keys"]),
            candidates=tuple(
                Candidate(
                    inspector_id=c["inspector_id"],
                    organisation=c["organisation"],
                    matters=frozenset(c["matters"]),
                    active=c["active"],
                    open_cases=c["open_cases"],
                    conflicts=frozenset(c["conflicts"]),
                )
                for c in record["candidates"]
            ),
            seed=record["seed"],
            exclude=frozenset(record["exclude"]),
            prefer_distinct_organisations=record["prefer_distinct_organisations"],
        )


@dataclass(frozen=True)
class WeightedCandidate:
    inspector_id: str
    organisation: str
    weight: float


@dataclass(frozen=True)
class Exclusion:
    """Why one inspector could not be drawn; ``detail`` names the matters or conflict keys."""

    inspector_id: str
    reasons: tuple[ExclusionReason, ...]
    detail: str = ""


@dataclass(frozen=True)
class DrawResult:
    """The pair (lead first, in draw order) or ``None`` with a reason for the board."""

    case_id: str
    seed: str
    pair: tuple[str, str] | None
    reason_zh: str
    reason_en: str
    eligible: tuple[WeightedCandidate, ...]
    excluded: tuple[Exclusion, ...]
    algorithm: str = DRAW_ALGORITHM


@dataclass(frozen=True)
class ReplacementResult:
    """A dispatcher's replacement of one inspector; ``pair`` keeps the positions."""

    case_id: str
    seed: str
    leaving: str
    replacement: str | None
    pair: tuple[str, str] | None
    chosen_by: Literal["dispatcher", "draw"]
    reason: str  # the dispatcher's written reason, stored with the audit record
    message_zh: str
    message_en: str
    eligible: tuple[WeightedCandidate, ...]
    excluded: tuple[Exclusion, ...] = ()
    algorithm: str = DRAW_ALGORITHM


# ── keys for conflicts (回避) ────────────────────────────────────────────────────────────


def normalise_key(text: str) -> str:
    """Full-width → half-width (NFKC), lower-case, no whitespace: "Ａ 路１号" → "a路1号"."""
    folded = unicodedata.normalize("NFKC", text).casefold()
    return "".join(folded.split())


def applicant_key(name_or_id: str) -> str:
    return f"applicant:{normalise_key(name_or_id)}"


def address_key(address: str) -> str:
    return f"address:{normalise_key(address)}"


def phone_key(phone: str) -> str:
    """Digits only, without China's country code, so "+86 138-0000-0000" matches "13800000000"."""
    digits = re.sub(r"\D", "", unicodedata.normalize("NFKC", phone))
    if digits.startswith("0086"):
        digits = digits[4:]
    elif digits.startswith("86") and len(digits) == 13:
        digits = digits[2:]
    return f"phone:{digits}"


def case_keys(
    *, applicant_name: str, applicant_id_no: str = "", phone: str = "", address: str = ""
) -> frozenset[str]:
    """The keys a declared conflict is matched against for one case."""
    keys = {applicant_key(applicant_name)}
    if applicant_id_no.strip():
        keys.add(applicant_key(applicant_id_no))
    if phone.strip():
        keys.add(phone_key(phone))
    if address.strip():
        keys.add(address_key(address))
    return frozenset(keys)


def new_seed() -> str:
    """A fresh, unguessable seed; stored with the draw so anyone can replay it."""
    return secrets.token_hex(16)


# ── the draw ─────────────────────────────────────────────────────────────────────────────


def draw_pair(draw_input: DrawInput) -> DrawResult:
    """Draw two inspectors (双随机), or explain on the board why the case stays unassigned."""
    _validate(draw_input)
    eligible, excluded = _screen(draw_input, draw_input.exclude)
    if len(eligible) < 2:
        zh, en = _shortage_reason(draw_input, excluded, len(eligible))
        return DrawResult(draw_input.case_id, draw_input.seed, None, zh, en, eligible, excluded)
    rng = random.Random(draw_input.seed)
    first = _pick(rng, eligible)
    rest = [c for c in eligible if c.inspector_id != first.inspector_id]
    second = _pick(rng, _second_pool(rest, first.organisation, draw_input))
    return DrawResult(
        case_id=draw_input.case_id,
        seed=draw_input.seed,
        pair=(first.inspector_id, second.inspector_id),
        reason_zh=f"已从 {len(eligible)} 名符合条件的踏勘人员中随机抽取",
        reason_en=f"Drawn at random from {len(eligible)} eligible inspectors",
        eligible=eligible,
        excluded=excluded,
    )


def replacement(
    draw_input: DrawInput,
    *,
    pair: tuple[str, str],
    leaving: str,
    reason: str,
    chosen: str | None = None,
) -> ReplacementResult:
    """Replace ``leaving`` in ``pair``: validate the dispatcher's ``chosen`` one, or draw one.

    The person staying and the person leaving are never eligible. ``draw_input.seed`` should be
    a fresh seed for this replacement; it is stored with the result like a draw's.
    """
    _validate(draw_input)
    if not reason.strip():
        raise BadInput("更换踏勘人员必须填写理由。", "A written reason is required to replace.")
    if leaving not in pair:
        raise BadInput(
            f"{leaving} 不是本案踏勘人员。", f"{leaving} is not one of this case's inspectors."
        )
    staying = pair[1] if pair[0] == leaving else pair[0]
    eligible, excluded = _screen(draw_input, draw_input.exclude | set(pair))
    newcomer: str | None
    chosen_by: Literal["dispatcher", "draw"]
    if chosen is not None:
        newcomer = _check_chosen(chosen, eligible, excluded, pair)
        chosen_by = "dispatcher"
    else:
        newcomer = _draw_one(draw_input, eligible, staying)
        chosen_by = "draw"
    return _replacement_result(
        draw_input, pair, leaving, newcomer, chosen_by, reason.strip(), eligible, excluded
    )


# ── helpers ──────────────────────────────────────────────────────────────────────────────


def _validate(draw_input: DrawInput) -> None:
    if not draw_input.seed:
        raise BadInput("抽取种子不能为空。", "The draw seed must not be empty.")
    if not draw_input.matters:
        raise BadInput("案件未指定踏勘事项。", "The case names no matter to inspect.")
    ids = [c.inspector_id for c in draw_input.candidates]
    if len(ids) != len(set(ids)):
        raise BadInput("候选人员编号重复。", "Candidate inspector ids must be unique.")
    if any(c.open_cases < 0 for c in draw_input.candidates):
        raise BadInput("在办案件数不能为负数。", "Open case counts must not be negative.")


def _sorted(candidates: Iterable[Candidate]) -> list[Candidate]:
    return sorted(candidates, key=lambda c: c.inspector_id)


def _candidate_record(c: Candidate) -> dict[str, Any]:
    return {
        "inspector_id": c.inspector_id,
        "organisation": c.organisation,
        "matters": sorted(c.matters),
        "active": c.active,
        "open_cases": c.open_cases,
        "conflicts": sorted(c.conflicts),
    }


def load_weight(open_cases: int) -> float:
    """Draw weight: halves from no open case to one, a third at two, and so on."""
    return 1.0 / (1 + open_cases)


def _screen(
    draw_input: DrawInput, exclude: Iterable[str]
) -> tuple[tuple[WeightedCandidate, ...], tuple[Exclusion, ...]]:
    """Split the pool into eligible (sorted by id, weighted) and excluded (with reasons)."""
    excluded_ids = frozenset(exclude)
    case_keys_ = frozenset(normalise_key(k) for k in draw_input.applicant_keys)
    eligible: list[WeightedCandidate] = []
    excluded: list[Exclusion] = []
    for c in draw_input.candidates:  # sorted by id, see DrawInput
        exclusion = _exclusion(c, draw_input.matters, case_keys_, excluded_ids)
        if exclusion is None:
            eligible.append(
                WeightedCandidate(c.inspector_id, c.organisation, load_weight(c.open_cases))
            )
        else:
            excluded.append(exclusion)
    return tuple(eligible), tuple(excluded)


def _exclusion(
    c: Candidate, matters: frozenset[str], case_keys_: frozenset[str], excluded_ids: frozenset[str]
) -> Exclusion | None:
    reasons: list[ExclusionReason] = []
    details: list[str] = []
    if c.inspector_id in excluded_ids:
        reasons.append(ExclusionReason.excluded)
    if not c.active:
        reasons.append(ExclusionReason.inactive)
    clashes = sorted(case_keys_ & {normalise_key(k) for k in c.conflicts})
    if clashes:
        reasons.append(ExclusionReason.conflict)
        details.append("conflict: " + ", ".join(clashes))
    missing = sorted(matters - c.matters)
    if missing:
        reasons.append(ExclusionReason.unqualified)
        details.append("not qualified for: " + "、".join(missing))
    if not reasons:
        return None
    return Exclusion(c.inspector_id, tuple(reasons), "; ".join(details))


def _pick(rng: random.Random, pool: Sequence[WeightedCandidate]) -> WeightedCandidate:
    """One weighted pick; ``pool`` is in id order so the same seed walks the same way."""
    point = rng.random() * sum(c.weight for c in pool)
    for c in pool:
        point -= c.weight
        if point < 0:
            return c
    return pool[-1]  # only reached through float rounding at the very top of the range


def _second_pool(
    rest: Sequence[WeightedCandidate], organisation: str, draw_input: DrawInput
) -> Sequence[WeightedCandidate]:
    if not draw_input.prefer_distinct_organisations:
        return rest
    others = [c for c in rest if c.organisation != organisation]
    return others or rest


def _draw_one(
    draw_input: DrawInput, eligible: Sequence[WeightedCandidate], staying: str
) -> str | None:
    if not eligible:
        return None
    staying_org = next(
        (c.organisation for c in draw_input.candidates if c.inspector_id == staying), None
    )
    pool = eligible if staying_org is None else _second_pool(eligible, staying_org, draw_input)
    return _pick(random.Random(draw_input.seed), pool).inspector_id


def _check_chosen(
    chosen: str,
    eligible: Sequence[WeightedCandidate],
    excluded: Sequence[Exclusion],
    pair: tuple[str, str],
) -> str:
    if any(c.inspector_id == chosen for c in eligible):
        return chosen
    if chosen in pair:
        raise BadInput(f"{chosen} 已是本案踏勘人员。", f"{chosen} is already on this case.")
    exclusion = next((e for e in excluded if e.inspector_id == chosen), None)
    if exclusion is None:
        raise BadInput(f"人员库中没有 {chosen}。", f"{chosen} is not in the inspector pool.")
    why_zh = "、".join(_REASON_ZH[r] for r in exclusion.reasons)
    why_en = ", ".join(exclusion.reasons)
    raise BadInput(
        f"{chosen} 不符合抽取条件：{why_zh}。{exclusion.detail}",
        f"{chosen} is not eligible: {why_en}. {exclusion.detail}".strip(),
        inspector_id=chosen,
        reasons=list(exclusion.reasons),
    )


def _replacement_result(
    draw_input: DrawInput,
    pair: tuple[str, str],
    leaving: str,
    newcomer: str | None,
    chosen_by: Literal["dispatcher", "draw"],
    reason: str,
    eligible: tuple[WeightedCandidate, ...],
    excluded: tuple[Exclusion, ...],
) -> ReplacementResult:
    if newcomer is None:
        new_pair = None
        zh = f"没有可替换 {leaving} 的符合条件人员"
        en = f"No eligible inspector can replace {leaving}"
    else:
        new_pair = (newcomer, pair[1]) if pair[0] == leaving else (pair[0], newcomer)
        zh = f"{newcomer} 替换 {leaving}"
        en = f"{newcomer} replaces {leaving}"
    return ReplacementResult(
        case_id=draw_input.case_id,
        seed=draw_input.seed,
        leaving=leaving,
        replacement=newcomer,
        pair=new_pair,
        chosen_by=chosen_by,
        reason=reason,
        message_zh=zh,
        message_en=en,
        eligible=eligible,
        excluded=excluded,
    )


def _shortage_reason(
    draw_input: DrawInput, excluded: Sequence[Exclusion], eligible_count: int
) -> tuple[str, str]:
    """Name the bottleneck: the matter with too few inspectors, then what was excluded."""
    zh, en = _bottleneck(draw_input, excluded, eligible_count)
    counts = _reason_counts(excluded)
    if counts:
        zh += "（" + "，".join(f"{_REASON_ZH[r]} {n} 名" for r, n in counts.items()) + "）"
        en += " (" + ", ".join(f"{n} {r}" for r, n in counts.items()) + ")"
    return "符合条件的踏勘人员不足两名：" + zh, "Fewer than two eligible inspectors: " + en


def _bottleneck(
    draw_input: DrawInput, excluded: Sequence[Exclusion], eligible_count: int
) -> tuple[str, str]:
    # Count, per matter, who would be eligible but for qualifications, so the board names
    # the matter that is short rather than just "no one".
    blocked = {e.inspector_id for e in excluded if set(e.reasons) - {ExclusionReason.unqualified}}
    available = [c for c in draw_input.candidates if c.inspector_id not in blocked]
    per_matter = {m: sum(m in c.matters for c in available) for m in sorted(draw_input.matters)}
    short = [(m, n) for m, n in per_matter.items() if n < 2]
    if short:
        zh = "；".join(f"{m} 仅有 {n} 名可选的具备资格人员" for m, n in short)
        en = "; ".join(f"only {n} available qualified inspector(s) for {m}" for m, n in short)
        return zh, en
    joined = "、".join(sorted(draw_input.matters))
    return (
        f"同时具备 {joined} 资格的可选人员仅有 {eligible_count} 名",
        f"only {eligible_count} available inspector(s) qualified for all of {joined}",
    )


def _reason_counts(excluded: Sequence[Exclusion]) -> dict[ExclusionReason, int]:
    counts = dict.fromkeys(ExclusionReason, 0)
    for e in excluded:
        for r in e.reasons:
            counts[r] += 1
    return {r: n for r, n in counts.items() if n}
