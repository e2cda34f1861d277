"""The draft opinion as a PDF preview (草稿预览) for the people who must sign or approve it.

Rendered from the stored draft content with the case's photos, unsigned, every page marked
草稿 / DRAFT; nothing is stored. Rendering runs in a thread. Staff only; the read is audited.
"""

from __future__ import annotations

import asyncio

from sqlalchemy.ext.asyncio import AsyncSession

from server.auth.principal import Principal
from server.cases.access import CaseView
from server.context import AppContext
from server.errors import Conflict, Forbidden
from server.opinions.issue import photo_bytes
from server.opinions.models import Opinion
from server.opinions.pdf import render_opinion_pdf
from server.opinions.records import ISSUED, audit, content_of, require_current


async def draft_pdf(
    session: AsyncSession, ctx: AppContext, principal: Principal, view: CaseView
) -> tuple[Opinion, bytes]:
    """The current draft rendered unsigned and marked DRAFT (409 once issued: use the PDF)."""
    if not principal.is_staff:
        raise Forbidden("意见书草稿仅供工作人员查看。", "The draft opinion is for staff only.")
    opinion = await require_current(session, view.case.id)
    if opinion.status in ISSUED:
        raise Conflict(
            "意见书已出具，请下载已签署的正式意见书。",
            "The opinion is issued; download the signed opinion instead.",
            current=opinion.status,
        )
    content = content_of(opinion)
    photos = await photo_bytes(session, ctx.store, view.case.id)
    pdf = await asyncio.to_thread(render_opinion_pdf, content, photos, draft=True)
    await audit(session, principal.actor, "previewed", opinion, content_hash=opinion.content_hash)
    return opinion, pdf
