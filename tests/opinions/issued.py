"""Reach an issued opinion with photographic evidence, as users do (through the endpoints)."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from typing import Any

import httpx

from server.auth.models import Role
from tests.fixtures.app import Api
from tests.flows import Headers, conclude
from tests.images import jpeg
from tests.inspection.team import (
    Team,
    checklist,
    make_team,
    mark_both,
    started_case,
)
from tests.opinions.drafting import ok, post, to_review


@dataclass
class Issued:
    team: Team
    case_id: str
    reviewer: Headers
    window: Headers
    opinion: dict[str, Any]  # as the approve endpoint answered
    photo_ids: list[str]

    @property
    def api(self) -> Api:
        return self.team.api


async def onsite_photo(team: Team, case_id: str, item_id: str, seed: int) -> str:
    """The lead inspector's photo of ``item_id``: announce, POST to the store, finalize."""
    data = jpeg((320 + seed, 240))
    body = {
        "idempotency_key": secrets.token_hex(8),
        "content_type": "image/jpeg",
        "size": len(data),
        "sha256": hashlib.sha256(data).hexdigest(),
        "item_ids": [item_id],
    }
    lead = team.headers["lead"]
    announced = ok(
        await team.client.post(f"/api/v1/cases/{case_id}/uploads", json=body, headers=lead), 201
    )
    form = announced["form"]
    async with httpx.AsyncClient() as s3:
        sent = await s3.post(
            form["url"], data=form["fields"], files={"file": ("p.jpg", data, "image/jpeg")}
        )
    assert sent.status_code == 204, sent.text
    url = f"/api/v1/cases/{case_id}/uploads/{announced['id']}/finalize"
    done = ok(await team.client.post(url, headers=lead))
    return str(done["evidence"]["id"])


async def issued_with_photos(api: Api, photos: int = 2) -> Issued:
    """A CB case inspected with ``photos`` on-site photos, every item passed, issued."""
    team = await make_team(api)
    _, reviewer = await api.staff_headers(Role.reviewer)
    _, window = await api.staff_headers(Role.window)
    case_id = await started_case(team, ["CB"])
    listing = await checklist(team.client, case_id, team.headers["lead"])
    items = [entry["id"] for entry in listing["items"]]
    photo_ids = [await onsite_photo(team, case_id, items[i], i) for i in range(photos)]
    if photo_ids:
        team.photos[case_id] = photo_ids[0]  # the verdicts cite a photo already taken
    for item_id in items:
        await mark_both(team, case_id, item_id, "pass")
    await conclude(api, case_id, team.headers["lead"])
    await to_review(team, case_id)
    opinion = ok(await post(team, case_id, "approve", reviewer))
    return Issued(team, case_id, reviewer, window, opinion, photo_ids)
