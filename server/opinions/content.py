"""What an electronic inspection opinion (电子踏勘意见书) says, and its signed JSON twin.

``OpinionContent`` holds everything printed on the PDF; ``canonical_json`` is the JSON twin,
and ``content_hash`` (SHA-256 of that JSON) is printed on the PDF, stored with the record and
compared on verification. Photo bytes are not content: only their SHA-256 is.
"""

from __future__ import annotations

import hashlib
import json
import secrets
from collections.abc import Callable, Iterator, Mapping
from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, AwareDatetime, BaseModel, ConfigDict, Field

from checklists.conclusion import ConclusionValue
from checklists.engine import VerdictValue

SCHEMA: Literal["cloudinspect.opinion/1"] = "cloudinspect.opinion/1"

VERDICT_ZH: Mapping[VerdictValue, str] = {
    VerdictValue.passed: "符合",
    VerdictValue.failed: "不符合",
    VerdictValue.not_applicable: "不适用",
    VerdictValue.unclear: "无法判断",
}
VERDICT_EN: Mapping[VerdictValue, str] = {
    VerdictValue.passed: "pass",
    VerdictValue.failed: "fail",
    VerdictValue.not_applicable: "n/a",
    VerdictValue.unclear: "unclear",
}


class OpinionMode(StrEnum):
    """How the inspection was held (踏勘方式)."""

    online_video = "online_video"
    offline_onsite = "offline_onsite"
    rectification = "rectification"

    @property
    def zh(self) -> str:
        return _MODE_ZH[self]


_MODE_ZH = {
    OpinionMode.online_video: "线上视频踏勘 (online video)",
    OpinionMode.offline_onsite: "现场踏勘 (on site)",
    OpinionMode.rectification: "整改复核 (rectification review)",
}


def _utc(value: datetime) -> datetime:
    return value.astimezone(UTC)


def _sha256_hex(value: str) -> str:
    if len(value) != 64 or any(c not in "0123456789abcdef" for c in value):
        raise ValueError("expected a lower-case hex SHA-256 (64 characters)")
    return value


UtcDatetime = Annotated[AwareDatetime, AfterValidator(_utc)]
Sha256Hex = Annotated[str, AfterValidator(_sha256_hex)]


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Matter(_Frozen):
    """An approval matter (事项); several at one site make a joint inspection."""

    code: str
    name_zh: str


class Inspector(_Frozen):
    """One of the two inspectors: the lead drafts (拟稿), the second co-signs (会签)."""

    name: str
    organisation: str
    role: Literal["drafted", "co_signed"]
    signed_at: UtcDatetime | None = None

    @property
    def role_zh(self) -> str:
        return "主踏勘人（拟稿）" if self.role == "drafted" else "协同踏勘人（会签）"


class Reviewer(_Frozen):
    """Who approved the opinion (审核人)."""

    name: str
    organisation: str
    approved_at: UtcDatetime | None = None


class OpinionItem(_Frozen):
    """One checklist item with the settled verdict."""

    id: str
    category_zh: str
    title: str
    verdict: VerdictValue
    note: str = ""
    evidence: tuple[str, ...] = ()  # photo ids

    @property
    def verdict_zh(self) -> str:
        return VERDICT_ZH[self.verdict]

    @property
    def verdict_label(self) -> str:
        return f"{VERDICT_ZH[self.verdict]} ({VERDICT_EN[self.verdict]})"


class OpinionConclusion(_Frozen):
    """The conclusion (踏勘结论) with the reasons behind it."""

    value: ConclusionValue
    text_zh: str
    text_en: str
    reasons: tuple[str, ...] = ()


class MatterResult(_Frozen):
    """One matter's own result in a joint inspection (联合踏勘), from the items it needs."""

    code: str
    name_zh: str
    value: ConclusionValue
    text_zh: str
    text_en: str
    reasons: tuple[str, ...] = ()


class RectificationRound(_Frozen):
    """One round of rectification (补齐补正): what was asked and how it ended."""

    round: int = Field(ge=1)
    requested_at: UtcDatetime
    item_ids: tuple[str, ...]
    due_at: UtcDatetime | None = None
    responded_at: UtcDatetime | None = None
    outcome_zh: str = ""


class Photo(_Frozen):
    """A photo in the appendix; its bytes are fetched separately and checked against sha256."""

    id: str
    item_ids: tuple[str, ...] = ()
    captured_at: UtcDatetime
    lat: float | None = None
    lng: float | None = None
    distance_m: float | None = None  # from the registered site location
    sha256: Sha256Hex


class Segment(_Frozen):
    """One closed recording segment (录像分段) and its hash."""

    track: str
    seq: int = Field(ge=0)
    start: UtcDatetime
    end: UtcDatetime
    sha256: Sha256Hex


class EvidenceLeaf(_Frozen):
    """One object the opinion rests on, as hashed into the evidence root."""

    kind: str  # photo, snapshot, segment, clip, rectification_photo, verdicts, audit_head
    id: str
    sha256: Sha256Hex


class EvidenceRoot(_Frozen):
    """The Merkle root (RFC 6962, ``server.opinions.merkle``) over every leaf, in (kind, id)
    order; the ``audit_head`` leaf is the audit chain's head at issue time (id = its seq)."""

    algorithm: Literal["rfc6962-sha256"] = "rfc6962-sha256"
    root: Sha256Hex
    leaves: tuple[EvidenceLeaf, ...]


class OpinionContent(_Frozen):
    """Everything printed on the opinion; the signed JSON twin is ``canonical_json`` of it."""

    schema_id: Literal["cloudinspect.opinion/1"] = "cloudinspect.opinion/1"
    opinion_id: str
    version: int = Field(default=1, ge=1)
    previous_version_id: str | None = None  # a correction references the opinion it replaces
    issuer: str  # the bureau, e.g. "某某市行政审批局"
    case_number: str
    application_no: str
    applicant: str
    site_address: str
    matters: tuple[Matter, ...] = Field(min_length=1)
    mode: OpinionMode
    inspected_from: UtcDatetime
    inspected_to: UtcDatetime
    inspectors: tuple[Inspector, Inspector]
    reviewer: Reviewer | None = None
    items: tuple[OpinionItem, ...]
    conclusion: OpinionConclusion
    matter_results: tuple[MatterResult, ...] = ()  # a joint inspection: one per matter
    rectifications: tuple[RectificationRound, ...] = ()
    photos: tuple[Photo, ...] = ()
    segments: tuple[Segment, ...] = ()
    verification_code: str
    verification_url: str
    issued_at: UtcDatetime
    evidence_root: EvidenceRoot | None = None  # set when the opinion is issued


def _dump(content: OpinionContent) -> dict[str, Any]:
    data = content.model_dump(mode="json")
    if data.get("evidence_root") is None:
        data.pop("evidence_root", None)  # opinions issued before the root keep their hash
    if not data.get("matter_results"):
        data.pop("matter_results", None)  # single-matter and earlier opinions keep their hash
    return data


def canonical_json(content: OpinionContent) -> bytes:
    """The JSON twin: sorted keys, no spaces, UTF-8, times as UTC ISO-8601."""
    data = _dump(content)
    return json.dumps(data, ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode()


def content_hash(content: OpinionContent) -> str:
    """SHA-256 (hex) of the JSON twin; printed on the PDF and kept with the record."""
    return hashlib.sha256(canonical_json(content)).hexdigest()


def content_from_json(data: bytes) -> OpinionContent:
    """Parse a JSON twin back (validates it)."""
    return OpinionContent.model_validate_json(data)


_CODE_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"  # no 0/O, 1/I/L: read aloud or typed


def new_verification_code(groups: int = 4) -> str:
    """A random code such as ``7KQ4-M2XD-9PRT-H3BW`` (~79 bits) a reader types to verify."""
    return "-".join(
        "".join(secrets.choice(_CODE_ALPHABET) for _ in range(4)) for _ in range(groups)
    )


class LazyPhotos(Mapping[str, bytes]):
    """Photo bytes fetched on first access by ``fetch(photo_id)`` (e.g. from object storage)."""

    def __init__(self, ids: tuple[str, ...], fetch: Callable[[str], bytes]) -> None:
        self._ids = ids
        self._fetch = fetch
        self._cache: dict[str, bytes] = {}

    def __getitem__(self, key: str) -> bytes:
        if key not in self._ids:
            raise KeyError(key)
        if key not in self._cache:
            self._cache[key] = self._fetch(key)
        return self._cache[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._ids)

    def __len__(self) -> int:
        return len(self._ids)


def photo_sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def as_json_dict(content: OpinionContent) -> dict[str, Any]:
    """The JSON twin as a dict (what an API returns)."""
    result: dict[str, Any] = json.loads(canonical_json(content))
    return result
