"""Every endpoint × every kind of caller × a foreign case: nobody gets what they may not.

A new endpoint must join ENDPOINTS (``test_every_api_route_is_in_the_access_table`` fails
otherwise). Each row says which callers succeed; everyone else must get the status that the
row's ``others`` gives (403 for a forbidden role on a visible case or a global endpoint, 404 for
a case the caller may not see, 401 without credentials).
"""

from __future__ import annotations

from typing import Any

from tests.cases.access_table import (
    CALLERS,
    ENDPOINTS,
    UNCHECKED,
    Endpoint,
    build_world,
)
from tests.fixtures.app import Api


def _expected(endpoint: Endpoint, caller: str) -> int:
    if caller in endpoint.ok:
        return endpoint.ok[caller]
    if caller == "anonymous":
        return 401
    return endpoint.others.get(caller, endpoint.default_refusal)


async def test_every_caller_gets_exactly_what_the_table_allows(api: Api) -> None:
    world = await build_world(api)
    mismatches = []
    for endpoint in ENDPOINTS:
        if (endpoint.method, endpoint.path) in UNCHECKED:
            continue
        ids = world.ids | {k: world.ids[v] for k, v in endpoint.ids.items()}
        path = endpoint.path.format(**ids)
        for caller in CALLERS:
            response = await api.client.request(
                endpoint.method, path, json=world.body(endpoint.body), headers=world.headers[caller]
            )
            expected = _expected(endpoint, caller)
            if response.status_code != expected:
                mismatches.append(
                    f"{endpoint.method} {endpoint.path} as {caller}: "
                    f"{response.status_code} != {expected} {response.text[:120]}"
                )
            elif expected >= 400:
                assert response.headers["content-type"] == "application/problem+json"
    assert mismatches == []


async def test_case_list_shows_each_caller_only_their_cases(api: Api) -> None:
    world = await build_world(api)

    async def visible(caller: str) -> set[str]:
        response = await api.client.get("/api/v1/cases", headers=world.headers[caller])
        return {c["id"] for c in response.json()}

    assert world.case_id in await visible("inspector")
    assert await visible("inspector_other") == set()
    assert await visible("applicant") == {world.case_id}
    assert world.case_id not in await visible("applicant_other")
    assert await visible("reviewer") == set()
    assert len(await visible("dispatcher")) == 2


async def test_revoked_link_stops_working_at_once(api: Api) -> None:
    world = await build_world(api)
    applicant = world.headers["applicant"]
    assert (await api.client.get(f"/api/v1/cases/{world.case_id}", headers=applicant)).is_success
    await api.client.delete(
        f"/api/v1/cases/{world.case_id}/links/{world.ids['link_id']}",
        headers=world.headers["admin"],
    )
    refused = await api.client.get(f"/api/v1/cases/{world.case_id}", headers=applicant)
    assert refused.status_code == 401
    assert "链接已被撤销" in refused.json()["detail"]


def test_every_api_route_is_in_the_access_table(app: Any) -> None:
    routes = {
        (method.upper(), path)
        for path, operations in app.openapi()["paths"].items()
        if path.startswith(("/api/v1", "/verify"))
        for method in operations
    }
    assert len(routes) > 10  # the walk really found the routes
    listed = {(e.method, e.path) for e in ENDPOINTS}
    assert routes - listed == set(), "add the new endpoints to ENDPOINTS"
