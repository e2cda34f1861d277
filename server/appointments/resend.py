"""Resending the applicant's link from the console (重新发送链接): the old links stop at once
and a fresh one goes to the applicant by the configured channels."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy.ext.asyncio import AsyncSession

from server.audit.service import Actor
from server.auth.ended import AccessEndedHook
from server.cases.links import IssuedLink, reissue_link
from server.cases.models import Case
from server.config import Settings
from server.notifications import events


async def resend_link(
    session: AsyncSession,
    settings: Settings,
    actor: Actor,
    case: Case,
    *,
    access_ended: Sequence[AccessEndedHook],
) -> IssuedLink:
    """Revoke the case's live links, issue a new one (audited) and send it to the applicant."""
    issued, _ = await reissue_link(
        session, actor, case, settings.effective_base_url, access_ended=access_ended
    )
    await events.link_resent(session, settings, case, issued.url, issued.link.id)
    return issued
