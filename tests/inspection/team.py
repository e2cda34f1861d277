"""A dispatcher and a case's two inspectors driving the checklist through the API."""

from __future__ import annotations

import shutil
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import func, select

from checklists.loader import DEFAULT_CATALOGUE_DIR
from server.app import create_app
from server.auth.models import Role
from server.config import Settings
from tests.checklists.helpers import edit
from tests.fixtures.app import Api
from tests.flows import Headers, agree_slot, intake_body, upload_photo


@dataclass
class Team:
    """A dispatcher and two inspectors, the only two qualified for every matter, so the draw
    always picks them. ``lead`` and ``second`` name them as the team's first draw placed them;
    a later case of the same team may be drawn the other way round (use it for reads only)."""

    api: Api
    headers: dict[str, Headers]  # dispatcher, lead, second
    ids: dict[str, str]
    photos: dict[str, str] = field(default_factory=dict)  # case id → a photo verdicts cite
    cases: list[str] = field(default_factory=list)

    @property
    def client(self) -> httpx.AsyncClient:
        return self.api.client

    async def outsider(self) -> Headers:
        """An inspector not assigned to the team's cases (made on demand: logins are slow)."""
        _, headers = await self.api.staff_headers(Role.inspector)
        return headers

    def follow_draw(self, case_id: str, pair: list[str]) -> None:
        """Name the pair as the draw placed it on the team's first case. The two header dicts
        trade contents in place, so headers a test took before its first case follow."""
        if not self.cases and pair == [self.ids["second"], self.ids["lead"]]:
            self.ids["lead"], self.ids["second"] = self.ids["second"], self.ids["lead"]
            lead, second = self.headers["lead"], self.headers["second"]
            was_lead = dict(lead)
            lead.clear()
            lead.update(second)
            second.clear()
            second.update(was_lead)
        self.cases.append(case_id)


async def make_team(api: Api) -> Team:
    headers, ids = {}, {}
    for name, role in (
        ("dispatcher", Role.dispatcher),
        ("lead", Role.inspector),
        ("second", Role.inspector),
    ):
        staff, headers[name] = await api.staff_headers(role)
        ids[name] = staff.id
    _, admin = await api.staff_headers(Role.admin)
    every_matter = [matter.code for matter in api.ctx.catalogue.matters]
    for name in ("lead", "second"):
        response = await api.client.put(
            f"/api/v1/inspectors/{ids[name]}/profile",
            json={"matters": every_matter, "active": True},
            headers=admin,
        )
        assert response.status_code == 200, response.text
    return Team(api, headers, ids)


async def scheduled_case(
    team: Team, matters: Sequence[str], scenarios: Sequence[str] = (), number: str = "SQ-1"
) -> str:
    """A case taken in, drawn to the team's pair, and scheduled by the lead and the applicant."""
    body = intake_body(team.api, number=number, matters=list(matters), scenarios=list(scenarios))
    response = await team.client.post(
        "/api/v1/cases", json=body, headers=team.headers["dispatcher"]
    )
    assert response.status_code == 201, response.text
    case_id: str = response.json()["id"]
    drawn = await team.client.post(
        f"/api/v1/cases/{case_id}/draw", headers=team.headers["dispatcher"]
    )
    assert drawn.status_code == 200, drawn.text
    assert drawn.json()["pair"], drawn.text
    team.follow_draw(case_id, drawn.json()["pair"])
    applicant = await applicant_headers(team, case_id)
    await agree_slot(team.api, case_id, team.headers["lead"], applicant)
    return case_id


async def started_case(team: Team, matters: Sequence[str], **kwargs: Any) -> str:
    case_id = await scheduled_case(team, matters, **kwargs)
    response = await start(team.client, case_id, team.headers["lead"])
    assert response.status_code == 200, response.text
    return case_id


async def start(client: httpx.AsyncClient, case_id: str, headers: Headers) -> httpx.Response:
    return await client.post(f"/api/v1/cases/{case_id}/inspection/start", headers=headers)


async def applicant_headers(team: Team, case_id: str) -> Headers:
    response = await team.client.post(
        f"/api/v1/cases/{case_id}/links", headers=team.headers["dispatcher"]
    )
    assert response.status_code == 201, response.text
    return {"Authorization": f"Bearer {response.json()['token']}"}


async def case_photo(team: Team, case_id: str) -> list[str]:
    """A real photo of the case for verdicts to cite (uploaded once by the lead), or none
    while the case takes no uploads (the verdict is then refused for its own reason)."""
    if case_id not in team.photos:
        done = await upload_photo(team.api, case_id, team.headers["lead"], [])
        if done.status_code != 200:
            return []
        team.photos[case_id] = str(done.json()["evidence"]["id"])
    return [team.photos[case_id]]


async def mark(
    team: Team, case_id: str, item_id: str, who: str, value: str, note: str = ""
) -> httpx.Response:
    body = {"value": value, "note": note, "evidence_refs": await case_photo(team, case_id)}
    return await team.client.put(
        f"/api/v1/cases/{case_id}/checklist/items/{item_id}/verdict",
        json=body,
        headers=team.headers[who],
    )


async def mark_both(team: Team, case_id: str, item_id: str, value: str) -> None:
    for who in ("lead", "second"):
        response = await mark(team, case_id, item_id, who, value)
        assert response.status_code == 200, response.text


async def checklist(client: httpx.AsyncClient, case_id: str, headers: Headers) -> Any:
    response = await client.get(f"/api/v1/cases/{case_id}/checklist", headers=headers)
    assert response.status_code == 200, response.text
    return response.json()


def item(listing: Any, item_id: str) -> Any:
    return next(i for i in listing["items"] if i["id"] == item_id)


async def count(api: Api, model: Any, *where: Any) -> int:
    async with api.ctx.sessionmaker() as session:
        return int(await session.scalar(select(func.count()).select_from(model).where(*where)) or 0)


def edited_catalogue(tmp_path: Path) -> Path:
    """A copy of the catalogue with a new version and CY-07 renamed."""
    target = tmp_path / "catalogue-edited"
    shutil.copytree(DEFAULT_CATALOGUE_DIR, target)
    edit(target, "shared.yaml", 'version: "2026.11-1"', 'version: "2027.01-1"')
    edit(target, "catering.yaml", "    title: 餐用具洗消保洁\n", "    title: 餐具消毒\n")
    return target


@asynccontextmanager
async def app_with_catalogue(
    settings: Settings, directory: Path
) -> AsyncIterator[httpx.AsyncClient]:
    """A second app on the same database, started on another catalogue directory."""
    app = create_app(settings.model_copy(update={"catalogue_dir": directory}))
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            yield client
