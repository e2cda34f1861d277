"""The public verification re-checks a PDF signature: one client may not make it loop."""

from __future__ import annotations

import httpx
from fastapi import FastAPI

from server.opinions.signature_check import VERIFY_BURST

CODE = "NOSUCHCODE1234"


def client_at(app: FastAPI, address: str) -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=app, client=(address, 40000))
    return httpx.AsyncClient(transport=transport, base_url="http://testserver")


async def test_a_client_verifying_in_a_loop_is_slowed_and_others_are_not(app: FastAPI) -> None:
    async with client_at(app, "203.0.113.7") as looping, client_at(app, "198.51.100.2") as reader:
        answers = [
            (await looping.get(f"/verify/{CODE}")).status_code for _ in range(int(VERIFY_BURST))
        ]
        refused = await looping.get(f"/verify/{CODE}.html")
        other = await reader.get(f"/verify/{CODE}")

    assert set(answers) == {404}  # within the burst: looked up (and not found)
    assert refused.status_code == 429
    assert int(refused.headers["retry-after"]) >= 1
    body = refused.json()
    assert body["detail"] == "验证请求过于频繁，请稍候再试。"
    assert "wait a moment" in body["detail_en"]
    assert other.status_code == 404  # another reader is not affected
