"""Acknowledged means stored: the request's commit runs before its response, and a failed
commit is an error response that changed nothing (never a 2xx)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import event, func, select
from sqlalchemy.exc import OperationalError

from server.auth.models import Role
from server.cases.models import Case
from tests.fixtures.app import Api
from tests.flows import intake_body


class CommitFault:
    """Makes the database refuse the next ``count`` commits, as a lost connection would."""

    def __init__(self) -> None:
        self.remaining = 0
        self.refused = 0

    def __call__(self, _connection: Any) -> None:
        if self.remaining > 0:
            self.remaining -= 1
            self.refused += 1
            raise OperationalError("COMMIT", {}, Exception("connection lost at commit"))


@pytest.fixture
def commit_fault(api: Api) -> Iterator[CommitFault]:
    fault = CommitFault()
    engine = api.ctx.engine.sync_engine
    event.listen(engine, "commit", fault)
    yield fault
    event.remove(engine, "commit", fault)


async def _cases(api: Api) -> int:
    async with api.ctx.sessionmaker() as session:
        return int(await session.scalar(select(func.count()).select_from(Case)) or 0)


async def test_a_failed_commit_answers_503_problem_and_stores_nothing(
    api: Api, commit_fault: CommitFault
) -> None:
    _, headers = await api.staff_headers(Role.dispatcher)
    commit_fault.remaining = 1
    response = await api.client.post("/api/v1/cases", json=intake_body(api), headers=headers)
    assert commit_fault.refused == 1
    assert response.status_code == 503, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["code"] == "not_stored"
    assert "未能保存" in response.json()["detail"]
    assert await _cases(api) == 0
    retried = await api.client.post("/api/v1/cases", json=intake_body(api), headers=headers)
    assert retried.status_code == 201, retried.text
    assert await _cases(api) == 1


async def test_the_row_is_committed_when_the_response_is_built(api: Api) -> None:
    """Another connection sees the case at the moment the 201 leaves the app."""
    _, headers = await api.staff_headers(Role.dispatcher)
    seen_at_send: list[int] = []
    app = api.client._transport.app  # type: ignore[attr-defined]

    async def probe(scope: Any, receive: Any, send: Any) -> None:
        async def send_probe(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start" and scope["method"] == "POST":
                seen_at_send.append(await _cases(api))
            await send(message)

        await app(scope, receive, send_probe)

    api.client._transport.app = probe  # type: ignore[attr-defined]
    try:
        response = await api.client.post("/api/v1/cases", json=intake_body(api), headers=headers)
    finally:
        api.client._transport.app = app  # type: ignore[attr-defined]
    assert response.status_code == 201, response.text
    assert seen_at_send == [1]
