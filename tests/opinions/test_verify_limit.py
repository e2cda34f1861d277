"""The public verification re-checks a PDF signature: one client may not make it loop."""

from __future__ import annotations

import time

import httpx
from fastapi import FastAPI

from server.opinions.signature_check import VERIFY_BURST, VERIFY_RATE

CODE = "NOSUCHCODE1234"
LOOP_LIMIT = 500  # a 429 long before this, unless the limit is gone


def client_at(app: FastAPI, address: str) -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=app, client=(address, 40000))
    return httpx.AsyncClient(transport=transport, base_url="http://testserver")


async def test_a_client_verifying_in_a_loop_is_slowed_and_others_are_not(app: FastAPI) -> None:
    async with client_at(app, "203.0.113.7") as looping, client_at(app, "198.51.100.2") as reader:
        started = time.monotonic()
        answers = []
        for _ in range(LOOP_LIMIT):  # the bucket refills while we ask: a slow machine asks more
            answers.append(await looping.get(f"/verify/{CODE}"))
            if answers[-1].status_code == 429:
                break
        elapsed = time.monotonic() - started
        other = await reader.get(f"/verify/{CODE}")

    *admitted, refused = answers
    assert {a.status_code for a in admitted} == {404}  # looked up (and not found)
    assert len(admitted) >= VERIFY_BURST
    assert len(admitted) <= VERIFY_BURST + VERIFY_RATE * elapsed + 1  # the refill, no more
    assert refused.status_code == 429
    assert int(refused.headers["retry-after"]) >= 1
    body = refused.json()
    assert body["detail"] == "验证请求过于频繁，请稍候再试。"
    assert "wait a moment" in body["detail_en"]
    assert other.status_code == 404  # another reader is not affected
