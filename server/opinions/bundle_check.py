"""Check an evidence bundle offline, object by object (``cloudinspect verify-opinion --bundle``).

What is trusted: the trust roots given, nothing else. The JSON twin must carry a valid
signature from them; its evidence root must recompute from its leaves; every leaf's object
must be in the zip where the manifest says and hash to the leaf; the manifest must list the
leaves in the twin's order with the same hashes; the PDF must be validly signed, carry the
twin's hash and the same evidence root in its signed revision. Every problem is named
(kind/id and path). Blocking (pyHanko, hashing): run it in a thread when called from a loop.
"""

from __future__ import annotations

import hashlib
import io
import json
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from asn1crypto import x509 as asn1_x509  # type: ignore[import-untyped]

from server.opinions import merkle
from server.opinions.bundle import MANIFEST, PDF, TWIN, TWIN_SIGNATURE
from server.opinions.content import OpinionContent, content_from_json
from server.opinions.evidence_root import leaves_of
from server.opinions.qr import ROOT_KEYWORD_PREFIX, from_keywords
from server.opinions.verify import signed_keywords, verify_json, verify_pdf


@dataclass
class BundleReport:
    root: str | None = None
    objects_checked: int = 0
    objects_ok: int = 0
    twin_signature_ok: bool = False
    pdf_signature_ok: bool = False
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems and self.twin_signature_ok and self.pdf_signature_ok


def _read(bundle: zipfile.ZipFile, name: str, report: BundleReport) -> bytes | None:
    try:
        return bundle.read(name)
    except KeyError:
        report.problems.append(f"证据包缺少文件 / the bundle lacks {name}")
    except (zipfile.BadZipFile, OSError) as exc:
        report.problems.append(f"证据包文件损坏 / {name} cannot be read: {exc}")
    return None


def _entries(raw: bytes | None, report: BundleReport) -> list[dict[str, Any]]:
    if raw is None:
        return []
    try:
        data = json.loads(raw)
        entries = [e for e in data["entries"] if isinstance(e, dict)]
    except (ValueError, KeyError, TypeError):
        report.problems.append("清单无法解析 / manifest.json cannot be parsed")
        return []
    return entries


def _twin(
    twin: bytes | None, signature: bytes | None, roots: Sequence[Any], report: BundleReport
) -> OpinionContent | None:
    if twin is None:
        return None
    if signature is not None:
        checked = verify_json(twin, signature, roots)
        report.twin_signature_ok = checked.ok
        report.problems += [f"JSON 副本签名 / twin signature: {p}" for p in checked.problems]
    try:
        content = content_from_json(twin)
    except ValueError:
        report.problems.append("JSON 副本无法解析 / opinion.json is not an opinion")
        return None
    if content.evidence_root is None:
        report.problems.append("意见书没有证据根 / the opinion has no evidence root")
        return None
    recomputed = merkle.root_of(leaves_of(content.evidence_root))
    report.root = content.evidence_root.root
    if recomputed != content.evidence_root.root:
        report.problems.append(
            f"证据根与叶子不符 / the root does not recompute from the leaves ({recomputed})"
        )
    return content


def _check_manifest(
    leaves: list[merkle.Leaf], entries: list[dict[str, Any]], report: BundleReport
) -> dict[tuple[str, str], str]:
    """Where each object is; names reordered, unknown, missing and re-hashed entries."""
    listed = []
    for entry in entries:
        try:
            listed.append(merkle.Leaf(str(entry["kind"]), str(entry["id"]), str(entry["sha256"])))
        except (KeyError, ValueError):
            report.problems.append(f"清单条目不合法 / malformed manifest entry: {entry!r:.120}")
    for name in merkle.order_problems(listed):
        report.problems.append(f"清单顺序被改动 / manifest entry out of order: {name}")
    truth = {(x.kind, x.id): x.sha256 for x in leaves}
    for item in listed:
        if (item.kind, item.id) not in truth:
            report.problems.append(
                f"清单条目不在意见书中 / manifest entry not in the opinion: {item.kind}/{item.id}"
            )
        elif truth[(item.kind, item.id)] != item.sha256:
            report.problems.append(
                f"清单中的哈希与意见书不符 / manifest hash differs: {item.kind}/{item.id}"
            )
    named = {(x.kind, x.id) for x in listed}
    for leaf in leaves:
        if (leaf.kind, leaf.id) not in named:
            report.problems.append(f"清单缺少条目 / manifest lacks entry: {leaf.kind}/{leaf.id}")
    return {(str(e.get("kind")), str(e.get("id"))): str(e.get("path", "")) for e in entries}


def _check_objects(
    bundle: zipfile.ZipFile,
    leaves: list[merkle.Leaf],
    paths: dict[tuple[str, str], str],
    report: BundleReport,
) -> None:
    members = set(bundle.namelist())
    for leaf in leaves:
        report.objects_checked += 1
        name = f"{leaf.kind}/{leaf.id}"
        path = paths.get((leaf.kind, leaf.id), "")
        if path not in members:
            report.problems.append(f"缺少对象 / missing object: {name} ({path or '—'})")
            continue
        actual = hashlib.sha256(bundle.read(path)).hexdigest()
        if actual != leaf.sha256:
            report.problems.append(
                f"对象被改动 / changed object: {name} ({path}): sha256 {actual}, "
                f"意见书记载 / the opinion says {leaf.sha256}"
            )
            continue
        report.objects_ok += 1


def _check_pdf(
    pdf: bytes | None,
    content: OpinionContent,
    twin: bytes,
    roots: Sequence[Any],
    report: BundleReport,
) -> None:
    if pdf is None:
        return
    checked = verify_pdf(pdf, roots, expected_hash=hashlib.sha256(twin).hexdigest())
    report.pdf_signature_ok = checked.ok
    report.problems += [f"PDF: {p}" for p in checked.problems]
    printed = from_keywords(signed_keywords(pdf), ROOT_KEYWORD_PREFIX)
    if content.evidence_root is not None and printed != content.evidence_root.root:
        report.problems.append(
            f"PDF 中的证据根与 JSON 副本不符 / the PDF's evidence root differs: {printed or '—'}"
        )


def check_bundle(data: bytes, trust_roots: Sequence[asn1_x509.Certificate]) -> BundleReport:
    """Everything wrong with the bundle, by name; ``ok`` only when nothing is."""
    report = BundleReport()
    try:
        bundle = zipfile.ZipFile(io.BytesIO(data))
    except zipfile.BadZipFile:
        report.problems.append("不是 zip 文件 / the bundle is not a zip file")
        return report
    with bundle:
        twin = _read(bundle, TWIN, report)
        content = _twin(twin, _read(bundle, TWIN_SIGNATURE, report), trust_roots, report)
        if content is None or content.evidence_root is None or twin is None:
            return report
        leaves = leaves_of(content.evidence_root)
        paths = _check_manifest(leaves, _entries(_read(bundle, MANIFEST, report), report), report)
        _check_objects(bundle, leaves, paths, report)
        _check_pdf(_read(bundle, PDF, report), content, twin, trust_roots, report)
    return report
