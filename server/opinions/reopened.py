"""Which checklist items a reviewer's send-back reopened for the lead (退回重核的检查项).

A send-back names the items to redo; they are stored on the comment it adds to the opinion.
While that send-back is the opinion's latest word and the draft is back with the lead, exactly
those items take new verdicts (``server.inspection.service``); every other item stays frozen.
Submitting the draft again (or a decline after it) closes them.
"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from server.cases.models import Case
from server.cases.states import CaseState
from server.opinions.models import Opinion
from server.opinions.records import current

SEND_BACK = "send_back"


def reopened_by(opinion: Opinion) -> frozenset[str]:
    """The items the opinion's latest send-back reopened, while the draft is with the lead."""
    comments = opinion.review_comments or []
    if opinion.status != "draft" or not comments or comments[-1].get("kind") != SEND_BACK:
        return frozenset()
    return frozenset(str(i) for i in comments[-1].get("items", []))


async def reopened_items(session: AsyncSession, case: Case) -> frozenset[str]:
    """The case's reopened items (none unless the case is back in drafting)."""
    if case.state != CaseState.drafted:
        return frozenset()
    opinion = await current(session, case.id)
    return reopened_by(opinion) if opinion is not None else frozenset()
