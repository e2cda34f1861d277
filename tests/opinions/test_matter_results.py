"""A joint inspection's opinion states a result per matter (各事项结论), from each matter's own
items: here publication wholesale passes while small catering passes only after its applicant
put right a rectifiable item (XC-03)."""

from __future__ import annotations

import io
import re
from typing import Any

from pypdf import PdfReader

from server.auth.models import Role
from tests.fixtures.app import Api
from tests.flows import (
    SIGNED,
    Journey,
    add_inspector,
    assign,
    conclude,
    open_case,
    pass_every_item,
    photo,
    refresh,
    start_inspection,
    start_journey,
)
from tests.rectification.steps import request_body

MATTERS = ["CB", "XC"]
FIXABLE = "XC-03"  # small catering's own item, rectifiable


async def joint_case_in_progress(api: Api) -> Journey:
    journey = await start_journey(api)
    for _ in range(2):
        await add_inspector(journey, MATTERS)
    # A longer promise than the joint default, so the standard slots hours ahead are bookable.
    await open_case(journey, matters=MATTERS, sla_class="complex", override_reason="联合踏勘")
    await assign(journey, pool=0)
    await start_inspection(journey)
    return journey


async def rectified(journey: Journey, item_id: str) -> None:
    """Both inspectors fail ``item_id``; the applicant puts it right; both accept the fix."""
    client, base = journey.api.client, f"/api/v1/cases/{journey.case_id}"
    cited = await photo(journey, journey.inspector_headers(1), item_id)
    for position in (0, 1):
        marked = await client.put(
            f"{base}/checklist/items/{item_id}/verdict",
            json={"value": "fail", "note": "水池未分设", "evidence_refs": [cited]},
            headers=journey.inspector_headers(position),
        )
        assert marked.status_code == 200, marked.text
    asked = await client.post(
        f"{base}/rectification", json=request_body(item_id), headers=journey.inspector_headers(0)
    )
    assert asked.status_code == 201, asked.text
    await photo(journey, journey.applicant, item_id)
    sent = await client.post(f"{base}/rectification/submit", headers=journey.applicant)
    assert sent.status_code == 200, sent.text
    for position in (0, 1):
        reviewed = await client.post(
            f"{base}/rectification/items/{item_id}/review",
            json={"accepted": True},
            headers=journey.inspector_headers(position),
        )
        assert reviewed.status_code == 200, reviewed.text
    assert (await refresh(journey))["state"] == "drafted"


async def issued_content(journey: Journey) -> tuple[dict[str, Any], str]:
    """Draft, sign, co-sign and approve; the issued JSON content and the PDF's text."""
    client, base = journey.api.client, f"/api/v1/cases/{journey.case_id}/opinion"
    lead, second = journey.inspector_headers(0), journey.inspector_headers(1)
    for step, who in (("draft", lead), ("submit", lead), ("cosign", second)):
        body = SIGNED if step == "cosign" else None
        done = await client.post(f"{base}/{step}", json=body, headers=who)
        assert done.status_code == 200, f"{step}: {done.text}"
    _, reviewer = await journey.api.staff_headers(Role.reviewer)
    approved = await client.post(f"{base}/approve", json=SIGNED, headers=reviewer)
    assert approved.status_code == 200, approved.text
    pdf = await client.get(f"{base}/pdf", headers=journey.dispatcher)
    assert pdf.status_code == 200, pdf.text
    reader = PdfReader(io.BytesIO(pdf.content))
    text = re.sub(r"\s+", "", "".join(page.extract_text() for page in reader.pages))
    content: dict[str, Any] = approved.json()["content"]
    return content, text


async def test_joint_opinion_states_each_matters_own_result(api: Api) -> None:
    journey = await joint_case_in_progress(api)
    await pass_every_item(journey)
    await rectified(journey, FIXABLE)
    content, text = await issued_content(journey)
    results = {r["code"]: (r["value"], r["text_zh"]) for r in content["matter_results"]}
    assert results == {
        "CB": ("pass", "符合要求，同意通过踏勘"),
        "XC": ("pass_after_rectification", "经整改后符合要求"),
    }
    assert content["conclusion"]["value"] == "pass_after_rectification"
    assert "各事项结论" in text
    assert "出版物批发许可（CB）：符合要求，同意通过踏勘" in text
    assert "小餐饮登记（XC）：经整改后符合要求" in text


async def test_a_single_matter_opinion_has_no_per_matter_section(api: Api) -> None:
    journey = await start_journey(api)
    await start_inspection(journey)
    await pass_every_item(journey)
    await conclude(api, journey.case_id, journey.inspector_headers(0))
    content, text = await issued_content(journey)
    assert not content.get("matter_results")
    assert "各事项结论" not in text
