"""Reading an issued opinion: the PDF, the signed JSON twin, the list for the window staff,
the window's receipt, and the public look-up by verification code. Every read of a stored
object is checked against its hash and audited."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from server.audit.service import Actor
from server.cases.access import CaseView
from server.cases.models import Case
from server.db import utcnow
from server.errors import Conflict, NotFound, not_found
from server.opinions import repository
from server.opinions.models import Opinion
from server.opinions.records import ISSUED, audit, read_about, require_issued
from server.platform.storage import ObjectStore


async def read_pdf(
    session: AsyncSession, store: ObjectStore, actor: Actor, view: CaseView
) -> tuple[Opinion, bytes]:
    """The issued PDF, checked against its stored SHA-256; the read is audited."""
    opinion = await require_issued(session, view.case.id)
    data = await store.get_verified(
        str(opinion.pdf_key), str(opinion.pdf_sha256), about=read_about(opinion, "opinion_pdf")
    )
    await audit(session, actor, "read", opinion, what="pdf")
    return opinion, data


async def issued_list(
    session: AsyncSession, *, status: str, since: datetime | None, matter: str | None
) -> list[tuple[Opinion, Case]]:
    """Issued (or superseded) opinions, newest first, with their cases."""
    rows = await repository.with_status(session, status=status, since=since)
    return [(o, c) for o, c in rows if matter is None or matter in c.matters]


async def acknowledge(session: AsyncSession, actor: Actor, opinion_id: str) -> Opinion:
    """The window staff confirm receipt (签收), once; audited."""
    opinion = await session.get(Opinion, opinion_id)
    if opinion is None or opinion.status not in ISSUED:
        raise not_found("该意见书", "Opinion")
    if opinion.acknowledged_at is not None:
        raise Conflict(
            "该意见书已签收，不能重复签收。",
            "This opinion has already been acknowledged.",
            acknowledged_at=opinion.acknowledged_at.isoformat(),
        )
    opinion.acknowledged_by, opinion.acknowledged_at = actor.id, utcnow()
    await session.flush()
    await audit(session, actor, "acknowledged", opinion)
    return opinion


async def by_code(session: AsyncSession, code: str) -> tuple[Opinion, Opinion | None]:
    """An issued or superseded opinion by its verification code, and what replaced it."""
    normalized = code.strip().upper()
    opinion = await repository.by_verification_code(session, normalized, ISSUED)
    if opinion is None:
        raise NotFound(
            "没有该验证码对应的已出具意见书，请核对验证码。",
            "No issued opinion has this verification code; check the code.",
        )
    newer = await session.scalar(select(Opinion).where(Opinion.previous_id == opinion.id))
    return opinion, newer


async def read_twin(
    session: AsyncSession, store: ObjectStore, actor: Actor, view: CaseView
) -> tuple[Opinion, bytes]:
    """The signed JSON twin, exactly as signed: its SHA-256 is the stored content hash."""
    opinion = await require_issued(session, view.case.id)
    data = await store.get_verified(
        str(opinion.json_key), opinion.content_hash, about=read_about(opinion, "opinion_json")
    )
    await audit(session, actor, "read", opinion, what="json")
    return opinion, data


async def read_twin_signature(
    session: AsyncSession, store: ObjectStore, actor: Actor, view: CaseView
) -> tuple[Opinion, bytes]:
    """The detached CMS signature (DER) over the JSON twin; it proves itself against the twin."""
    opinion = await require_issued(session, view.case.id)
    data = await store.get(str(opinion.json_sig_key))
    await audit(session, actor, "read", opinion, what="json_signature")
    return opinion, data
