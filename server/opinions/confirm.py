"""Signing is confirmed: the co-signer and the approving reviewer re-enter their password.

Checked with the login's own password check (argon2id, off the event loop) and paced like
logins (``server.auth.throttle``) under a key of its own, ``sign:<username>``, plus the
address's shared counter. A wrong password signs nothing, is counted, and is audited as a
refused attempt (``opinion.sign_refused``); the caller commits those records before the error
goes out (see ``router``). A confirmed signature is audited as ``opinion.sign_confirmed``.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from server.audit.service import Actor, append
from server.auth import throttle
from server.auth.models import Staff
from server.auth.passwords import verify_password
from server.context import AppContext
from server.db import utcnow
from server.errors import Forbidden, TooManyRequests


@dataclass(frozen=True, slots=True)
class Confirmation:
    """What the signer typed, and where the request came from (for pacing wrong guesses)."""

    password: str
    address: str


class SignatureRefused(Forbidden):
    """The password did not match: nothing was signed (its records must still be committed)."""


def _too_many(seconds: int) -> TooManyRequests:
    return TooManyRequests(
        f"密码输错次数过多，请在 {seconds} 秒后再签署；如需立即解除，请联系管理员。",
        f"Too many wrong passwords; sign again in {seconds} seconds, or ask an administrator.",
        retry_after=seconds,
    )


def _refused() -> SignatureRefused:
    return SignatureRefused(
        "密码不正确，未签署。请重新输入您的登录密码后再签署。",
        "The password is incorrect; nothing was signed. Enter your login password and sign again.",
        reason="password",
    )


async def confirm_signer(
    session: AsyncSession,
    ctx: AppContext,
    actor: Actor,
    signer: Confirmation,
    *,
    case_id: str,
    step: str,
) -> None:
    """Raise ``SignatureRefused`` (403) unless the signer typed their login password; on
    success nothing is written yet (``record_confirmed`` does, once signed)."""
    password, address = signer.password, signer.address
    now = utcnow()
    policy = throttle.ThrottlePolicy.from_settings(ctx.settings)
    staff = await session.get(Staff, actor.id)
    name = f"sign:{staff.username if staff else actor.id}"
    try:
        await throttle.check(session, policy, username=name, address=address, now=now)
    except TooManyRequests as paced:
        raise _too_many(paced.retry_after) from paced
    with throttle.password_checks(ctx, address):
        ok = await verify_password(staff.password_hash if staff else None, password)
    if not ok:
        await throttle.record_failure(session, policy, username=name, address=address, now=now)
        detail = {"step": step, "ip": address}
        await append(session, actor, "opinion.sign_refused", case_id=case_id, detail=detail)
        raise _refused()


async def record_confirmed(
    session: AsyncSession, actor: Actor, signer: Confirmation, *, case_id: str, step: str
) -> None:
    """After the signing step: clear the signer's wrong-password count and audit the
    confirmation. Written last, so nothing is written while the opinion is being signed
    (a detached audit write during signing must not wait on this transaction)."""
    staff = await session.get(Staff, actor.id)
    name = f"sign:{staff.username if staff else actor.id}"
    await throttle.forget_account(session, username=name, address=signer.address)
    detail = {"step": step, "ip": signer.address}
    await append(session, actor, "opinion.sign_confirmed", case_id=case_id, detail=detail)
