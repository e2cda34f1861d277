"""Reliability test #15: the phone's presigned POST form does exactly one thing, once.

The form the app signs (announce) is abused the ways a client could: another key, a bigger or
smaller file, another content type, a tampered policy, after it expired, after finalize. Each
must be refused by SeaweedFS or made harmless by finalize, with nothing stored where the app
reads. What SeaweedFS itself answered is printed for docs/reliability.md.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from server.evidence.models import Evidence
from server.uploads.models import Upload
from server.uploads.service import UPLOAD_WINDOW
from server.uploads.sweep import sweep_spent_keys
from tests.flows import Journey
from tests.images import jpeg
from tests.reliability.tampering import (
    download,
    original_link,
    same_length_other_bytes,
    uploaded,
)
from tests.uploads.helpers import (
    announce,
    body_for,
    count,
    finalize,
    inspecting,
    journey,
    scheduled,
)

__all__ = ["inspecting", "journey", "scheduled"]

Form = dict[str, Any]
Abuse = Callable[[Form, bytes], tuple[dict[str, str], bytes, str]]


def s3_code(response: httpx.Response) -> str:
    found = re.search(r"<Code>([^<]+)</Code>", response.text)
    return found.group(1) if found else ""


async def post(url: str, fields: dict[str, str], body: bytes, part_type: str) -> httpx.Response:
    async with httpx.AsyncClient() as s3:
        return await s3.post(url, data=fields, files={"file": ("photo.jpg", body, part_type)})


def other_key(form: Form, data: bytes) -> tuple[dict[str, str], bytes, str]:
    key = form["fields"]["key"]
    return {**form["fields"], "key": key.replace("/originals/", "/sealed/x/")}, data, "image/jpeg"


def sibling_key(form: Form, data: bytes) -> tuple[dict[str, str], bytes, str]:
    folder = form["fields"]["key"].rsplit("/", 1)[0]
    return {**form["fields"], "key": f"{folder}/someone-else.jpg"}, data, "image/jpeg"


def bigger(form: Form, data: bytes) -> tuple[dict[str, str], bytes, str]:
    return dict(form["fields"]), data + b"\x00", "image/jpeg"


def much_bigger(form: Form, data: bytes) -> tuple[dict[str, str], bytes, str]:
    return dict(form["fields"]), data + b"\x00" * 2_000_000, "image/jpeg"


def smaller(form: Form, data: bytes) -> tuple[dict[str, str], bytes, str]:
    return dict(form["fields"]), data[:-1], "image/jpeg"


def html_type(form: Form, data: bytes) -> tuple[dict[str, str], bytes, str]:
    return {**form["fields"], "Content-Type": "text/html"}, data, "text/html"


def svg_type(form: Form, data: bytes) -> tuple[dict[str, str], bytes, str]:
    return {**form["fields"], "Content-Type": "image/svg+xml"}, data, "image/svg+xml"


def widened_policy(form: Form, data: bytes) -> tuple[dict[str, str], bytes, str]:
    policy = json.loads(base64.b64decode(form["fields"]["policy"]))
    policy["conditions"] = [
        ["content-length-range", 1, 10**9] if c[0] == "content-length-range" else c
        for c in policy["conditions"]
    ]
    widened = base64.b64encode(json.dumps(policy).encode()).decode()
    return {**form["fields"], "policy": widened}, data + b"\x00" * 10, "image/jpeg"


def forged_signature(form: Form, data: bytes) -> tuple[dict[str, str], bytes, str]:
    signature = form["fields"]["x-amz-signature"]
    flipped = ("0" if signature[0] != "0" else "1") + signature[1:]
    return {**form["fields"], "x-amz-signature": flipped}, data, "image/jpeg"


ABUSES: list[tuple[str, Abuse]] = [
    ("another key (sealed prefix)", other_key),
    ("another key (same folder)", sibling_key),
    ("one byte bigger", bigger),
    ("2 MB bigger", much_bigger),
    ("one byte smaller", smaller),
    ("text/html", html_type),
    ("image/svg+xml", svg_type),
    ("policy widened, not re-signed", widened_policy),
    ("signature altered", forged_signature),
]


async def nothing_stored(journey: Journey, upload_id: str, fields: dict[str, str]) -> None:
    store = journey.api.ctx.store
    async with journey.api.ctx.sessionmaker() as session:
        row = await session.get(Upload, upload_id)
    assert row is not None
    assert not await store.exists(row.object_key)
    assert not await store.exists(fields["key"])
    done = await finalize(journey, journey.applicant, upload_id)
    assert done.status_code == 409, done.text
    assert done.json()["reason"] == "not_uploaded"
    assert await count(journey, Evidence) == 0


@pytest.mark.variants
@pytest.mark.parametrize("abuse", [pytest.param(a, id=n) for n, a in ABUSES])
async def test_the_form_refuses_what_it_was_not_signed_for(journey: Journey, abuse: Abuse) -> None:
    data = jpeg()
    announced = await announce(journey, journey.applicant, body_for(data))
    assert announced.status_code == 201, announced.text
    form = announced.json()["form"]
    fields, body, part_type = abuse(form, data)

    response = await post(form["url"], fields, body, part_type)

    print(f"\n#15 {abuse.__name__}: HTTP {response.status_code} {s3_code(response)}")
    assert response.status_code in (400, 403), response.text
    await nothing_stored(journey, announced.json()["id"], fields)


async def test_an_expired_form_is_refused(journey: Journey) -> None:
    data = jpeg()
    announced = await announce(journey, journey.applicant, body_for(data))
    upload_id = announced.json()["id"]
    async with journey.api.ctx.sessionmaker() as session:
        row = await session.get(Upload, upload_id)
    assert row is not None
    # The same form the app signs, as if signed a window and a minute ago.
    signed_at = datetime.now(UTC) - UPLOAD_WINDOW - timedelta(minutes=1)
    old = await journey.api.ctx.store.presigned_post(
        row.object_key, "image/jpeg", len(data), UPLOAD_WINDOW, len(data), now=signed_at
    )

    response = await post(old.url, old.fields, data, "image/jpeg")

    print(f"\n#15 expired: HTTP {response.status_code} {s3_code(response)}")
    assert response.status_code == 403, response.text
    await nothing_stored(journey, upload_id, old.fields)


async def test_the_form_after_finalize_cannot_touch_the_evidence(journey: Journey) -> None:
    sent = jpeg((1200, 900), gps=True)
    form, evidence = await uploaded(journey, sent)
    async with journey.api.ctx.sessionmaker() as session:
        row = await session.scalar(select(Upload).where(Upload.evidence_id == evidence["id"]))
    assert row is not None
    upload_id = row.id

    replay = await post(form["url"], form["fields"], same_length_other_bytes(sent), "image/jpeg")

    # SeaweedFS cannot know the upload is over: the form is still within its window.
    print(f"\n#15 after finalize: HTTP {replay.status_code} {s3_code(replay)} (store accepts)")
    again = await finalize(journey, journey.applicant, upload_id)
    assert again.status_code == 200
    assert again.json()["evidence"]["id"] == evidence["id"]  # nothing new was made of it
    link = await original_link(journey, evidence["id"])
    assert link.status_code == 200, link.text
    served = await download(link.json()["url"])
    assert hashlib.sha256(served).hexdigest() == hashlib.sha256(sent).hexdigest()
    assert await count(journey, Evidence) == 1
    await swept_once_expired(journey, row.object_key, row.expires_at)


async def swept_once_expired(journey: Journey, upload_key: str, expires_at: datetime) -> None:
    """The re-posted bytes sit on the dead upload key until the form expires, then go."""
    ctx = journey.api.ctx
    data = jpeg((300, 200))
    late = await announce(journey, journey.applicant, body_for(data))
    pending_key = late.json()["form"]["fields"]["key"]
    form = late.json()["form"]
    sent = await post(form["url"], form["fields"], data, "image/jpeg")
    assert sent.status_code == 204  # sent in time, to be finalized later
    assert await ctx.store.exists(upload_key)  # the re-post landed, where nothing reads it
    # A second before this form expires, only older forms' keys may go (the journey's own
    # uploads, announced earlier: how much earlier depends on the machine's load).
    await sweep_spent_keys(ctx.sessionmaker, ctx.store, expires_at - timedelta(seconds=1))
    assert await ctx.store.exists(upload_key)  # the form could still write: too early

    after = expires_at + UPLOAD_WINDOW
    swept = await sweep_spent_keys(ctx.sessionmaker, ctx.store, after)

    print(f"\n#15 sweep after expiry: {swept} spent upload key(s) emptied")
    assert swept >= 1
    assert not await ctx.store.exists(upload_key)
    assert await ctx.store.exists(pending_key)  # a pending upload may still be finalized
    assert await sweep_spent_keys(ctx.sessionmaker, ctx.store, after) == 0  # once only


async def test_a_file_part_of_another_type_is_stored_as_announced_or_refused(
    journey: Journey,
) -> None:
    """The policy pins the form's Content-Type field; the file part's own header is not in it."""
    data = jpeg()
    announced = await announce(journey, journey.applicant, body_for(data))
    form, upload_id = announced.json()["form"], announced.json()["id"]

    response = await post(form["url"], form["fields"], data, "text/html")
    stat = await journey.api.ctx.store.stat(form["fields"]["key"])
    done = await finalize(journey, journey.applicant, upload_id)

    stored = None if stat is None else stat.content_type
    print(
        f"\n#15 part type text/html: HTTP {response.status_code}, stored as {stored}, "
        f"finalize {done.status_code}"
    )
    if done.status_code == 200:  # the store kept the form's type: the evidence is a JPEG
        assert stored == "image/jpeg"
        assert done.json()["evidence"]["content_type"] == "image/jpeg"
    else:  # finalize refused what the store kept under another type
        assert done.status_code == 422, done.text
        assert done.json()["reason"] == "type_mismatch"
        assert await count(journey, Evidence) == 0
