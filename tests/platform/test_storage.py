"""The object store against a real SeaweedFS: round trips, integrity, presigned access."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import io
import json
import os
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import httpx
import pytest

from server.errors import BadInput, NotFound
from server.platform.storage import (
    IntegrityError,
    ObjectStore,
    PresignedPost,
    attachment_disposition,
    case_clip_key,
    case_opinion_key,
    case_photo_key,
    case_recording_key,
)
from tests.fixtures.seaweed import SeaweedServer

MINUTE = timedelta(minutes=1)
JPEG = "image/jpeg"


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


# --- key layout (pure) ---------------------------------------------------------------------


def test_keys_are_grouped_per_case_and_kind() -> None:
    assert case_photo_key("c1", "p1", ".JPG") == "cases/c1/photos/p1.jpg"
    assert case_recording_key("c1", "t-video", 7) == "cases/c1/recordings/t-video/00000007.webm"
    assert case_opinion_key("c1", "o1", 2, "pdf") == "cases/c1/opinions/o1/v0002.pdf"
    assert case_clip_key("c1", "k1", "webm") == "cases/c1/clips/k1.webm"


def test_recording_keys_sort_in_recording_order() -> None:
    keys = [case_recording_key("c", "t", seq) for seq in (10, 2, 1)]
    assert sorted(keys) == [case_recording_key("c", "t", seq) for seq in (1, 2, 10)]


@pytest.mark.parametrize(
    "bad_id", ["", "a/b", "..", "a..b", ".", "a\\b", "a\nb", "a\x00b", " a", "x" * 129]
)
def test_key_helpers_refuse_ids_that_could_escape(bad_id: str) -> None:
    with pytest.raises(BadInput):
        case_photo_key("c1", bad_id, "jpg")
    with pytest.raises(BadInput):
        case_photo_key(bad_id, "p1", "jpg")


@pytest.mark.parametrize("bad_ext", ["", "j/pg", "tar.gz", "x" * 11, "jp g"])
def test_key_helpers_refuse_bad_extensions(bad_ext: str) -> None:
    with pytest.raises(BadInput):
        case_photo_key("c1", "p1", bad_ext)


def test_key_helpers_refuse_negative_sequence_and_zero_version() -> None:
    with pytest.raises(BadInput):
        case_recording_key("c1", "t1", -1)
    with pytest.raises(BadInput):
        case_opinion_key("c1", "o1", 0, "pdf")


def test_attachment_disposition_keeps_chinese_names() -> None:
    value = attachment_disposition("踏勘意见书.pdf")
    assert value.startswith("attachment; filename=")
    assert "filename*=UTF-8''%E8%B8%8F" in value
    assert value.isascii()


# --- round trips ---------------------------------------------------------------------------


async def test_put_get_stat_delete_round_trip(object_store: ObjectStore) -> None:
    key = case_photo_key("c1", "p1", "jpg")
    data = os.urandom(2048)

    stored = await object_store.put(key, data, JPEG, metadata={"case-id": "c1"})
    stat = await object_store.stat(key)

    assert await object_store.get(key) == data
    assert stat is not None
    assert (stat.size, stat.sha256, stat.content_type) == (len(data), sha256(data), JPEG)
    assert stat.metadata["case-id"] == "c1"
    assert stat.etag == stored.etag != ""
    assert await object_store.exists(key)

    await object_store.delete(key)

    assert await object_store.stat(key) is None
    assert not await object_store.exists(key)


async def test_put_records_sha256_in_object_metadata(
    object_store: ObjectStore, seaweed: SeaweedServer
) -> None:
    data = b"evidence"
    stored = await object_store.put("k/meta", data, "text/plain")

    raw = await asyncio.to_thread(seaweed.admin_client().stat_object, object_store.bucket, "k/meta")

    assert stored.sha256 == sha256(data)
    assert raw.metadata is not None
    assert raw.metadata["x-amz-meta-sha256"] == sha256(data)


async def test_caller_metadata_cannot_override_the_recorded_sha256(
    object_store: ObjectStore,
) -> None:
    await object_store.put("k/forged", b"abc", "text/plain", metadata={"sha256": "0" * 64})

    stat = await object_store.stat("k/forged")

    assert stat is not None
    assert stat.sha256 == sha256(b"abc")


async def test_non_ascii_metadata_is_refused(object_store: ObjectStore) -> None:
    with pytest.raises(BadInput):
        await object_store.put("k/zh", b"abc", "text/plain", metadata={"name": "照片"})
    assert not await object_store.exists("k/zh")


async def test_missing_object_is_not_found(object_store: ObjectStore) -> None:
    with pytest.raises(NotFound):
        await object_store.get("k/missing")
    with pytest.raises(NotFound):
        await object_store.verify_sha256("k/missing", "0" * 64)
    assert await object_store.stat("k/missing") is None


async def test_put_file_streams_a_multipart_upload_with_its_sha256(
    object_store: ObjectStore, tmp_path: Path
) -> None:
    path = tmp_path / "segment.webm"
    data = os.urandom(12 * 1024 * 1024)  # above the SDK's 5 MiB part size: multipart
    path.write_bytes(data)
    key = case_recording_key("c1", "t1", 0)

    stored = await object_store.put_file(key, path, "video/webm")
    stat = await object_store.stat(key)

    assert stored.sha256 == sha256(data)
    assert stat is not None
    assert (stat.size, stat.sha256) == (len(data), sha256(data))
    assert await object_store.verify_sha256(key, sha256(data))


# --- integrity -----------------------------------------------------------------------------


async def test_get_verified_returns_matching_bytes(object_store: ObjectStore) -> None:
    stored = await object_store.put("k/ok", b"photo bytes", JPEG)

    assert await object_store.get_verified("k/ok", stored.sha256 or "") == b"photo bytes"


async def test_get_verified_refuses_a_replaced_object(
    object_store: ObjectStore, seaweed: SeaweedServer
) -> None:
    original = await object_store.put("k/photo", b"original", JPEG)
    # Replaced behind the app's back: the recorded hash no longer matches.
    await asyncio.to_thread(
        seaweed.admin_client().put_object,
        object_store.bucket,
        "k/photo",
        io.BytesIO(b"tampered"),
        len(b"tampered"),
    )

    with pytest.raises(IntegrityError) as caught:
        await object_store.get_verified("k/photo", original.sha256 or "")

    assert caught.value.status == 500
    assert caught.value.extra["actual_sha256"] == sha256(b"tampered")


async def test_verify_sha256_compares_streamed_content(object_store: ObjectStore) -> None:
    await object_store.put("k/v", b"x" * 100_000, "application/octet-stream")

    assert await object_store.verify_sha256("k/v", sha256(b"x" * 100_000))
    assert not await object_store.verify_sha256("k/v", sha256(b"y" * 100_000))


# --- presigned GET -------------------------------------------------------------------------


async def test_presigned_get_downloads_with_requested_headers(object_store: ObjectStore) -> None:
    await object_store.put("k/opinion.pdf", b"%PDF-1.7 test", "application/octet-stream")
    disposition = attachment_disposition("踏勘意见书.pdf")

    url = await object_store.presigned_get(
        "k/opinion.pdf",
        MINUTE,
        response_content_type="application/pdf",
        response_content_disposition=disposition,
    )
    async with httpx.AsyncClient() as client:
        response = await client.get(url)

    assert response.status_code == 200, response.text
    assert response.content == b"%PDF-1.7 test"
    assert response.headers["content-type"] == "application/pdf"
    assert response.headers["content-disposition"] == disposition


async def test_presigned_get_is_signed_for_the_public_host(
    object_store: ObjectStore, seaweed: SeaweedServer
) -> None:
    await object_store.put("k/public", b"hello", "text/plain")
    port = seaweed.endpoint.rsplit(":", 1)[1]
    public = seaweed.store(object_store.bucket, public_endpoint=f"localhost:{port}")

    url = await public.presigned_get("k/public", MINUTE)
    public.close()
    other_host = urlunsplit(urlsplit(url)._replace(netloc=seaweed.endpoint))
    async with httpx.AsyncClient() as client:
        via_public = await client.get(url)
        via_other = await client.get(other_host)

    assert urlsplit(url).netloc == f"localhost:{port}"
    assert via_public.status_code == 200
    assert via_public.content == b"hello"
    assert via_other.status_code == 403  # the host is part of the signature


async def test_expired_presigned_get_is_refused(object_store: ObjectStore) -> None:
    await object_store.put("k/old", b"hello", "text/plain")
    an_hour_ago = datetime.now(UTC) - timedelta(hours=1)

    url = await object_store.presigned_get("k/old", MINUTE, now=an_hour_ago)
    async with httpx.AsyncClient() as client:
        response = await client.get(url)

    assert response.status_code == 403


# --- presigned POST ------------------------------------------------------------------------


async def post_form(
    post: PresignedPost, body: bytes, content_type: str | None = None, **fields: str
) -> httpx.Response:
    """Upload the way a browser form does: the policy fields, then the file last."""
    form = {**post.fields, **fields}
    part_type = content_type or form["Content-Type"]
    async with httpx.AsyncClient() as client:
        return await client.post(
            post.url, data=form, files={"file": ("upload.bin", body, part_type)}
        )


def s3_code(response: httpx.Response) -> str:
    found = re.search(r"<Code>([^<]+)</Code>", response.text)
    return found.group(1) if found else ""


async def test_presigned_post_accepts_a_matching_upload(object_store: ObjectStore) -> None:
    key = case_photo_key("c1", "p-upload", "jpg")
    post = await object_store.presigned_post(key, JPEG, max_bytes=10, expires=MINUTE)

    response = await post_form(post, b"0123456789")
    stat = await object_store.stat(key)

    assert response.status_code == 204, response.text
    assert await object_store.get(key) == b"0123456789"
    assert stat is not None
    assert stat.content_type == JPEG


def _widened_policy(post: PresignedPost) -> str:
    """The same policy with a bigger size range, without re-signing it."""
    policy = json.loads(base64.b64decode(post.fields["policy"]))
    policy["conditions"] = [
        ["content-length-range", 1, 1000] if c[0] == "content-length-range" else c
        for c in policy["conditions"]
    ]
    return base64.b64encode(json.dumps(policy).encode()).decode()


KEY = "uploads/p1.jpg"
OTHER_KEY = "uploads/p2.jpg"


@pytest.mark.parametrize(
    ("body", "fields", "codes"),
    [
        pytest.param(b"x" * 11, {}, {"EntityTooLarge"}, id="max_bytes+1"),
        pytest.param(b"", {}, {"EntityTooSmall"}, id="empty"),
        pytest.param(b"x", {"Content-Type": "text/html"}, {"AccessDenied"}, id="wrong-type"),
        pytest.param(b"x", {"key": OTHER_KEY}, {"AccessDenied"}, id="other-key"),
        pytest.param(b"x", {"x-amz-meta-extra": "1"}, {"AccessDenied"}, id="extra-field"),
        pytest.param(b"x" * 100, {"policy": "WIDEN"}, {"SignatureDoesNotMatch"}, id="tampered"),
    ],
)
async def test_presigned_post_refuses_uploads_outside_the_policy(
    object_store: ObjectStore, body: bytes, fields: dict[str, str], codes: set[str]
) -> None:
    post = await object_store.presigned_post(KEY, JPEG, max_bytes=10, expires=MINUTE)
    if fields.get("policy") == "WIDEN":
        fields = {"policy": _widened_policy(post)}

    response = await post_form(post, body, **fields)

    assert response.status_code in (400, 403), response.text
    assert s3_code(response) in codes, response.text
    assert not await object_store.exists(KEY)
    assert not await object_store.exists(OTHER_KEY)


async def test_expired_presigned_post_is_refused(object_store: ObjectStore) -> None:
    an_hour_ago = datetime.now(UTC) - timedelta(hours=1)
    post = await object_store.presigned_post(KEY, JPEG, 10, MINUTE, now=an_hour_ago)

    response = await post_form(post, b"x")

    assert response.status_code == 403, response.text
    assert "expired" in response.text.lower()
    assert not await object_store.exists(KEY)


async def test_presigned_post_form_carries_the_pinned_key_and_type(
    object_store: ObjectStore,
) -> None:
    post = await object_store.presigned_post(KEY, JPEG, max_bytes=10, expires=MINUTE)
    policy = json.loads(base64.b64decode(post.fields["policy"]))

    assert post.fields["key"] == KEY
    assert post.fields["Content-Type"] == JPEG
    assert ["eq", "$key", KEY] in policy["conditions"]
    assert ["eq", "$Content-Type", JPEG] in policy["conditions"]
    assert ["content-length-range", 1, 10] in policy["conditions"]
    assert post.url.endswith(f"/{object_store.bucket}")


async def test_presigned_expiry_must_be_between_a_second_and_a_week(
    object_store: ObjectStore,
) -> None:
    with pytest.raises(ValueError, match="between"):
        await object_store.presigned_get(KEY, timedelta(0))
    with pytest.raises(ValueError, match="between"):
        await object_store.presigned_post(KEY, JPEG, 10, timedelta(days=8))
