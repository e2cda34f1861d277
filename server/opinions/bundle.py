"""The evidence bundle (证据包): a zip a third party checks offline, object by object. Pure.

Layout::

    manifest.json        schema, opinion, evidence root, and one entry per leaf in (kind, id)
                         order: kind, id, sha256, path
    opinion.pdf          the signed PDF (PAdES)
    opinion.json         the JSON twin, byte for byte as signed
    opinion.json.p7s     its detached CMS signature (DER)
    objects/<kind>/<id>.<ext>   each evidence object (photo, segment, verdict record, the
                         audit head record's canonical body, …)

``check_bundle`` in ``bundle_check`` trusts nothing in the manifest it cannot tie to the
signed twin: the twin's leaves are the truth, the manifest only says where each object is.
"""

from __future__ import annotations

import io
import json
import zipfile
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import Any

from server.opinions.content import OpinionContent

SCHEMA = "cloudinspect.bundle/1"
MANIFEST, PDF = "manifest.json", "opinion.pdf"
TWIN, TWIN_SIGNATURE = "opinion.json", "opinion.json.p7s"


@dataclass(frozen=True, slots=True)
class BundleObject:
    kind: str
    id: str
    sha256: str  # as the leaf says
    data: bytes
    ext: str = "bin"

    @property
    def path(self) -> str:
        return object_path(self.kind, self.id, self.ext)


def object_path(kind: str, ident: str, ext: str) -> str:
    return f"objects/{kind}/{ident}.{ext}"


def ext_of(key: str, default: str = "bin") -> str:
    suffix = PurePosixPath(key).suffix.removeprefix(".").lower()
    return suffix if suffix.isalnum() and len(suffix) <= 10 else default


def manifest(
    content: OpinionContent, objects: list[BundleObject], *, twin_sha256: str, pdf_sha256: str
) -> dict[str, Any]:
    root = content.evidence_root
    if root is None:
        raise ValueError("an opinion without an evidence root has no bundle")
    return {
        "schema": SCHEMA,
        "opinion_id": content.opinion_id,
        "version": content.version,
        "case_number": content.case_number,
        "verification_code": content.verification_code,
        "algorithm": root.algorithm,
        "evidence_root": root.root,
        "twin_sha256": twin_sha256,
        "pdf_sha256": pdf_sha256,
        "entries": [
            {"kind": o.kind, "id": o.id, "sha256": o.sha256, "path": o.path} for o in objects
        ],
    }


def build_bundle(
    content: OpinionContent,
    objects: list[BundleObject],
    *,
    pdf: bytes,
    twin: bytes,
    twin_signature: bytes,
    twin_sha256: str,
    pdf_sha256: str,
) -> bytes:
    """The zip (CPU-bound for big recordings: call it through ``asyncio.to_thread``)."""
    listing = manifest(content, objects, twin_sha256=twin_sha256, pdf_sha256=pdf_sha256)
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as bundle:
        text = json.dumps(listing, ensure_ascii=False, indent=2)
        bundle.writestr(MANIFEST, text.encode())
        bundle.writestr(TWIN, twin)
        bundle.writestr(TWIN_SIGNATURE, twin_signature)
        bundle.writestr(PDF, pdf, compress_type=zipfile.ZIP_STORED)
        for item in objects:
            bundle.writestr(item.path, item.data, compress_type=zipfile.ZIP_STORED)
    return out.getvalue()
