"""kill -9 proof that acknowledged means stored (issue #13 defect 1; reliability #13, #28).

The app runs as a real process on the test's database; many clients write at once and the
process is SIGKILLed the instant the k-th 2xx arrives. After a restart on the same database
every acknowledged write is there, the clients' retries with the same idempotency key get the
same answer (the same case, the same evidence id), and nothing is duplicated or half done.
Figures are printed (``-s``); the long drill is ``bench/kill_drill.py``.
"""

from __future__ import annotations

import random
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from server.config import Settings
from server.context import AppContext
from tests.fixtures.app import Api
from tests.flows import Journey, intake_body, start_inspection, start_journey
from tests.helpers import wait_until
from tests.images import jpeg
from tests.reliability import consistency
from tests.reliability.drills import (
    KillSwitch,
    Photo,
    Write,
    kill_when_acked,
    restart_timed,
    send_write,
    upload_photo,
)
from tests.reliability.server_process import ServerProcess, http_client, reconnect, running_server

ROUNDS = 2
PHONES = 20
WRITES = 20
# every commit waits this long, as on a slow disk: code that answered before committing loses
# the first acknowledged write to the kill every time (checked against the old code)
COMMIT_DELAY_MS = 20


@pytest.fixture
async def server(settings: Settings, tmp_path: Path) -> AsyncIterator[ServerProcess]:
    async with running_server(
        settings, tmp_path / "process", commit_delay_ms=COMMIT_DELAY_MS
    ) as server:
        yield server


@pytest.fixture
async def remote(server: ServerProcess, ctx: AppContext) -> AsyncIterator[Api]:
    """``Api`` over HTTP to the process (staff are still created straight in the database)."""
    api = Api(http_client(server), ctx)
    yield api
    await api.client.aclose()


async def retry_until_done(api: Api, journey: Journey, photos: list[Photo]) -> None:
    """The phones' outboxes after the restart: every photo again, with its own key."""
    headers = journey.inspector_headers(1)
    for photo in photos:
        await upload_photo(api.client, journey.case_id, headers, photo)


async def kill_during_uploads(server: ServerProcess, api: Api) -> None:
    """#13 small: 20 phones at once × 2 rounds, SIGKILL at a random acknowledged finalize;
    after the restart the phones retry with their keys and get the same evidence ids."""
    journey = await start_journey(api)
    await start_inspection(journey)
    headers = journey.inspector_headers(1)
    rng, all_photos, figures = random.Random(13), [], []
    for round_no in range(ROUNDS):
        photos = [Photo(jpeg((160, 120), quality=60 + i)) for i in range(PHONES)]
        all_photos += photos

        def phone(photo: Photo) -> Any:
            async def go(switch: KillSwitch) -> str:
                return await upload_photo(api.client, journey.case_id, headers, photo, switch)

            return go

        killed, _ = await kill_when_acked(server, rng.randint(1, 5), [phone(p) for p in photos])
        acknowledged = {p.key: p.evidence_id for p in all_photos if p.evidence_id}
        recovery = await restart_timed(server, killed)
        await reconnect(api, server)
        found = await consistency.check(
            api.ctx.sessionmaker, uploads=(journey.case_id, acknowledged)
        )
        assert found.ok, found.problems
        figures.append((round_no, killed.acks, len(acknowledged), round(recovery, 2)))
        await retry_until_done(api, journey, photos)  # same keys: same evidence ids

    done = {p.key: p.evidence_id for p in all_photos}
    assert None not in done.values()
    found = await consistency.check(api.ctx.sessionmaker, uploads=(journey.case_id, done))
    assert found.ok, found.problems
    assert found.counted["evidence"] == found.counted["uploads"] == ROUNDS * PHONES
    print(f"#13 uploads (round, acks before kill, acknowledged so far, recovery s): {figures}")


async def kill_during_intakes(server: ServerProcess, api: Api, journey: Journey) -> list[str]:
    """Defect 1: 20 intakes at once, SIGKILL the moment the first is acknowledged; every
    answered case is stored, and replaying every intake gives the same case, never a second."""
    writes = [Write("/api/v1/cases", intake_body(api, number=f"KILL-{i}")) for i in range(WRITES)]

    def intake(write: Write) -> Any:
        async def go(switch: KillSwitch) -> dict[str, Any]:
            return await send_write(api.client, journey.dispatcher, write, switch)

        return go

    switch, _ = await kill_when_acked(server, 1, [intake(w) for w in writes])
    await restart_timed(server, switch)
    await reconnect(api, server)
    acknowledged = [w.answer for w in writes if w.answer is not None]
    assert len(acknowledged) >= 1
    for answer in acknowledged:
        stored = await api.client.get(f"/api/v1/cases/{answer['id']}", headers=journey.dispatcher)
        assert stored.status_code == 200, f"acknowledged case {answer['id']} lost: {stored.text}"
    for write in writes:  # the dispatcher's retries
        before = write.answer
        again = await send_write(api.client, journey.dispatcher, write, None)
        assert before is None or (again["id"], write.status) == (before["id"], 200)
    listed = (await api.client.get("/api/v1/cases", headers=journey.dispatcher)).json()
    numbers = [c["application_no"] for c in listed]
    assert len(numbers) == len(set(numbers)) == WRITES
    print(f"\ndefect 1 intakes: {len(acknowledged)} acknowledged at the kill, 0 lost")
    return [str(w.answer["id"]) for w in writes if w.answer is not None]


async def kill_during_cancels(
    server: ServerProcess, api: Api, journey: Journey, case_ids: list[str]
) -> None:
    """#28 small: 20 cancels at once, SIGKILL at a random one's 200: every case is received
    or cancelled with its audit record and stopped clock in agreement; the chain verifies."""
    writes = [Write(f"/api/v1/cases/{c}/cancel", {"reason": "申请人撤回申请"}) for c in case_ids]

    def cancel(write: Write) -> Any:
        async def go(switch: KillSwitch) -> dict[str, Any]:
            return await send_write(api.client, journey.dispatcher, write, switch)

        return go

    after = random.Random(28).randint(1, 8)
    switch, _ = await kill_when_acked(server, after, [cancel(w) for w in writes])
    recovery = await restart_timed(server, switch)
    await reconnect(api, server)
    acknowledged = {str(w.answer["id"]) for w in writes if w.answer is not None}
    found = await consistency.check(api.ctx.sessionmaker, cancels=(case_ids, acknowledged))
    assert found.ok, found.problems
    print(
        f"#28 cancels: {switch.acks} acknowledged before the kill, "
        f"{found.counted['cancelled']} stored, recovery {recovery:.2f} s"
    )


async def test_kill_at_acknowledged_writes_loses_nothing(
    server: ServerProcess, remote: Api
) -> None:
    """One server process, four SIGKILLs: during intakes, cancels, and two upload rounds."""
    journey = await start_journey(remote)
    case_ids = await kill_during_intakes(server, remote, journey)
    await kill_during_cancels(server, remote, journey, case_ids)
    await kill_during_uploads(server, remote)
    assert server.kills >= 4


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_kill_leaves_no_orphan_media_worker(settings: Settings, tmp_path: Path) -> None:
    """The app with a media worker process: SIGKILL takes the whole process group."""
    async with running_server(settings, tmp_path / "workers", media_workers=1) as server:
        running = server.group_members()
        server.kill()
        assert len(running) >= 2, running  # the server and its worker
        # the kernel needs a moment to take them all
        await wait_until(lambda: not server.group_members(), within=5, what="no process left")
