"""Kill -9 drills shared by the tests and ``bench/kill_drill.py``: many clients write through a
real server process, the process is SIGKILLed the instant the k-th 2xx arrives, it is started
again on the same database, and every acknowledged write must be there.

The clients behave as the real ones do: a phone announces with its idempotency key, POSTs the
bytes to the store and finalizes, and after a failure retries the same steps with the same key;
the dispatcher replays the same intake or cancel. Retries after the restart are what turn
unacknowledged writes into finished ones without duplicates.
"""

from __future__ import annotations

import asyncio
import hashlib
import secrets
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import httpx

from tests.reliability.server_process import ServerProcess

ACKED = (200, 201)


class KillSwitch:
    """SIGKILLs ``server`` when the ``after``-th acknowledgement arrives (before anything else
    runs in this process), and remembers what was acknowledged until then."""

    def __init__(self, server: ServerProcess, after: int) -> None:
        self.server = server
        self.after = after
        self.acks = 0
        self.fired_at: float | None = None

    def ack(self) -> None:
        self.acks += 1
        if self.acks == self.after and self.fired_at is None:
            self.server.kill()
            self.fired_at = time.monotonic()


async def kill_when_acked(
    server: ServerProcess, after: int, writes: list[Callable[[KillSwitch], Awaitable[Any]]]
) -> tuple[KillSwitch, list[Any]]:
    """Run ``writes`` concurrently; each calls ``switch.ack()`` as its 2xx arrives. If fewer
    than ``after`` acks came, the server is killed once all writes are done."""
    switch = KillSwitch(server, after)
    results = await asyncio.gather(*(w(switch) for w in writes), return_exceptions=True)
    if switch.fired_at is None:
        server.kill()
        switch.fired_at = time.monotonic()
    return switch, list(results)


async def restart_timed(server: ServerProcess, switch: KillSwitch) -> float:
    """Start the server again; seconds from the kill until it answers ``/healthz``."""
    server.kill()  # reaps it if still running
    await server.start()
    assert switch.fired_at is not None
    return time.monotonic() - switch.fired_at


# --- a phone uploading a photo -----------------------------------------------------------------


@dataclass
class Photo:
    """One photo and its idempotency key, as a phone's outbox holds it."""

    data: bytes
    key: str = field(default_factory=lambda: secrets.token_hex(12))
    upload_id: str | None = None
    evidence_id: str | None = None  # from an acknowledged finalize (or announce of a done one)

    def body(self) -> dict[str, Any]:
        return {
            "idempotency_key": self.key,
            "content_type": "image/jpeg",
            "size": len(self.data),
            "sha256": hashlib.sha256(self.data).hexdigest(),
            "item_ids": ["SH-01"],
        }


async def upload_photo(
    client: httpx.AsyncClient,
    case_id: str,
    headers: dict[str, str],
    photo: Photo,
    switch: KillSwitch | None = None,
) -> str:
    """Announce → POST to the store → finalize; returns the evidence id. Raises on a failure
    (a killed server) so the caller can retry the whole thing with the same key."""
    path = f"/api/v1/cases/{case_id}/uploads"
    announced = await client.post(path, json=photo.body(), headers=headers)
    if announced.status_code not in ACKED:
        raise RuntimeError(f"announce {announced.status_code}: {announced.text}")
    upload = announced.json()
    photo.upload_id = upload["id"]
    if upload["status"] == "finalized":
        return _acked(photo, upload["evidence"]["id"], switch)
    form = upload["form"]
    async with httpx.AsyncClient(timeout=60) as s3:
        sent = await s3.post(
            form["url"], data=form["fields"], files={"file": ("p.jpg", photo.data, "image/jpeg")}
        )
    if sent.status_code != 204:
        raise RuntimeError(f"store {sent.status_code}: {sent.text}")
    done = await client.post(f"{path}/{upload['id']}/finalize", headers=headers)
    if done.status_code not in ACKED:
        raise RuntimeError(f"finalize {done.status_code}: {done.text}")
    return _acked(photo, done.json()["evidence"]["id"], switch)


def _acked(photo: Photo, evidence_id: str, switch: KillSwitch | None) -> str:
    if photo.evidence_id is not None and photo.evidence_id != evidence_id:
        raise AssertionError(f"{photo.key}: evidence {photo.evidence_id} then {evidence_id}")
    photo.evidence_id = evidence_id
    if switch is not None:
        switch.ack()
    return evidence_id


# --- dispatcher writes: intake and cancel ------------------------------------------------------


@dataclass
class Write:
    """One dispatcher request and what its acknowledgement said."""

    path: str
    body: dict[str, Any]
    answer: dict[str, Any] | None = None  # the acknowledged response body
    status: int | None = None


async def send_write(
    client: httpx.AsyncClient, headers: dict[str, str], write: Write, switch: KillSwitch | None
) -> dict[str, Any]:
    response = await client.post(write.path, json=write.body, headers=headers)
    if response.status_code not in ACKED:
        raise RuntimeError(f"{write.path} {response.status_code}: {response.text}")
    write.answer, write.status = response.json(), response.status_code
    if switch is not None:
        switch.ack()
    return write.answer
