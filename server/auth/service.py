"""Login, logout and token resolution for staff; link tokens for applicants."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from server.audit.service import Actor, append
from server.auth import throttle
from server.auth.ended import AccessEnded, AccessEndedHook, EndReason, announce_after_commit
from server.auth.models import Role, Staff, StaffSession
from server.auth.passwords import verify_password
from server.auth.principal import Principal
from server.auth.throttle import ThrottlePolicy
from server.auth.tokens import APPLICANT_PREFIX, STAFF_PREFIX, hash_token, new_token
from server.cases.links import check_link
from server.cases.models import Case, CaseLink
from server.config import Settings
from server.db import utcnow
from server.errors import NotAuthenticated

LAST_SEEN_RESOLUTION = timedelta(seconds=30)


@dataclass(frozen=True, slots=True)
class LoginResult:
    token: str
    staff: Staff
    session: StaffSession


def _bad_credentials() -> NotAuthenticated:
    return NotAuthenticated(
        "用户名或密码不正确。", "The username or password is incorrect.", reason="credentials"
    )


async def login(
    session: AsyncSession,
    settings: Settings,
    *,
    username: str,
    password: str,
    client_ip: str,
) -> LoginResult:
    """Check credentials under throttling; issue a fresh session token on success.

    Failures are recorded by the caller's transaction, so the caller must commit them
    even though this raises (see ``auth.router``).
    """
    now = utcnow()
    policy = ThrottlePolicy.from_settings(settings)
    await throttle.check(session, policy, username=username, address=client_ip, now=now)
    staff = await session.scalar(select(Staff).where(Staff.username == username.strip()))
    ok = await verify_password(staff.password_hash if staff else None, password)
    if not ok or staff is None or not staff.active:
        await throttle.record_failure(
            session, policy, username=username, address=client_ip, now=now
        )
        await append(
            session,
            Actor("anonymous", client_ip),
            "auth.login_failed",
            detail={"username": username[:64], "ip": client_ip},
        )
        raise _bad_credentials()
    await throttle.forget_account(session, username=username, address=client_ip)
    token, token_hash = new_token(STAFF_PREFIX)
    login_session = StaffSession(
        staff_id=staff.id,
        token_hash=token_hash,
        last_seen_at=now,
        expires_at=now + timedelta(minutes=settings.staff_token_minutes),
    )
    session.add(login_session)
    await session.flush()
    await append(
        session,
        Actor("staff", staff.id),
        "auth.login",
        detail={"ip": client_ip, "session": login_session.id},
    )
    return LoginResult(token, staff, login_session)


async def logout(
    session: AsyncSession, principal: Principal, *, access_ended: Sequence[AccessEndedHook]
) -> None:
    """End this login, and (once committed) the live calls joined with it."""
    await session.execute(
        update(StaffSession)
        .where(StaffSession.id == principal.session_id)
        .values(revoked_at=utcnow())
    )
    await append(session, principal.actor, "auth.logout", detail={"session": principal.session_id})
    ended = AccessEnded(principal.id, "logout", session_id=principal.session_id)
    announce_after_commit(session, access_ended, ended)


async def revoke_all_sessions(
    session: AsyncSession,
    staff_id: str,
    *,
    reason: EndReason,
    access_ended: Sequence[AccessEndedHook],
) -> None:
    """End every login of a staff member at once (disable, role change, password reset),
    and (once committed) every live call they are in."""
    await session.execute(
        update(StaffSession)
        .where(StaffSession.staff_id == staff_id, StaffSession.revoked_at.is_(None))
        .values(revoked_at=utcnow())
    )
    announce_after_commit(session, access_ended, AccessEnded(staff_id, reason))


async def unlock_logins(
    session: AsyncSession, actor: Actor, *, username: str | None, address: str | None
) -> int:
    """Clear the login back-off of a username and/or an address (audited); returns how many."""
    cleared = await throttle.unlock(session, username=username, address=address)
    await append(
        session,
        actor,
        "auth.unlock",
        detail={"username": username, "address": address, "cleared": cleared},
    )
    return cleared


def _expired() -> NotAuthenticated:
    return NotAuthenticated(
        "登录已失效，请重新登录。", "Your login has expired; please log in again.", reason="expired"
    )


async def resolve_staff(session: AsyncSession, settings: Settings, token: str) -> Principal:
    """The staff member behind a login token. Runs on every staff request: it reads only the
    columns it needs (no ORM entities) and writes ``last_seen_at`` at most every
    ``LAST_SEEN_RESOLUTION``."""
    now = utcnow()
    row = (
        await session.execute(
            select(
                StaffSession.id,
                StaffSession.last_seen_at,
                StaffSession.expires_at,
                StaffSession.revoked_at,
                Staff.id,
                Staff.role,
                Staff.display_name,
                Staff.active,
            )
            .join(Staff, Staff.id == StaffSession.staff_id)
            .where(StaffSession.token_hash == hash_token(token))
        )
    ).one_or_none()
    if row is None:
        raise _expired()
    session_id, last_seen, expires_at, revoked_at, staff_id, role, name, active = row
    idle_limit = last_seen + timedelta(minutes=settings.staff_idle_minutes)
    if revoked_at is not None or expires_at <= now or idle_limit <= now or not active:
        raise _expired()
    if now - last_seen > LAST_SEEN_RESOLUTION:
        await session.execute(
            update(StaffSession).where(StaffSession.id == session_id).values(last_seen_at=now)
        )
    return Principal("staff", staff_id, role=Role(role), display_name=name, session_id=session_id)


def _link_invalid() -> NotAuthenticated:
    return NotAuthenticated(
        "此链接已失效或已被撤销，请联系受理窗口重新获取。",
        "This link has expired or was revoked; ask the service window for a new one.",
        reason="link_invalid",
    )


async def resolve_applicant(session: AsyncSession, settings: Settings, token: str) -> Principal:
    """The applicant behind a link; the link lives as long as its case (``cases.links``)."""
    now = utcnow()
    row = (
        await session.execute(
            select(CaseLink, Case)
            .join(Case, Case.id == CaseLink.case_id)
            .where(CaseLink.token_hash == hash_token(token))
        )
    ).one_or_none()
    if row is None:
        raise _link_invalid()
    link, case = row
    check_link(case, link, now, timedelta(days=settings.rating_window_days))
    if link.last_used_at is None or now - link.last_used_at > LAST_SEEN_RESOLUTION:
        link.last_used_at = now
    return Principal("applicant", link.id, case_id=case.id, display_name=case.applicant_name)


async def resolve_token(session: AsyncSession, settings: Settings, token: str) -> Principal:
    if token.startswith(STAFF_PREFIX):
        return await resolve_staff(session, settings, token)
    if token.startswith(APPLICANT_PREFIX):
        return await resolve_applicant(session, settings, token)
    raise _expired()
