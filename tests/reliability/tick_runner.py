"""Entry point of the scheduler drill's process (reliability #29): the scheduler's SLA job
(``server.scheduler.run_sla_tick``: ``sla_tick`` with the notifier as ``on_card``) run once
against the ``CLOUDINSPECT_*`` database, at the moment ``DRILL_TICK_NOW`` (ISO 8601) instead
of the wall clock, in batches of ``DRILL_TICK_BATCH``.

Every card is reported on stdout as ``card <clock id> <colour>`` when ``on_card`` hears of it,
inside the batch's transaction, so the parent can SIGKILL the process mid-job; ``done`` follows
the tick's result.
"""

from __future__ import annotations

import asyncio
import os
import sys
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from server.config import Settings
from server.db import make_engine
from server.notifications import events
from server.sessions import app_sessionmaker
from server.sla.jobs import CardRaised, sla_tick
from server.sla.policy import policy_from_settings


async def main() -> None:
    settings = Settings()
    now = datetime.fromisoformat(os.environ["DRILL_TICK_NOW"])
    batch = int(os.environ.get("DRILL_TICK_BATCH", "1000"))
    notify = events.card_notifier(settings)

    async def on_card(session: AsyncSession, raised: CardRaised) -> None:
        await notify(session, raised)
        sys.stdout.write(f"card {raised.clock_id} {raised.card.value}\n")
        sys.stdout.flush()

    engine = make_engine(settings.effective_database_url)
    try:
        sessions = app_sessionmaker(engine, policy_from_settings(settings))
        result = await sla_tick(sessions, now, batch, on_card=on_card)
    finally:
        await engine.dispose()
    print(f"done yellow={result.yellow} red={result.red} failed={result.failed}", flush=True)


if __name__ == "__main__":
    asyncio.run(main())
