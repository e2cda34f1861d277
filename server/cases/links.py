"""The applicant's links (申请人链接): a link lives as long as its case.

A link has no fixed end. It stays valid while the case is open and, once the case ended (closed,
cancelled or withdrawn: ``Case.ended_at``), for the rating window after that, so the applicant
can still read the outcome and rate the service. Revoking a link ends it at once; resending
revokes every live link of the case and issues a fresh one. Links issued before this rule carry
a fixed ``expires_at``, which is still honoured.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from server.audit.service import Actor, append
from server.auth.ended import AccessEnded, AccessEndedHook, announce_after_commit
from server.auth.tokens import APPLICANT_PREFIX, new_token
from server.cases.models import Case, CaseLink
from server.db import utcnow
from server.errors import NotAuthenticated, not_found
from server.platform.time import shanghai_time


@dataclass(frozen=True, slots=True)
class IssuedLink:
    """A new link: the row, the token (shown once) and the URL the applicant opens."""

    link: CaseLink
    token: str
    url: str


def link_ends_at(case: Case, link: CaseLink, window: timedelta) -> datetime | None:
    """When ``link`` stops working: None while its case is open (and no fixed end was set)."""
    ends = [] if case.ended_at is None else [case.ended_at + window]
    if link.expires_at is not None:
        ends.append(link.expires_at)
    return min(ends, default=None)


def check_link(case: Case, link: CaseLink, now: datetime, window: timedelta) -> None:
    """Refuse a revoked link, or one past its case's end plus the rating window, in words."""
    if link.revoked_at is not None:
        raise NotAuthenticated(
            "此链接已被撤销，请使用最新收到的链接，或联系受理窗口重新发送。",
            "This link was revoked; use the latest link you received or ask the service "
            "window to send a new one.",
            reason="link_invalid",
        )
    ends = link_ends_at(case, link, window)
    if ends is None or now < ends:
        return
    if case.ended_at is None:  # a link issued with a fixed end, before links lived with cases
        raise NotAuthenticated(
            "此链接已失效，请联系受理窗口重新获取。",
            "This link has expired; ask the service window for a new one.",
            reason="link_invalid",
        )
    raise NotAuthenticated(
        f"案件已结束，查看结果和评价的期限已于 {shanghai_time(ends)}（北京时间）截止，"
        "此链接已失效。如有疑问请联系受理窗口。",
        f"The case has ended and the period to see its outcome and rate it ended on "
        f"{shanghai_time(ends)} (Beijing time); this link no longer works. Contact the "
        "service window with any questions.",
        reason="link_invalid",
    )


async def issue_link(session: AsyncSession, actor: Actor, case: Case, base_url: str) -> IssuedLink:
    """Issue a new link for the case's applicant (audited); valid as long as the case."""
    token, token_hash = new_token(APPLICANT_PREFIX, nbytes=24)
    link = CaseLink(case_id=case.id, token_hash=token_hash, created_by=actor.id, expires_at=None)
    session.add(link)
    await session.flush()
    await append(session, actor, "case.link_created", case_id=case.id, detail={"link": link.id})
    return IssuedLink(link, token, f"{base_url}/applicant/#{token}")


async def revoke_link(
    session: AsyncSession,
    actor: Actor,
    case: Case,
    link_id: str,
    *,
    access_ended: Sequence[AccessEndedHook],
) -> None:
    """Revoke an applicant link; once committed, the applicant's live call on it ends."""
    result = await session.execute(
        update(CaseLink)
        .where(CaseLink.id == link_id, CaseLink.case_id == case.id, CaseLink.revoked_at.is_(None))
        .values(revoked_at=utcnow())
    )
    if result.rowcount == 0:  # type: ignore[attr-defined]
        raise not_found("该链接", "Link")
    await append(session, actor, "case.link_revoked", case_id=case.id, detail={"link": link_id})
    announce_after_commit(session, access_ended, AccessEnded(link_id, "link_revoked"))


async def reissue_link(
    session: AsyncSession,
    actor: Actor,
    case: Case,
    base_url: str,
    *,
    access_ended: Sequence[AccessEndedHook],
) -> tuple[IssuedLink, list[str]]:
    """Revoke every live link of the case and issue a fresh one (audited); returns the new
    link and the ids of the links revoked."""
    live = list(
        await session.scalars(
            select(CaseLink.id).where(CaseLink.case_id == case.id, CaseLink.revoked_at.is_(None))
        )
    )
    for link_id in live:
        await revoke_link(session, actor, case, link_id, access_ended=access_ended)
    issued = await issue_link(session, actor, case, base_url)
    await append(
        session,
        actor,
        "case.link_resent",
        case_id=case.id,
        detail={"link": issued.link.id, "revoked": live},
    )
    return issued, live
