"""The signed JSON twin served, the evidence bundle exported, and both checked offline.

The bundle is exported through the endpoint from a real issued case (real SeaweedFS, real
pyHanko), then changed the way a forger would: a flipped byte in an object, an object taken
out, two manifest entries swapped, a twin edited. ``cloudinspect verify-opinion --bundle``
names each by kind/id and exits non-zero.
"""

from __future__ import annotations

import asyncio
import hashlib
import io
import json
import zipfile
from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy import select

from server.audit.models import AuditRecord
from server.auth.models import Role
from server.opinions import bundle_export
from server.opinions.bundle import MANIFEST, TWIN
from server.opinions.bundle_check import check_bundle
from server.opinions.cli import EXIT_INVALID, EXIT_VALID, verify_opinion_command
from server.opinions.service import signing_material
from server.opinions.verify import verify_json
from tests.auth.clients import bearer, make_client
from tests.fixtures.app import Api
from tests.opinions.issued import Issued, issued_with_photos


@pytest.fixture
async def issued(api: Api) -> Issued:
    return await issued_with_photos(api, photos=3)


def url(issued: Issued, tail: str) -> str:
    return f"/api/v1/cases/{issued.case_id}/opinion/{tail}"


async def bundle_of(issued: Issued) -> bytes:
    response = await issued.api.client.get(url(issued, "bundle"), headers=issued.reviewer)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/zip"
    return response.content


def rewrite(data: bytes, change: Callable[[dict[str, bytes]], None]) -> bytes:
    with zipfile.ZipFile(io.BytesIO(data)) as source:
        members = {name: source.read(name) for name in source.namelist()}
    change(members)
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as target:
        for name, body in members.items():
            target.writestr(name, body)
    return out.getvalue()


def run_cli(tmp_path: Path, issued: Issued, data: bytes) -> tuple[int, str]:
    path = tmp_path / "bundle.zip"
    path.write_bytes(data)
    lines: list[str] = []
    code = verify_opinion_command(
        None,
        expected_hash=None,
        trust_paths=[],
        bundle_path=path,
        data_dir=issued.api.ctx.settings.data_dir,
        out=lines.append,
    )
    return code, "\n".join(lines)


async def test_window_and_the_approval_system_read_the_signed_twin_audited(
    issued: Issued,
) -> None:
    api = issued.api
    _, admin = await api.staff_headers(Role.admin)
    reader = await make_client(api, admin, ["cases:read_results"])
    intake_only = await make_client(api, admin, ["cases:intake"])
    roots = signing_material(api.ctx.settings).trust_roots()
    for headers in (issued.window, bearer(reader["key"])):
        twin = await api.client.get(url(issued, "json"), headers=headers)
        assert twin.status_code == 200, twin.text
        assert twin.headers["x-content-sha256"] == issued.opinion["content_hash"]
        assert hashlib.sha256(twin.content).hexdigest() == issued.opinion["content_hash"]
        signature = await api.client.get(url(issued, "json/signature"), headers=headers)
        assert signature.status_code == 200, signature.text
        assert signature.headers["content-type"] == "application/pkcs7-signature"
        checked = await asyncio.to_thread(verify_json, twin.content, signature.content, roots)
        assert checked.ok, checked.problems
        assert json.loads(twin.content)["evidence_root"]["root"]
    refused = await api.client.get(url(issued, "json"), headers=bearer(intake_only["key"]))
    assert refused.status_code == 403
    lead = await api.client.get(url(issued, "json"), headers=issued.team.headers["lead"])
    assert lead.status_code == 403
    async with api.ctx.sessionmaker() as session:
        reads = list(
            await session.execute(
                select(AuditRecord.actor_kind, AuditRecord.detail).where(
                    AuditRecord.case_id == issued.case_id, AuditRecord.action == "opinion.read"
                )
            )
        )
    seen = {(kind, detail["what"]) for kind, detail in reads}
    assert {("staff", "json"), ("client", "json"), ("client", "json_signature")} <= seen


async def test_an_exported_bundle_verifies_object_by_object(issued: Issued, tmp_path: Path) -> None:
    data = await bundle_of(issued)
    root = issued.opinion["content"]["evidence_root"]
    with zipfile.ZipFile(io.BytesIO(data)) as bundle:
        listing = json.loads(bundle.read(MANIFEST))
    assert listing["evidence_root"] == root["root"]
    assert [(e["kind"], e["id"]) for e in listing["entries"]] == [
        (x["kind"], x["id"]) for x in root["leaves"]
    ]
    code, output = await asyncio.to_thread(run_cli, tmp_path, issued, data)
    assert code == EXIT_VALID, output
    assert f"{len(root['leaves'])}/{len(root['leaves'])}" in output
    async with issued.api.ctx.sessionmaker() as session:
        exported = await session.scalar(
            select(AuditRecord).where(AuditRecord.action == "opinion.exported")
        )
    assert exported is not None
    assert exported.detail["bundle_sha256"] == hashlib.sha256(data).hexdigest()


def _photo_entry(members: dict[str, bytes], index: int = 0) -> dict[str, str]:
    entries = json.loads(members[MANIFEST])["entries"]
    photos: list[dict[str, str]] = [e for e in entries if e["kind"] == "photo"]
    return photos[index]


def flip_byte(members: dict[str, bytes]) -> None:
    path = _photo_entry(members)["path"]
    body = bytearray(members[path])
    body[len(body) // 2] ^= 0x01
    members[path] = bytes(body)


def drop_object(members: dict[str, bytes]) -> None:
    del members[_photo_entry(members, 1)["path"]]


def swap_entries(members: dict[str, bytes]) -> None:
    listing = json.loads(members[MANIFEST])
    entries = listing["entries"]
    entries[1], entries[2] = entries[2], entries[1]
    members[MANIFEST] = json.dumps(listing).encode()


def edit_twin(members: dict[str, bytes]) -> None:
    members[TWIN] = members[TWIN].replace(b'"applicant":"', b'"applicant":"X')


@pytest.mark.variants
@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (flip_byte, "changed object: photo/"),
        (drop_object, "missing object: photo/"),
        (swap_entries, "manifest entry out of order: photo/"),
        (edit_twin, "the JSON was changed after signing"),
    ],
)
async def test_each_change_to_a_bundle_is_named_and_fails(
    issued: Issued,
    tmp_path: Path,
    change: Callable[[dict[str, bytes]], None],
    expected: str,
) -> None:
    data = rewrite(await bundle_of(issued), change)
    code, output = await asyncio.to_thread(run_cli, tmp_path, issued, data)
    assert code == EXIT_INVALID, output
    assert expected in output
    assert "NOT VALID" in output


async def test_the_changed_object_is_named_by_its_id(issued: Issued) -> None:
    data = rewrite(await bundle_of(issued), flip_byte)
    roots = signing_material(issued.api.ctx.settings).trust_roots()
    report = await asyncio.to_thread(check_bundle, data, roots)
    named = [p for p in report.problems if "changed object" in p]
    assert len(named) == 1
    assert any(f"photo/{photo_id}" in named[0] for photo_id in issued.photo_ids)
    assert report.objects_ok == report.objects_checked - 1


async def test_a_bundle_over_the_online_limit_is_refused_clearly(
    issued: Issued, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(bundle_export, "MAX_BUNDLE_BYTES", 1000)
    response = await issued.api.client.get(url(issued, "bundle"), headers=issued.reviewer)
    assert response.status_code == 409, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["reason"] == "bundle_too_large"
    async with issued.api.ctx.sessionmaker() as session:
        exported = await session.scalar(
            select(AuditRecord).where(AuditRecord.action == "opinion.exported")
        )
    assert exported is None
