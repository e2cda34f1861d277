"""``cloudinspect audit verify``: walk the chain and report the first broken link."""

from __future__ import annotations

from server.audit.service import verify_chain
from server.config import Settings
from server.db import make_engine, make_sessionmaker


async def verify(settings: Settings) -> int:
    engine = make_engine(settings.effective_database_url)
    try:
        async with make_sessionmaker(engine)() as session:
            report = await verify_chain(session)
    finally:
        await engine.dispose()
    if report.ok:
        print(f"审计链完整 / audit chain intact: {report.checked} records")
        return 0
    print(
        f"审计链在第 {report.broken_at} 条处断开 / audit chain broken at record "
        f"{report.broken_at}: {report.reason} ({report.checked} records verified before it)"
    )
    return 1
