"""A joint case's promised time with a matter that needs no inspection (e.g. a filing, 备案):
that matter does not count; a case of such matters only is refused."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from sqlalchemy import func, select

from server.auth.models import Role
from server.cases.models import Case
from server.config import Settings
from tests.fixtures.app import Api
from tests.flows import intake_body

CATALOGUE = Path(__file__).resolve().parents[2] / "checklists" / "catalogue"


@pytest.fixture
def settings(settings: Settings, tmp_path: Path) -> Settings:
    """The packaged catalogue, with small catering (simple, 1 h) handled without inspection."""
    copy = tmp_path / "catalogue"
    shutil.copytree(CATALOGUE, copy)
    path = copy / "small_catering.yaml"
    text = path.read_text(encoding="utf-8")
    assert "default_sla: simple\n" in text
    path.write_text(
        text.replace("default_sla: simple\n", "default_sla: simple\nneeds_inspection: false\n"),
        encoding="utf-8",
    )
    return settings.model_copy(update={"catalogue_dir": copy})


async def test_a_matter_without_inspection_does_not_set_the_promised_time(api: Api) -> None:
    _, headers = await api.staff_headers(Role.dispatcher)
    response = await api.client.post(
        "/api/v1/cases", json=intake_body(api, matters=["CY", "XC"]), headers=headers
    )
    assert response.status_code == 201, response.text
    assert response.json()["sla_class"] == "general"  # catering's, not small catering's 1 h


async def test_only_matters_without_inspection_is_refused_and_opens_nothing(api: Api) -> None:
    _, headers = await api.staff_headers(Role.dispatcher)
    response = await api.client.post(
        "/api/v1/cases", json=intake_body(api, matters=["XC"]), headers=headers
    )
    assert response.status_code == 422, response.text
    assert response.json()["field"] == "matters"
    assert "不需要踏勘" in response.json()["detail"]
    async with api.ctx.sessionmaker() as session:
        assert await session.scalar(select(func.count()).select_from(Case)) == 0
