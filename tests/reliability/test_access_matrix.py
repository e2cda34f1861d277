"""Reliability #20: every endpoint × every kind of caller × their own case and a foreign one.

Two scheduled cases made through the API (tests/flows.py): "own" (its lead inspector and its
applicant link are callers) and "foreign" (other inspectors, another applicant, its own
distinctive applicant, site and number). Routes come from ``app.routes``: a route with a
``{case_id}`` is in the matrix automatically; any other route must be classified below, or
``test_every_route_is_classified`` fails until it is.

A caller who may not see a case must be refused (401/403/404) and the refusal must carry
nothing of the foreign case (its number, applicant, phone, address, link); 2xx answers of the
global routes must not carry it either. The WebSocket join on the foreign case is refused for
every caller. Figures are printed (attempts, leaks) for docs/reliability.md.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from fastapi.routing import iter_route_contexts
from starlette.routing import Mount, WebSocketRoute
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from server.auth.clients import CLIENT_ENDPOINTS
from tests.cases.access_table import ENDPOINTS
from tests.cases.access_table import World as BodyMaker
from tests.evidence import join, token
from tests.fixtures.app import Api
from tests.flows import Journey, assign, callers, open_case, schedule, start_journey
from tests.signaling.live_server import running

WS = "WS"
CASE_ROUTE = "{case_id}"
PUBLIC = {  # anyone, by design (their own tests: test_ops, test_openapi, opinions' verify)
    ("GET", "/healthz"),
    ("GET", "/metrics"),
    ("POST", "/api/v1/auth/login"),
    ("GET", "/verify/{code}"),
    ("GET", "/verify/{code}.html"),
    ("GET", "/api/openapi.json"),
    ("GET", "/api/docs"),
    ("GET", "/api/docs/oauth2-redirect"),
    ("GET", "/api/redoc"),
}
NOT_SENT = {("POST", "/api/v1/auth/logout")}  # ends the caller's login: reliability #23
GLOBAL = {  # no case in the path: refused by role, and must not carry a case one cannot see
    ("GET", "/api/v1/auth/me"),
    ("POST", "/api/v1/auth/unlock"),
    ("GET", "/api/v1/ops/health"),
    ("GET", "/api/v1/staff"),
    ("POST", "/api/v1/staff"),
    ("PATCH", "/api/v1/staff/{staff_id}"),
    ("GET", "/api/v1/api-clients"),
    ("POST", "/api/v1/api-clients"),
    ("POST", "/api/v1/api-clients/{client_id}/rotate"),
    ("PATCH", "/api/v1/api-clients/{client_id}"),
    ("GET", "/api/v1/cases"),
    ("GET", "/api/v1/cases/page"),
    ("POST", "/api/v1/cases"),
    ("GET", "/api/v1/matters"),
    ("GET", "/api/v1/inspectors"),
    ("PUT", "/api/v1/inspectors/{staff_id}/profile"),
    ("POST", "/api/v1/inspectors/{staff_id}/conflicts"),
    ("POST", "/api/v1/draws/{draw_id}/replay"),
    ("GET", "/api/v1/feed"),
    ("GET", "/api/v1/calendar/overrides"),
    ("PUT", "/api/v1/calendar/overrides/{date}"),
    ("DELETE", "/api/v1/calendar/overrides/{date}"),
    ("GET", "/api/v1/board"),
    ("GET", "/api/v1/follow-ups"),
    ("POST", "/api/v1/follow-ups/{follow_up_id}/close"),
    ("POST", "/api/v1/follow-ups/{follow_up_id}/answer"),
    ("GET", "/api/v1/phone-follow-ups"),
    ("GET", "/api/v1/supervision-orders"),
    ("GET", "/api/v1/supervision-orders/{order_id}"),
    ("POST", "/api/v1/supervision-orders/{order_id}/reason"),
    ("POST", "/api/v1/supervision-orders/{order_id}/answer"),
    ("GET", "/api/v1/special-procedures"),
    ("POST", "/api/v1/special-procedures/{procedure_id}/approve"),
    ("POST", "/api/v1/special-procedures/{procedure_id}/decline"),
    ("POST", "/api/v1/special-procedures/{procedure_id}/end"),
    ("GET", "/api/v1/opinions"),
    ("POST", "/api/v1/opinions/{opinion_id}/acknowledge"),
}
SEE_EVERY_CASE = {"admin", "dispatcher"}  # by role (supervision; no observers in live calls)
# Sent last: they end a case or a link, which would change what the rows after them test.
LAST = {
    ("POST", "/api/v1/cases/{case_id}/cancel"),
    ("DELETE", "/api/v1/cases/{case_id}/links/{link_id}"),
    ("POST", "/api/v1/cases/{case_id}/links/resend"),
    ("POST", "/api/v1/cases/{case_id}/withdraw"),
}
REFUSALS = {401, 403, 404}
NOT_VISIBLE = "Case not found; check the id."
FOREIGN = {
    "application_no": "WAI-AN-0909",
    "applicant": {
        "kind": "company",
        "name": "外案专用测试有限公司",
        "id_no": "91350200MA8YYYYY9Z",
        "phone": "13900009999",
    },
    "site": {"address": "厦门市思明区外案路909号", "lat": 24.4798, "lng": 118.0894},
}


def api_routes(app: FastAPI) -> list[tuple[str, str]]:
    """(method, path) of every route the app serves, WebSockets as "WS" (HEAD left out)."""
    found = []
    for route in iter_route_contexts(app.routes):
        original = route.original_route
        if isinstance(original, Mount) or route.path is None:
            continue
        if isinstance(original, WebSocketRoute) or route.methods is None:
            found.append((WS, route.path))
            continue
        found += [(method, route.path) for method in sorted(route.methods) if method != "HEAD"]
    return found


def unclassified(routes: list[tuple[str, str]]) -> list[tuple[str, str]]:
    known = PUBLIC | NOT_SENT | GLOBAL
    return [r for r in routes if CASE_ROUTE not in r[1] and r not in known]


def test_every_route_is_classified(app: FastAPI) -> None:
    routes = api_routes(app)
    assert len(routes) > 70  # the walk really found them
    assert (WS, "/ws/cases/{case_id}") in routes
    assert unclassified(routes) == [], "classify the new routes in test_access_matrix"


@dataclass
class Case:
    id: str
    ids: dict[str, str]  # path placeholders
    markers: list[str]  # what must not reach someone who may not see it
    inspectors: list[str]


@dataclass
class Matrix:
    world: dict[str, Case]
    who: dict[str, dict[str, str]]
    bodies: BodyMaker
    attempts: int = 0  # requests on a case by a caller who may not see it
    leaks: list[str] = field(default_factory=list)
    wrong: list[str] = field(default_factory=list)
    statuses: Counter[int] = field(default_factory=Counter)
    marked: int = 0  # allowed answers carrying their case's markers: the check can see them


async def extra_link(api: Api, journey: Journey) -> dict[str, Any]:
    response = await api.client.post(
        f"/api/v1/cases/{journey.case_id}/links", headers=journey.dispatcher
    )
    assert response.status_code == 201, response.text
    link: dict[str, Any] = response.json()
    return link


async def case_of(api: Api, journey: Journey) -> Case:
    link = await extra_link(api, journey)
    ids = {
        "case_id": journey.case_id,
        "link_id": link["id"],
        "item_id": "SH-01",
        "evidence_id": "0" * 32,
        "upload_id": "no-such-upload",
        "track_id": "applicant.video",
    }
    case = journey.case
    markers = [case["number"], link["token"], token(journey.applicant)]
    if case["application_no"] == FOREIGN["application_no"]:
        markers += [
            FOREIGN["application_no"],
            FOREIGN["applicant"]["name"],
            FOREIGN["applicant"]["phone"],
            FOREIGN["applicant"]["id_no"],
            FOREIGN["site"]["address"],
        ]
    return Case(journey.case_id, ids, markers, list(case["inspector_ids"]))


async def two_cases(api: Api) -> tuple[dict[str, Case], dict[str, dict[str, str]]]:
    """ "own" (its lead and applicant are callers) and "foreign" (inspectors qualified for
    another matter, so none of own's), both scheduled; and every caller's headers."""
    own = await start_journey(api)
    who = await callers(own)
    foreign = Journey(api, own.dispatcher, own.admin)
    matter = api.ctx.catalogue.matters[1].code
    await open_case(foreign, number=FOREIGN["application_no"], matters=[matter], **FOREIGN)
    await assign(foreign, matter=matter)
    await schedule(foreign)
    assert not set(own.case["inspector_ids"]) & set(foreign.case["inspector_ids"])
    return {"own": await case_of(api, own), "foreign": await case_of(api, foreign)}, who


def may_see(caller: str, target: str, route: tuple[str, str]) -> bool:
    if caller in SEE_EVERY_CASE:
        return True
    if caller == "api_client":  # every case, on its own few endpoints (cases:read_results)
        return route in CLIENT_ENDPOINTS
    return caller in {"inspector", "applicant"} and target == "own"


def body_names() -> dict[tuple[str, str], str]:
    return {(e.method, e.path): e.body for e in ENDPOINTS}


def leaked(markers: list[str], text: str) -> list[str]:
    return [m for m in markers if m in text]


async def ask(
    m: Matrix, route: tuple[str, str], caller: str, ids: dict[str, str]
) -> httpx.Response:
    method, path = route
    body = m.bodies.body(body_names().get(route, ""))
    response = await m.bodies.api.client.request(
        method, path.format(**{**m.bodies.ids, **ids}), json=body, headers=m.who[caller]
    )
    m.statuses[response.status_code] += 1
    return response


async def case_row(m: Matrix, route: tuple[str, str]) -> None:
    for target, case in m.world.items():
        for caller in m.who:
            response = await ask(m, route, caller, case.ids)
            label = f"{route[0]} {route[1]} on {target} as {caller}: {response.status_code}"
            if may_see(caller, target, route):
                problem = response.json() if response.status_code == 404 else {}
                if problem.get("detail_en") == NOT_VISIBLE:
                    m.wrong.append(f"{label} (refused its own case)")
                m.marked += bool(response.is_success and leaked(case.markers, response.text))
                continue
            m.attempts += 1
            if response.is_success:
                m.leaks.append(f"{label} {response.text[:200]}")
            elif response.status_code not in REFUSALS:
                m.wrong.append(f"{label} (should be refused) {response.text[:200]}")
            if found := leaked(case.markers, response.text):
                m.leaks.append(f"{label} carries {found}")


async def global_row(m: Matrix, route: tuple[str, str]) -> None:
    foreign = m.world["foreign"]
    for caller in m.who:
        response = await ask(m, route, caller, {})
        if caller in SEE_EVERY_CASE:
            continue
        m.attempts += 1
        if found := leaked([*foreign.markers, foreign.id], response.text):
            m.leaks.append(f"{route[0]} {route[1]} as {caller} carries {found}")


async def test_no_caller_reaches_a_case_it_may_not_see(app: FastAPI, api: Api) -> None:
    world, who = await two_cases(api)
    bodies = BodyMaker(api, {}, global_ids(world))
    m = Matrix(world, who, bodies)
    routes = [r for r in api_routes(app) if r[0] != WS and r not in PUBLIC | NOT_SENT]
    routes.sort(key=lambda r: r in LAST)
    for route in routes:
        await (case_row(m, route) if CASE_ROUTE in route[1] else global_row(m, route))
    sent = sum(m.statuses.values())
    print(
        f"\n#20 REST: {len(routes)} routes × {len(who)} callers × own/foreign: {sent} requests, "
        f"{m.attempts} by callers who may not see the case, {len(m.leaks)} leaks; "
        f"statuses {dict(sorted(m.statuses.items()))}"
    )
    assert m.marked > 0
    assert m.leaks == []
    assert m.wrong == []
    assert m.attempts >= 300


def global_ids(world: dict[str, Case]) -> dict[str, str]:
    """Values for the global routes' placeholders: an inspector of the foreign case (so that
    replacing or requalifying them leaves the calling inspector on their own case), unknown
    ids for the rest."""
    inspector = world["foreign"].inspectors[0]
    return {
        "staff_id": inspector,
        "inspector_id": inspector,
        "client_id": "no-such-client",
        "draw_id": "no-such-draw",
        "date": "2027-01-01",
        "follow_up_id": "0" * 32,
        "order_id": "0" * 32,
        "procedure_id": "0" * 32,
        "admin_id": "0" * 32,  # an approver no one is: the body of a refused request
        "opinion_id": "no-such-opinion",
    }


@pytest.fixture
async def base(app: FastAPI) -> AsyncIterator[str]:
    async with running(app) as url:
        yield url


async def refused_join(url: str, bearer: str) -> int | None:
    """The close code when the join is refused; None when the server let it join."""
    async with connect(url) as ws:
        await ws.send(json.dumps({"type": "join", "token": bearer}))
        try:
            async with asyncio.timeout(5):
                async for text in ws:
                    kind = json.loads(text)["type"]
                    if kind == "joined":
                        return None
                    if kind == "ping":
                        await ws.send(json.dumps({"type": "pong"}))
        except ConnectionClosed:
            pass
        return ws.close_code


async def test_no_caller_joins_the_live_call_of_a_foreign_case(api: Api, base: str) -> None:
    world, who = await two_cases(api)
    codes: Counter[int | None] = Counter()
    for headers in who.values():
        # nobody holds a token: the join must name one, so "nobody" makes one up
        bearer = headers.get("Authorization", "Bearer made-up").removeprefix("Bearer ")
        codes[await refused_join(f"{base}/ws/cases/{world['foreign'].id}", bearer)] += 1
    own = f"{base}/ws/cases/{world['own'].id}"
    joined = [await join(own, token(who[caller])) for caller in ("inspector", "applicant")]
    for member in joined:
        with contextlib.suppress(Exception):
            await member.close()
    print(f"\n#20 WebSocket: {len(who)} joins of a foreign case's call, close codes {dict(codes)}")
    assert None not in codes  # nobody joined
    assert set(codes) <= {1008, 4401}
