"""The case list issues a bounded number of SQL statements whatever the number of rows.

Statements are counted with a SQLAlchemy event listener on the app's engine (not timed).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import event

from tests.cases.list_steps import case_page, open_cases
from tests.fixtures.app import Api
from tests.flows import Headers, assign, start_journey


@contextmanager
def counted(api: Api) -> Iterator[list[str]]:
    statements: list[str] = []

    def note(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        statements.append(statement)

    engine = api.ctx.engine.sync_engine
    event.listen(engine, "before_cursor_execute", note)
    try:
        yield statements
    finally:
        event.remove(engine, "before_cursor_execute", note)


async def statements_for(api: Api, headers: Headers, path: str, **params: Any) -> int:
    await api.client.get(path, params=params, headers=headers)  # the login's last-seen is fresh
    with counted(api) as statements:
        response = await api.client.get(path, params=params, headers=headers)
    assert response.status_code == 200, response.text
    return len(statements)


async def test_list_statements_do_not_grow_with_the_rows(api: Api) -> None:
    journey = await start_journey(api)
    await assign(journey)  # one case with inspectors
    d = journey.dispatcher
    few = {
        "page": await statements_for(api, d, "/api/v1/cases/page", limit=100, sort="due"),
        "old": await statements_for(api, d, "/api/v1/cases"),
    }
    await open_cases(journey, 12)
    await assign(journey)  # the last one gets inspectors too
    rows = (await case_page(api, d, limit=100)).json()
    assert rows["total"] == 13
    assert sum(1 for c in rows["items"] if c["inspector_ids"]) == 2
    many = {
        "page": await statements_for(api, d, "/api/v1/cases/page", limit=100, sort="due"),
        "old": await statements_for(api, d, "/api/v1/cases"),
    }
    assert many == few
    assert few["page"] <= 5  # caller, page, its inspectors, total (+ a transaction statement)
