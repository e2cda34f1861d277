"""The rectification rounds as the opinion records them: accepted items and each round's outcome."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from server.rectification.service import Round, accepted_by_all


def accepted_items(rounds: Sequence[Round], inspectors: Sequence[str]) -> frozenset[str]:
    """Items both inspectors accepted in some round: they count as pass in the opinion."""
    pair = inspectors[:2]
    return frozenset(
        i.item_id for r in rounds for i in r.items if len(pair) == 2 and accepted_by_all(i, pair)
    )


OUTCOME_TEXT = {
    "open": "待申请人补正",
    "submitted": "待核验",
    "verified": "核验通过",
    "rejected": "核验不通过，已要求再次补正",
    "expired": "逾期未补正",
}


def history(rounds: Sequence[Round]) -> list[dict[str, Any]]:
    """Each round as the opinion's ``RectificationRound`` fields (round, items, dates, outcome)."""
    return [
        {
            "round": r.round.number,
            "requested_at": r.round.requested_at,
            "item_ids": tuple(i.item_id for i in r.items),
            "due_at": r.round.deadline,
            "responded_at": r.round.submitted_at,
            "outcome_zh": OUTCOME_TEXT[r.round.status],
        }
        for r in rounds
    ]
