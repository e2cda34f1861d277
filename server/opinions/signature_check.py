"""The stored opinion PDF's signature as a public verifier sees it (``GET /verify/{code}``).

The PDF is read back from storage (checked against its recorded SHA-256) and verified offline
against the configured trust roots, off the event loop. The result only changes as time passes
(certificates expire, CRLs age), so it is kept for a few minutes per process on the app
context, bounded, rather than recomputed for every scan of the QR code.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import datetime, timedelta

from server.context import AppContext
from server.db import utcnow
from server.errors import AppError, TooManyRequests
from server.opinions.models import Opinion
from server.opinions.service import signing_material
from server.opinions.verify import VerificationReport, verify_pdf
from server.platform.ratelimits import TokenBucket

# Per client address: a person scanning QR codes at a counter stays far below this; a script
# that makes the server re-verify PDFs in a loop does not.
VERIFY_RATE = 0.5  # requests per second, sustained
VERIFY_BURST = 20.0
LIMITED_CLIENTS = 10_000  # addresses remembered per process (the oldest is forgotten)
CACHE_FOR = timedelta(minutes=10)
CACHE_SIZE = 256


@dataclass(frozen=True)
class CachedCheck:
    until: datetime
    report: VerificationReport


def _verify_stored(data: bytes, ctx: AppContext, expected_hash: str) -> VerificationReport:
    """Blocking: the trust roots (may renew the dev CRL on disk) and pyHanko's validation."""
    roots = signing_material(ctx.settings).trust_roots()
    return verify_pdf(data, roots, expected_hash=expected_hash)


async def check_stored_pdf(ctx: AppContext, opinion: Opinion) -> VerificationReport:
    """The issued PDF's verification report; a PDF that cannot be read is a reported problem."""
    cache = ctx.signature_checks
    key = (opinion.id, str(opinion.pdf_sha256))
    now = utcnow()
    hit = cache.get(key)
    if hit is not None and hit.until > now:
        return hit.report
    try:
        described = {"case_id": opinion.case_id, "opinion_id": opinion.id, "what": "verify_page"}
        data = await ctx.store.get_verified(
            str(opinion.pdf_key), str(opinion.pdf_sha256), about=described
        )
    except AppError as exc:  # not cached: the next scan tries again
        return VerificationReport(
            problems=[f"无法读取存档的 PDF / the stored PDF cannot be read: {exc.message_en}"]
        )
    report = await asyncio.to_thread(_verify_stored, data, ctx, opinion.content_hash)
    if len(cache) >= CACHE_SIZE:
        cache.pop(next(iter(cache)))  # the oldest entry (dicts keep insertion order)
    cache[key] = CachedCheck(now + CACHE_FOR, report)
    return report


def admit_verification(ctx: AppContext, client: str, now: float) -> None:
    """Raise `TooManyRequests` when ``client`` asks for verifications faster than allowed."""
    buckets = ctx.verify_rate_limits
    bucket = buckets.pop(client, None) or TokenBucket(VERIFY_RATE, VERIFY_BURST)
    buckets[client] = bucket  # most recently seen last
    if len(buckets) > LIMITED_CLIENTS:
        buckets.pop(next(iter(buckets)))
    if not bucket.take(now):
        raise TooManyRequests(
            "验证请求过于频繁，请稍候再试。",
            "Too many verification requests; wait a moment and try again.",
            retry_after=int(1 / VERIFY_RATE) + 1,
        )
