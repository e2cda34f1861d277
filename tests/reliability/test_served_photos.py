"""Reliability test #19: no photo served to the applicant, window staff or the public carries
EXIF, GPS or XMP (the staff-only, audited original is the one place they are kept).

Photos go in with GPS in EXIF and an XMP packet. Every route that serves a photo is then read
back: the applicant's rectification view, the evidence link (the processed copy), the clip's
poster, and the photos embedded in the issued opinion PDF. Pillow and a byte scan find nothing;
the same check on the original finds the GPS, so the check itself can fail.
"""

from __future__ import annotations

import io
import struct
from typing import Any

import httpx
from PIL import Image
from pypdf import PdfReader

from server.auth.models import Role
from tests.fixtures.app import Api
from tests.flows import Journey, conclude
from tests.images import jpeg
from tests.inspection.team import checklist, make_team, mark_both, started_case
from tests.opinions.drafting import post, to_review
from tests.rectification.steps import FIXABLE, journey, request
from tests.reliability.tampering import onsite_photo
from tests.uploads.helpers import announce, body_for, finalize, send

__all__ = ["journey"]
GPS_IFD = 0x8825
XMP_MARKERS = (b"http://ns.adobe.com/xap/1.0/", b"<x:xmpmeta")


def with_xmp(data: bytes) -> bytes:
    """The camera JPEG with an XMP packet (a GPS position in it) after SOI."""
    xmp = XMP_MARKERS[0] + b"\x00" + XMP_MARKERS[1] + b"><exif:GPSLatitude>31,13.8N</x:xmpmeta>"
    return data[:2] + b"\xff\xe1" + struct.pack(">H", len(xmp) + 2) + xmp + data[2:]


def camera_photo() -> bytes:
    return with_xmp(jpeg((1200, 900), gps=True))


def metadata_in(data: bytes) -> list[str]:
    """What Pillow (and a plain byte scan) finds: exif, gps, xmp; empty when clean."""
    found = []
    with Image.open(io.BytesIO(data)) as image:
        exif = image.getexif()
        if len(exif):
            found.append("exif")
        if exif.get_ifd(GPS_IFD):
            found.append("gps")
        if any("xmp" in key.lower() or key == "exif" for key in image.info):
            found.append("info:" + ",".join(sorted(image.info)))
    if b"Exif\x00\x00" in data:
        found.append("exif-bytes")
    if any(marker in data for marker in XMP_MARKERS):
        found.append("xmp-bytes")
    return found


async def fetch(url: str) -> bytes:
    async with httpx.AsyncClient() as s3:
        response = await s3.get(url)
    assert response.status_code == 200, response.text
    return response.content


async def link(client: httpx.AsyncClient, path: str, headers: dict[str, str]) -> str:
    response = await client.get(path, headers=headers)
    assert response.status_code == 200, response.text
    return str(response.json()["url"])


async def applicant_photo(journey: Journey, data: bytes) -> str:
    announced = await announce(journey, journey.applicant, body_for(data, item_ids=[FIXABLE]))
    assert announced.status_code == 201, announced.text
    assert (await send(announced.json()["form"], data, "image/jpeg")).status_code == 204
    done = await finalize(journey, journey.applicant, announced.json()["id"])
    assert done.status_code == 200, done.text
    return str(done.json()["evidence"]["id"])


async def test_photos_shown_to_the_applicant_and_staff_carry_no_metadata(
    journey: Journey,
) -> None:
    client, staff = journey.api.client, journey.inspector_headers(0)
    base = f"/api/v1/cases/{journey.case_id}"
    team_photo = await onsite_upload(journey)
    assert (await request(journey, FIXABLE)).status_code == 201
    own_photo = await applicant_photo(journey, camera_photo())
    served: dict[str, bytes] = {}

    view = await client.get(f"{base}/rectification", headers=journey.applicant)
    assert view.status_code == 200, view.text
    for evidence_id, url in view.json()[0]["items"][0]["failure_photo_urls"].items():
        served[f"applicant view {evidence_id}"] = await fetch(url)
    for evidence_id in (team_photo, own_photo):
        url = await link(client, f"{base}/evidence/{evidence_id}/url", staff)
        served[f"evidence link {evidence_id}"] = await fetch(url)

    original = await fetch(await link(client, f"{base}/evidence/{own_photo}/original/url", staff))
    assert "gps" in metadata_in(original)  # the check sees what the original keeps
    print(
        f"\n#19 served photos checked: {len(served)}; with metadata: "
        f"{sum(1 for d in served.values() if metadata_in(d))}"
    )
    assert len(served) >= 3  # the failure photos the verdict cites, and both evidence links
    assert {name: metadata_in(data) for name, data in served.items()} == {k: [] for k in served}


async def onsite_upload(journey: Journey) -> str:
    data = camera_photo()
    headers = journey.inspector_headers(0)
    announced = await announce(journey, headers, body_for(data, item_ids=[FIXABLE]))
    assert announced.status_code == 201, announced.text
    assert (await send(announced.json()["form"], data, "image/jpeg")).status_code == 204
    done = await finalize(journey, headers, announced.json()["id"])
    assert done.status_code == 200, done.text
    return str(done.json()["evidence"]["id"])


def pdf_images(data: bytes) -> list[bytes]:
    pages = PdfReader(io.BytesIO(data)).pages
    images: list[Any] = [image for page in pages for image in page.images]
    return [bytes(image.data) for image in images]


async def test_photos_in_the_issued_opinion_carry_no_metadata(api: Api) -> None:
    team = await make_team(api)
    _, reviewer = await api.staff_headers(Role.reviewer)
    _, window = await api.staff_headers(Role.window)
    case_id = await started_case(team, ["CB"])
    listing = await checklist(team.client, case_id, team.headers["lead"])
    await onsite_photo(team, case_id, listing["items"][0]["id"], camera_photo())
    for entry in listing["items"]:
        await mark_both(team, case_id, entry["id"], "pass")
    await conclude(api, case_id, team.headers["lead"])
    await to_review(team, case_id)
    issued = await post(team, case_id, "approve", reviewer)
    assert issued.status_code == 200, issued.text

    response = await team.client.get(f"/api/v1/cases/{case_id}/opinion/pdf", headers=window)

    assert response.status_code == 200, response.text
    embedded = pdf_images(response.content)
    print(
        f"\n#19 photos embedded in the opinion PDF: {len(embedded)}; with metadata: "
        f"{sum(1 for d in embedded if metadata_in(d))}"
    )
    assert embedded  # the photo is in the PDF
    assert [metadata_in(image) for image in embedded] == [[] for _ in embedded]
