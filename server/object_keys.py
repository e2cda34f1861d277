"""Object keys: where each kind of evidence lives in the bucket, and safe download names.

Every key the app writes is built here, from ids checked so that none can escape its folder.
``case_sealed_key`` is the one with a random part: finalized originals go there, out of reach
of any presigned form (each form pins its own ``originals/`` key).
"""

from __future__ import annotations

import re
import secrets
import unicodedata
from urllib.parse import quote

from server.errors import BadInput

_EXT_RE = re.compile(r"^[a-z0-9]{1,10}$")
_MAX_ID_LEN = 128
_MAX_KEY_BYTES = 1024


def _check_id(name: str, value: str) -> str:
    """Refuse an id that could escape its folder or confuse a listing."""
    bad = (
        not value
        or len(value) > _MAX_ID_LEN
        or "/" in value
        or "\\" in value
        or ".." in value
        or value == "."
        or value != value.strip()
        or any(unicodedata.category(ch) in ("Cc", "Cf", "Zl", "Zp") for ch in value)
    )
    if bad:
        raise BadInput(
            f"编号“{name}”不合法：不能为空，不能含“/”“..”或控制字符。",
            f"Invalid {name}: it must be non-empty, without '/', '..' or control characters.",
            field=name,
        )
    return value


def _check_ext(ext: str) -> str:
    normalised = ext.removeprefix(".").lower()
    if not _EXT_RE.match(normalised):
        raise BadInput(
            "文件扩展名不合法，只能是 1–10 个字母或数字。",
            "Invalid file extension: use 1-10 letters or digits.",
            field="ext",
        )
    return normalised


def _check_number(name: str, value: int, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise BadInput(
            f"“{name}”必须是不小于 {minimum} 的整数。",
            f"{name} must be an integer >= {minimum}.",
            field=name,
        )
    return value


def case_prefix(case_id: str) -> str:
    """The folder holding every object of one case."""
    return f"cases/{_check_id('case_id', case_id)}/"


def case_photo_key(case_id: str, photo_id: str, ext: str) -> str:
    """A snapshot or uploaded photo: ``cases/{case}/photos/{photo}.{ext}``."""
    return f"{case_prefix(case_id)}photos/{_check_id('photo_id', photo_id)}.{_check_ext(ext)}"


def case_recording_key(case_id: str, track_id: str, seq: int, ext: str = "webm") -> str:
    """One recorded segment; the zero-padded ``seq`` keeps listings in recording order."""
    track = _check_id("track_id", track_id)
    number = _check_number("seq", seq, 0)
    return f"{case_prefix(case_id)}recordings/{track}/{number:08d}.{_check_ext(ext)}"


def case_opinion_key(case_id: str, opinion_id: str, version: int, ext: str) -> str:
    """One version of an inspection opinion (踏勘意见书), e.g. the signed PDF or its JSON twin."""
    opinion = _check_id("opinion_id", opinion_id)
    number = _check_number("version", version, 1)
    return f"{case_prefix(case_id)}opinions/{opinion}/v{number:04d}.{_check_ext(ext)}"


def case_clip_key(case_id: str, clip_id: str, ext: str = "webm") -> str:
    """A clip cut from a recording as evidence for one checklist item."""
    return f"{case_prefix(case_id)}clips/{_check_id('clip_id', clip_id)}.{_check_ext(ext)}"


def case_sealed_key(case_id: str, upload_id: str, ext: str) -> str:
    """Where a finalized original lives: ``cases/{case}/sealed/{random}/{upload}.{ext}``.

    Chosen by the server at finalize, with a fresh random folder, so no presigned form a
    client holds (each pins its own ``originals/`` key) can write there.
    """
    folder = secrets.token_hex(16)
    upload = _check_id("upload_id", upload_id)
    return f"{case_prefix(case_id)}sealed/{folder}/{upload}.{_check_ext(ext)}"


def check_key(key: str) -> str:
    """Keys normally come from the helpers above; this guards the rest."""
    bad = (
        not key
        or key.startswith("/")
        or len(key.encode()) > _MAX_KEY_BYTES
        or ".." in key.split("/")
        or any(unicodedata.category(ch) == "Cc" for ch in key)
    )
    if bad:
        raise BadInput("对象键不合法。", "Invalid object key.", key=key[:200])
    return key


def attachment_disposition(filename: str, *, inline: bool = False) -> str:
    """A ``Content-Disposition`` value that survives Chinese file names (RFC 6266 / 5987)."""
    kind = "inline" if inline else "attachment"
    fallback = filename.encode("ascii", "replace").decode().replace('"', "_").replace("?", "_")
    return f"{kind}; filename=\"{fallback}\"; filename*=UTF-8''{quote(filename, safe='')}"
