"""The pre-call check's upload test (上行测速): the phone times how long a blob takes to reach us.

The blob is read and thrown away. Only the applicant's own link may send one, at most
``MAX_PROBE_BYTES`` each and a few a minute, so the endpoint cannot be used to load the server.
"""

from __future__ import annotations

import time

from fastapi import APIRouter, Request
from pydantic import BaseModel

from server.context import AppContext
from server.deps import CaseApplicantDep, ContextDep
from server.errors import BadInput, TooLarge, TooManyRequests
from server.platform.ratelimits import TokenBucket

MAX_PROBE_BYTES = 512 * 1024  # the phone sends 256 KB; a call needs ~500 kbit/s uplink
PROBE_RATE = 0.2  # probes a second per link, after a burst of PROBE_BURST
PROBE_BURST = 6
LIMITED_LINKS = 10_000

router = APIRouter(prefix="/api/v1/cases", tags=["live"])


class UplinkProbeOut(BaseModel):
    received_bytes: int


def _too_large() -> TooLarge:
    kib = MAX_PROBE_BYTES // 1024
    return TooLarge(
        f"测速数据过大：每次最多 {kib} KB。请刷新页面后重新检测。",
        f"The speed-test upload is too large: at most {kib} KB each. Reload and test again.",
    )


def admit_probe(ctx: AppContext, link_id: str, now: float) -> None:
    """Raise ``TooManyRequests`` when one link sends probes faster than a check needs."""
    buckets = ctx.uplink_rate_limits
    bucket = buckets.pop(link_id, None) or TokenBucket(PROBE_RATE, PROBE_BURST)
    buckets[link_id] = bucket  # most recently seen last
    if len(buckets) > LIMITED_LINKS:
        buckets.pop(next(iter(buckets)))
    if not bucket.take(now):
        raise TooManyRequests(
            "网络检测过于频繁，请稍候一分钟再试。",
            "Too many network checks; wait a minute and try again.",
            retry_after=int(1 / PROBE_RATE) + 1,
        )


def declared_size(request: Request) -> int | None:
    """The Content-Length the phone declared, refused early when it is over the cap."""
    header = request.headers.get("content-length")
    if header is None:
        return None
    if not header.isdigit():
        raise BadInput("请求长度无效。", "The request's Content-Length is not a number.")
    if int(header) > MAX_PROBE_BYTES:
        raise _too_large()
    return int(header)


@router.post("/{case_id}/uplink-probe")
async def uplink_probe(
    request: Request, applicant: CaseApplicantDep, ctx: ContextDep
) -> UplinkProbeOut:
    """Receive and discard a test blob, so the phone can measure its upload speed."""
    admit_probe(ctx, applicant.id, time.monotonic())
    declared_size(request)
    received = 0
    async for chunk in request.stream():
        received += len(chunk)
        if received > MAX_PROBE_BYTES:
            raise _too_large()
    if received == 0:
        raise BadInput("测速数据为空。", "The speed-test upload is empty.")
    return UplinkProbeOut(received_bytes=received)
