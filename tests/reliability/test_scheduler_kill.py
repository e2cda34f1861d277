"""SIGKILL while the SLA scheduler job runs (reliability #29): after the restart every due
yellow and red card fires exactly once (audit record and notification), none lost, none twice.

Cases are opened through the API (each starts its SLA clock); the job runs in its own process
(``tests/reliability/tick_runner.py``) at a moment when every clock is past red, in small
batches, and is killed in the middle of a batch, after some batches have committed. Figures
are printed (``-s``); ``bench/kill_drill.py`` runs it with 500 deadlines.
"""

from __future__ import annotations

import random
from collections import Counter

from sqlalchemy import select

from server.audit.models import AuditRecord
from server.config import Settings
from server.notifications.models import Notification
from server.sla.models import SlaClockRow
from tests.fixtures.app import Api
from tests.flows import intake_body, start_journey
from tests.reliability import consistency
from tests.reliability.scheduler_drill import TickRun, run_tick

CLOCKS = 30
BATCH = 4


async def open_cases(api: Api, count: int) -> None:
    journey = await start_journey(api)
    for i in range(count):
        body = intake_body(api, number=f"SLA-{i}")
        response = await api.client.post("/api/v1/cases", json=body, headers=journey.dispatcher)
        assert response.status_code == 201, response.text


async def cards_fired(api: Api) -> tuple[Counter[str], Counter[str], dict[str, str]]:
    """Audit records per (case, card), notification rows per event, and each clock's card."""
    async with api.ctx.sessionmaker() as session:
        audits = Counter(
            f"{case_id}:{action}"
            for case_id, action in await session.execute(
                select(AuditRecord.case_id, AuditRecord.action).where(
                    AuditRecord.action.in_(("sla.yellow_card", "sla.red_card"))
                )
            )
        )
        notes = Counter(
            (
                await session.scalars(
                    select(Notification.event).where(Notification.event.like("card:%"))
                )
            ).all()
        )
        clocks = dict((await session.execute(select(SlaClockRow.id, SlaClockRow.card))).all())
    return audits, notes, clocks


async def test_kill_during_the_sla_job_fires_each_card_exactly_once(
    api: Api, settings: Settings
) -> None:
    await open_cases(api, CLOCKS)
    kill_after = random.Random(29).randint(CLOCKS // 2, CLOCKS + CLOCKS // 2)

    killed: TickRun = await run_tick(settings, batch=BATCH, kill_after=kill_after)
    after_kill, _, _ = await cards_fired(api)
    rerun = await run_tick(settings, batch=BATCH)
    again = await run_tick(settings, batch=BATCH)

    assert killed.killed
    assert not killed.done
    assert rerun.done
    assert again.done
    audits, notes, clocks = await cards_fired(api)
    assert set(clocks.values()) == {"red"}, clocks
    assert len(audits) == 2 * CLOCKS, audits  # a yellow and a red for every clock
    assert set(audits.values()) == {1}, audits  # each once
    assert len(notes) == 2 * CLOCKS, notes
    assert len(set(notes.values())) == 1, notes  # the same recipients for every card
    assert again.cards == 0
    committed = sum(after_kill.values())
    assert 0 < committed < 2 * CLOCKS  # killed with work done and work left
    assert rerun.cards == 2 * CLOCKS - committed  # the rest, and nothing twice
    found = await consistency.check(api.ctx.sessionmaker)
    assert found.ok, found.problems
    print(
        f"\n#29 {CLOCKS} clocks: killed after {killed.cards} cards heard ({committed} committed);"
        f" restart fired {rerun.cards} in {rerun.seconds:.2f} s; duplicates 0, lost 0"
    )
