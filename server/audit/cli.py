"""``cloudinspect audit verify``: walk the chain and report the first broken link, then check
the chain heads anchored in issued opinions' evidence roots."""

from __future__ import annotations

from server.audit.service import verify_chain
from server.config import Settings
from server.db import make_engine
from server.opinions.anchors import anchor_problems
from server.sessions import app_sessionmaker
from server.sla.policy import policy_from_settings


async def verify(settings: Settings) -> int:
    engine = make_engine(settings.effective_database_url)
    try:
        sessions = app_sessionmaker(engine, policy_from_settings(settings))
        async with sessions() as session:
            report = await verify_chain(session)
            anchors = await anchor_problems(session)
    finally:
        await engine.dispose()
    for problem in anchors:
        print(problem)
    if report.ok and not anchors:
        print(f"审计链完整 / audit chain intact: {report.checked} records")
        return 0
    if not report.ok:
        print(
            f"审计链在第 {report.broken_at} 条处断开 / audit chain broken at record "
            f"{report.broken_at}: {report.reason} ({report.checked} records verified before it)"
        )
    return 1
