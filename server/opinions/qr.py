"""What the QR code on an opinion says, and reading it back. Pure.

The payload is the verification URL with a fragment, e.g.
``https://…/verify/7KQ4-M2XD-9PRT-H3BW#v=1&o=<opinion id>&r=<evidence root>&h=<twin sha256>``.
A phone opens the URL (the fragment never reaches a server); ``cloudinspect verify-opinion``
and the offline page read the fragment and check, with no server, that the JSON twin hashes
to ``h`` and its leaves to ``r``. The same payload is written into the signed PDF's keywords,
so a verifier that cannot scan still finds it inside the signed revision.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import parse_qs

from server.opinions.content import OpinionContent, content_hash

QR_KEYWORD_PREFIX = "cloudinspect-qr:"
ROOT_KEYWORD_PREFIX = "evidence-root:"
_HEX64 = re.compile(r"^[0-9a-f]{64}$")
_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


@dataclass(frozen=True, slots=True)
class QrFacts:
    opinion_id: str
    root: str  # the evidence root (hex)
    twin_sha256: str  # SHA-256 of the JSON twin = the content hash
    url: str  # the verification URL without the fragment


def qr_payload(content: OpinionContent) -> str:
    """The QR text of an issued opinion (one with an evidence root)."""
    if content.evidence_root is None:
        return content.verification_url
    root, twin = content.evidence_root.root, content_hash(content)
    fragment = f"v=1&o={content.opinion_id}&r={root}&h={twin}"
    return f"{content.verification_url}#{fragment}"


def from_keywords(text: str, prefix: str) -> str | None:
    """The value after ``prefix`` in a PDF's keywords (comma or space separated)."""
    match = re.search(re.escape(prefix) + r"([^\s,]+)", text)
    return match.group(1) if match else None


def parse_qr_payload(text: str) -> QrFacts:
    """The facts of a payload; ``ValueError`` naming what is wrong with a malformed one."""
    url, sep, fragment = text.strip().partition("#")
    if not sep:
        raise ValueError("二维码内容没有证据根 / the QR content carries no evidence root")
    fields = {k: v[0] for k, v in parse_qs(fragment, strict_parsing=True).items()}
    if fields.get("v") != "1":
        raise ValueError(f"二维码版本不支持 / unsupported QR version: {fields.get('v')!r}")
    opinion, root, twin = fields.get("o", ""), fields.get("r", ""), fields.get("h", "")
    if not _ID.fullmatch(opinion):
        raise ValueError("二维码中的意见书编号不合法 / the QR's opinion id (o) is malformed")
    for name, value in (("r", root), ("h", twin)):
        if not _HEX64.fullmatch(value):
            raise ValueError(f"二维码字段 {name} 不是 SHA-256 / QR field {name} is not a SHA-256")
    return QrFacts(opinion_id=opinion, root=root, twin_sha256=twin, url=url)
