"""The preparation guide (零基础准备指南) served for a case, as a page and as a PDF."""

from __future__ import annotations

import io
import re
from pathlib import Path
from urllib.parse import unquote

from pypdf import PdfReader

from server.config import Settings
from tests.fixtures.app import Api
from tests.inspection.team import (
    app_with_catalogue,
    applicant_headers,
    edited_catalogue,
    make_team,
    scheduled_case,
    start,
)


def pdf_text(pdf: bytes) -> str:
    reader = PdfReader(io.BytesIO(pdf))
    return re.sub(r"\s+", "", "".join(page.extract_text() for page in reader.pages))


async def test_applicant_opens_the_guide_page_through_their_link(api: Api) -> None:
    team = await make_team(api)
    case_id = await scheduled_case(team, ["NY"])
    applicant = await applicant_headers(team, case_id)
    response = await api.client.get(f"/api/v1/cases/{case_id}/guide", headers=applicant)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "text/html; charset=utf-8"
    assert response.headers["x-content-type-options"] == "nosniff"
    page = response.text
    assert "云踏勘零基础准备指南" in page
    for title in ("主体与地址一致", "禁止混营食品、饲料", "追溯扫码与电子台账"):
        assert title in page


async def test_guide_page_in_english(api: Api) -> None:
    team = await make_team(api)
    case_id = await scheduled_case(team, ["CB"])
    response = await api.client.get(
        f"/api/v1/cases/{case_id}/guide", params={"lang": "en"}, headers=team.headers["lead"]
    )
    assert response.status_code == 200, response.text
    assert "Cloud inspection: preparation guide" in response.text
    bad = await api.client.get(
        f"/api/v1/cases/{case_id}/guide", params={"lang": "fr"}, headers=team.headers["lead"]
    )
    assert bad.status_code == 422


async def test_guide_pdf_is_a_pdf_with_the_key_items_and_a_chinese_name(api: Api) -> None:
    team = await make_team(api)
    case_id = await scheduled_case(team, ["NY"])
    applicant = await applicant_headers(team, case_id)
    response = await api.client.get(f"/api/v1/cases/{case_id}/guide.pdf", headers=applicant)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/pdf"
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.content.startswith(b"%PDF-")
    disposition = response.headers["content-disposition"]
    assert disposition.startswith("attachment;")
    assert "零基础准备指南" in unquote(disposition.split("filename*=UTF-8''")[1])
    text = pdf_text(response.content)
    for title in ("主体与地址一致", "禁止混营食品、饲料", "追溯扫码与电子台账"):
        assert title in text


async def test_guide_is_only_for_those_who_can_see_the_case(api: Api) -> None:
    team = await make_team(api)
    case_id = await scheduled_case(team, ["CB"])
    other_case = await scheduled_case(team, ["CB"], number="SQ-2")
    stranger = await applicant_headers(team, other_case)
    url = f"/api/v1/cases/{case_id}/guide"
    assert (await api.client.get(url)).status_code == 401
    assert (await api.client.get(url, headers=stranger)).status_code == 404
    assert (await api.client.get(f"{url}.pdf", headers=await team.outsider())).status_code == 404


async def test_guide_of_a_started_case_follows_its_frozen_checklist(
    api: Api, settings: Settings, tmp_path: Path
) -> None:
    team = await make_team(api)
    case_id = await scheduled_case(team, ["CY"])
    assert (await start(api.client, case_id, team.headers["lead"])).status_code == 200
    async with app_with_catalogue(settings, edited_catalogue(tmp_path)) as client:
        response = await client.get(f"/api/v1/cases/{case_id}/guide", headers=team.headers["lead"])
    assert "CY-07 餐用具洗消保洁" in response.text
    assert "CY-07 餐具消毒" not in response.text
