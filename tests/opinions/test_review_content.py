"""Review with the content in view: before signing or approving, the co-signer and the
reviewer read the checklist with its verdicts, the photos, the rectification rounds, the
recordings and a preview of the draft PDF (unsigned, marked 草稿 / DRAFT)."""

from __future__ import annotations

import io
import re
from typing import Any

from pypdf import PdfReader

from server.auth.models import Role
from tests.fixtures.app import Api
from tests.flows import SIGNED, Headers, Journey
from tests.inspection.team import applicant_headers, make_team
from tests.opinions.drafting import drafted_case, ok, post, to_review
from tests.rectification import steps as rect
from tests.rectification.steps import journey

__all__ = ["journey"]


def pdf_text(data: bytes) -> str:
    reader = PdfReader(io.BytesIO(data))
    return re.sub(r"\s+", "", "".join(page.extract_text() for page in reader.pages))


async def read_everything(api: Api, case_id: str, who: Headers) -> dict[str, Any]:
    """What a signer reads before signing, each through its endpoint; all must answer."""
    base = f"/api/v1/cases/{case_id}"
    checklist = ok(await api.client.get(f"{base}/checklist", headers=who))
    evidence = ok(await api.client.get(f"{base}/evidence", params={"kind": "photo"}, headers=who))
    assert evidence, "the photos are listed"
    for row in evidence:
        ok(await api.client.get(f"{base}/evidence/{row['id']}/url", headers=who))
        ok(await api.client.get(f"{base}/evidence/{row['id']}/original/url", headers=who))
    rounds = ok(await api.client.get(f"{base}/rectification", headers=who))
    recordings = ok(await api.client.get(f"{base}/recordings", headers=who))
    opinion = ok(await api.client.get(f"{base}/opinion", headers=who))
    preview = await api.client.get(f"{base}/opinion/preview.pdf", headers=who)
    assert preview.status_code == 200, preview.text
    assert preview.headers["content-type"] == "application/pdf"
    assert preview.headers["content-disposition"].startswith("inline")
    return {
        "checklist": checklist,
        "rounds": rounds,
        "recordings": recordings,
        "opinion": opinion,
        "preview": preview.content,
    }


def assert_verdicts_shown(checklist: dict[str, Any]) -> None:
    items = checklist["items"]
    marked = [i for i in items if i["verdicts"]]
    assert marked, "the inspectors' verdicts are shown"
    assert all(v["value"] for i in marked for v in i["verdicts"])


async def test_cosigner_and_reviewer_read_the_whole_case_before_signing(
    api: Api, journey: Journey
) -> None:
    await rect.photo(journey, journey.inspector_headers(1), rect.FIXABLE)
    await rect.requested_and_submitted(journey)
    for position in (0, 1):
        assert (await rect.review(journey, position, True)).status_code == 200
    lead, second = journey.inspector_headers(0), journey.inspector_headers(1)
    _, reviewer = await api.staff_headers(Role.reviewer)
    base = f"/api/v1/cases/{journey.case_id}/opinion"
    for step in ("draft", "submit"):
        assert (await api.client.post(f"{base}/{step}", headers=lead)).status_code == 200

    seen = await read_everything(api, journey.case_id, second)  # the co-signer, before co-signing
    assert_verdicts_shown(seen["checklist"])
    assert len(seen["rounds"]) == 1
    assert seen["recordings"]["case_id"] == journey.case_id
    text = pdf_text(seen["preview"])
    assert "草稿" in text
    assert "DRAFT" in text
    assert b"/ByteRange" not in seen["preview"]  # unsigned
    assert (await api.client.post(f"{base}/cosign", json=SIGNED, headers=second)).is_success

    seen = await read_everything(api, journey.case_id, reviewer)  # the reviewer, before approving
    assert_verdicts_shown(seen["checklist"])
    assert len(seen["rounds"]) == 1
    assert seen["opinion"]["status"] == "under_review"
    assert "DRAFT" in pdf_text(seen["preview"])


async def test_the_preview_is_for_staff_and_only_before_issue(api: Api) -> None:
    team = await make_team(api)
    _, reviewer = await api.staff_headers(Role.reviewer)
    case_id = await drafted_case(team)
    url = f"/api/v1/cases/{case_id}/opinion/preview.pdf"
    missing = await api.client.get(url, headers=team.headers["lead"])
    assert missing.status_code == 404, missing.text  # nothing drafted yet
    await to_review(team, case_id)
    applicant = await applicant_headers(team, case_id)
    refused = await api.client.get(url, headers=applicant)
    assert refused.status_code == 403, refused.text
    assert refused.json()["detail"]
    assert refused.json()["detail_en"]
    ok(await post(team, case_id, "approve", reviewer))
    issued = await api.client.get(url, headers=reviewer)
    assert issued.status_code == 409, issued.text  # issued: the signed PDF is the one to read
    assert "signed" in issued.json()["detail_en"]
