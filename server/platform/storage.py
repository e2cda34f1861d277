"""The object store: evidence files in any S3 service, reached only through the ``minio`` SDK.

Every blocking SDK call runs in a worker thread (live media shares the event loop). Each
object written here carries its SHA-256 in ``x-amz-meta-sha256`` so evidence can be checked
later against the hash chain. Keys come from the ``object_keys`` helpers (re-exported).
"""

from __future__ import annotations

import asyncio
import hashlib
import io
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import IO, TYPE_CHECKING, BinaryIO, ParamSpec, TypeVar, cast
from urllib.parse import urlsplit

import urllib3
from minio import Minio
from minio.datatypes import PostPolicy
from minio.error import MinioException, S3Error
from minio.helpers import check_bucket_name

from server.errors import AppError, BadInput, NotFound, Unavailable
from server.object_keys import attachment_disposition as attachment_disposition
from server.object_keys import case_clip_key as case_clip_key
from server.object_keys import case_opinion_key as case_opinion_key
from server.object_keys import case_photo_key as case_photo_key
from server.object_keys import case_prefix as case_prefix
from server.object_keys import case_recording_key as case_recording_key
from server.object_keys import case_sealed_key as case_sealed_key
from server.object_keys import check_key as _check_key

if TYPE_CHECKING:
    from server.config import Settings

P = ParamSpec("P")
T = TypeVar("T")

SHA256_META = "sha256"  # stored as the x-amz-meta-sha256 header
CHUNK = 1024 * 1024
MAX_PRESIGN = timedelta(days=7)  # the SigV4 limit
_NOT_FOUND_CODES = frozenset({"NoSuchKey", "NoSuchObject"})


class IntegrityError(AppError):
    """Stored bytes do not match their recorded SHA-256. 500, not 409: the caller cannot fix
    it by changing the request; the evidence is damaged or replaced, operators must look."""

    status = 500
    code = "integrity_error"


@dataclass(frozen=True, slots=True)
class StoredObject:
    """What the store knows about one object."""

    key: str
    size: int
    etag: str
    sha256: str | None  # None for objects written without our metadata
    content_type: str | None = None
    last_modified: datetime | None = None
    metadata: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Mismatch:
    """Bytes read back that do not hash as recorded, and what the reader said they were."""

    key: str
    expected_sha256: str
    actual_sha256: str
    about: Mapping[str, str]  # e.g. case_id, evidence_id, what (original, photo…), by


MismatchReporter = Callable[[Mismatch], Awaitable[None]]  # told before the read is refused


@dataclass(frozen=True, slots=True)
class PresignedPost:
    """A browser form upload: POST ``fields`` (then the file, last) as multipart to ``url``."""

    url: str
    fields: dict[str, str]
    expires_at: datetime


# --- clients -------------------------------------------------------------------------------


def make_http_pool(*, connect: float, read: float, retries: int) -> urllib3.PoolManager:
    """An HTTP pool with short timeouts: the SDK default would wait 5 minutes per attempt."""
    return urllib3.PoolManager(
        timeout=urllib3.Timeout(connect=connect, read=read),
        maxsize=10,
        retries=urllib3.Retry(
            total=retries,
            backoff_factor=0.2,
            status_forcelist=[500, 502, 503, 504],
        ),
    )


def _split_endpoint(endpoint: str, secure: bool) -> tuple[str, bool]:
    """Accept ``host:port`` or ``http(s)://host:port``; the scheme, if given, wins."""
    if "://" not in endpoint:
        return endpoint, secure
    parts = urlsplit(endpoint)
    if parts.path not in ("", "/") or not parts.netloc:
        raise ValueError(f"S3 endpoint must be host:port or scheme://host:port: {endpoint!r}")
    return parts.netloc, parts.scheme == "https"


def _user_metadata(headers: Mapping[str, str]) -> dict[str, str]:
    prefix = "x-amz-meta-"
    return {k.lower()[len(prefix) :]: v for k, v in headers.items() if k.lower().startswith(prefix)}


def _unavailable(exc: Exception) -> Unavailable:
    return Unavailable(
        "对象存储暂时不可用，请稍后重试。",
        "The object store is unavailable; try again later.",
        reason=getattr(exc, "code", None) or type(exc).__name__,
    )


def _translate(exc: Exception, key: str | None) -> AppError:
    """Map SDK and transport errors onto the app's error tree."""
    if isinstance(exc, S3Error) and exc.code in _NOT_FOUND_CODES:
        return NotFound(
            "找不到存储的文件，请核对编号。",
            "Stored object not found; check the id.",
            key=key,
        )
    return _unavailable(exc)


class _HashingReader:
    """Hashes what the SDK reads, so a file that changed after hashing is caught.

    The SDK only calls ``read(n)``; its ``BinaryIO`` annotation asks for more than it uses.
    """

    def __init__(self, raw: IO[bytes]) -> None:
        self._raw = raw
        self.digest = hashlib.sha256()

    def read(self, size: int = -1) -> bytes:
        chunk = self._raw.read(size)
        self.digest.update(chunk)
        return chunk


def _sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


# --- the store -----------------------------------------------------------------------------


class ObjectStore:
    """One bucket in an S3 service, with async methods safe to call from the event loop."""

    def __init__(
        self,
        *,
        endpoint: str,
        access_key: str,
        secret_key: str,
        bucket: str,
        public_endpoint: str = "",
        secure: bool = False,
        region: str = "us-east-1",
        timeout: float = 30.0,
        probe_timeout: float = 2.0,
    ) -> None:
        check_bucket_name(bucket)  # fail here, not at the first request
        netloc, is_secure = _split_endpoint(endpoint, secure)
        public_netloc, public_secure = _split_endpoint(public_endpoint or endpoint, secure)
        self.bucket = bucket
        self._probe_timeout = probe_timeout
        self._public_base = f"{'https' if public_secure else 'http'}://{public_netloc}"
        self.on_mismatch: MismatchReporter | None = None  # wired by the app to its audit

        self._pools = [
            make_http_pool(connect=3, read=timeout, retries=2),
            make_http_pool(connect=1, read=probe_timeout, retries=0),
            urllib3.PoolManager(),  # for the signing-only client below, which never connects
        ]

        def client(host: str, tls: bool, pool: urllib3.PoolManager) -> Minio:
            # A fixed region means signing never asks the server for the bucket location.
            return Minio(host, access_key, secret_key, secure=tls, region=region, http_client=pool)

        self._client = client(netloc, is_secure, self._pools[0])
        self._probe = client(netloc, is_secure, self._pools[1])  # health checks: fail fast
        # Signs URLs for the host the browser uses.
        self._public = client(public_netloc, public_secure, self._pools[2])

    @classmethod
    def from_settings(cls, settings: Settings, *, endpoint_override: str = "") -> ObjectStore:
        """Build from settings; ``endpoint_override`` is the embedded SeaweedFS's address."""
        endpoint = endpoint_override or settings.s3_endpoint
        if not endpoint:
            raise ValueError("no S3 endpoint: set CLOUDINSPECT_S3_ENDPOINT or start SeaweedFS")
        return cls(
            endpoint=endpoint,
            public_endpoint=settings.s3_public_endpoint or endpoint,
            access_key=settings.s3_access_key.get_secret_value(),
            secret_key=settings.s3_secret_key.get_secret_value(),
            bucket=settings.s3_bucket,
            secure=settings.s3_secure,
            region=settings.s3_region,
        )

    def close(self) -> None:
        """Drop pooled connections."""
        for pool in self._pools:
            pool.clear()

    async def _run(
        self, key: str | None, fn: Callable[P, T], *args: P.args, **kwargs: P.kwargs
    ) -> T:
        """Run one blocking SDK call in a thread and translate its failures."""
        try:
            return await asyncio.to_thread(fn, *args, **kwargs)
        except (MinioException, urllib3.exceptions.HTTPError) as exc:
            raise _translate(exc, key) from exc

    # --- bucket and health

    async def ensure_bucket(self) -> None:
        """Create the bucket if it is missing (SeaweedFS normally made it at start)."""
        await self._run(None, self._ensure_bucket_sync)

    def _ensure_bucket_sync(self) -> None:
        if self._client.bucket_exists(self.bucket):
            return
        try:
            self._client.make_bucket(self.bucket)
        except S3Error as exc:
            if exc.code != "BucketAlreadyOwnedByYou":  # another process won the race: fine
                raise

    async def ping(self) -> None:
        """Cheap signed call with a short timeout; raises ``Unavailable`` when unhealthy."""
        try:
            found = await asyncio.wait_for(
                self._run(None, self._probe.bucket_exists, self.bucket),
                timeout=self._probe_timeout * 2 + 1,  # urllib3's timeouts do not cover DNS
            )
        except TimeoutError as exc:
            raise _unavailable(exc) from exc
        if not found:
            raise Unavailable(
                "对象存储中没有配置的存储桶。",
                f"The configured bucket {self.bucket!r} does not exist.",
                reason="NoSuchBucket",
            )

    # --- writing

    async def put(
        self,
        key: str,
        data: bytes,
        content_type: str,
        metadata: Mapping[str, str] | None = None,
    ) -> StoredObject:
        """Store ``data``, recording its SHA-256 in the object's metadata."""
        _check_key(key)
        return await self._run(key, self._put_sync, key, data, content_type, metadata)

    def _put_sync(
        self, key: str, data: bytes, content_type: str, metadata: Mapping[str, str] | None
    ) -> StoredObject:
        sha256 = hashlib.sha256(data).hexdigest()
        meta = _with_sha256(metadata, sha256)
        result = self._client.put_object(
            self.bucket, key, io.BytesIO(data), len(data), content_type, metadata=dict(meta)
        )
        return StoredObject(key, len(data), result.etag or "", sha256, content_type, None, meta)

    async def put_file(
        self,
        key: str,
        path: Path,
        content_type: str,
        metadata: Mapping[str, str] | None = None,
    ) -> StoredObject:
        """Stream a local file (multipart when big); its SHA-256 is computed before sending.

        The bytes sent are hashed again on the way; if the file changed in between, the
        object is removed and ``IntegrityError`` raised.
        """
        _check_key(key)
        return await self._run(key, self._put_file_sync, key, path, content_type, metadata)

    def _put_file_sync(
        self, key: str, path: Path, content_type: str, metadata: Mapping[str, str] | None
    ) -> StoredObject:
        sha256 = _sha256_file(path)
        meta = _with_sha256(metadata, sha256)
        size = path.stat().st_size
        with path.open("rb") as handle:
            reader = _HashingReader(handle)
            result = self._client.put_object(
                self.bucket, key, cast("BinaryIO", reader), size, content_type, metadata=dict(meta)
            )
        if reader.digest.hexdigest() != sha256:
            self._client.remove_object(self.bucket, key)
            raise IntegrityError(
                "文件在上传过程中被修改，已撤销上传。",
                "The file changed while it was uploaded; the upload was removed.",
                key=key,
            )
        return StoredObject(key, size, result.etag or "", sha256, content_type, None, meta)

    async def delete(self, key: str) -> None:
        """Remove an object; removing a missing one is not an error (S3 semantics)."""
        _check_key(key)
        await self._run(key, self._client.remove_object, self.bucket, key)

    # --- reading

    async def stat(self, key: str) -> StoredObject | None:
        """Size, etag, SHA-256 and metadata of an object, or None when it does not exist."""
        _check_key(key)
        try:
            info = await self._run(key, self._client.stat_object, self.bucket, key)
        except NotFound:
            return None
        meta = _user_metadata(info.metadata or {})
        return StoredObject(
            key=key,
            size=info.size or 0,
            etag=info.etag or "",
            sha256=meta.get(SHA256_META),
            content_type=info.content_type,
            last_modified=info.last_modified,
            metadata=meta,
        )

    async def exists(self, key: str) -> bool:
        """Whether the object exists."""
        return await self.stat(key) is not None

    async def get(self, key: str) -> bytes:
        """The whole object in memory: meant for photos and documents, not recordings."""
        _check_key(key)
        return await self._run(key, self._get_sync, key)

    def _get_sync(self, key: str) -> bytes:
        response = self._client.get_object(self.bucket, key)
        try:
            return response.read()
        finally:
            response.close()
            response.release_conn()

    # --- reading with a recorded SHA-256: the one place the verify-on-read rule lives

    async def get_verified(
        self, key: str, expected_sha256: str, *, about: Mapping[str, str] | None = None
    ) -> bytes:
        """The bytes, refused with ``IntegrityError`` unless they hash as expected; a mismatch
        is first told to ``on_mismatch`` (the audit) with ``about`` (case, evidence, what for)."""
        data = await self.get(key)
        actual = await asyncio.to_thread(lambda: hashlib.sha256(data).hexdigest())
        await self._check(key, expected_sha256, actual, about)
        return data

    async def check_verified(
        self, key: str, expected_sha256: str, *, about: Mapping[str, str] | None = None
    ) -> None:
        """Stream the object and refuse it like ``get_verified`` (before handing out a link)."""
        await self._check(key, expected_sha256, await self._streamed_sha256(key), about)

    async def verify_sha256(self, key: str, expected: str) -> bool:
        """Stream the object and compare its SHA-256 with ``expected`` (for big objects)."""
        return await self._streamed_sha256(key) == expected.lower()

    async def _streamed_sha256(self, key: str) -> str:
        return await self._run(_check_key(key), self._stream_sha256_sync, key)

    async def _check(
        self, key: str, expected: str, actual: str, about: Mapping[str, str] | None
    ) -> None:
        if actual == expected.lower():
            return
        mismatch = Mismatch(key, expected, actual, dict(about or {}))
        if self.on_mismatch is not None:
            await self.on_mismatch(mismatch)
        raise _mismatch(key, expected, actual, **mismatch.about)

    def _stream_sha256_sync(self, key: str) -> str:
        digest = hashlib.sha256()
        response = self._client.get_object(self.bucket, key)
        try:
            for chunk in response.stream(CHUNK):
                digest.update(chunk)
        finally:
            response.close()
            response.release_conn()
        return digest.hexdigest()

    # --- presigned access for browsers

    async def presigned_get(
        self,
        key: str,
        expires: timedelta,
        response_content_type: str | None = None,
        response_content_disposition: str | None = None,
        *,
        now: datetime | None = None,
    ) -> str:
        """A download URL signed for the public endpoint (the host the browser talks to).

        ``now`` backdates the signature; tests use it to get an already expired URL.
        """
        _check_key(key)
        _check_expiry(expires)
        overrides = {
            "response-content-type": response_content_type,
            "response-content-disposition": response_content_disposition,
        }
        params: dict[str, str | list[str] | tuple[str]] = {k: v for k, v in overrides.items() if v}
        # Signing is local computation (the region is fixed), so no thread is needed.
        return self._public.presigned_get_object(
            self.bucket, key, expires, response_headers=params or None, request_date=now
        )

    async def presigned_post(
        self,
        key: str,
        content_type: str,
        max_bytes: int,
        expires: timedelta,
        min_bytes: int = 1,
        *,
        now: datetime | None = None,
    ) -> PresignedPost:
        """A browser upload form whose policy pins the key, the size range and the type.

        ``now`` moves the policy's clock; tests use it to get an already expired policy.
        """
        _check_key(key)
        _check_expiry(expires)
        if not content_type or min_bytes < 0 or max_bytes < max(min_bytes, 1):
            raise ValueError("need a content type and 0 <= min_bytes <= max_bytes, max_bytes >= 1")
        expires_at = (now or datetime.now(UTC)) + expires
        policy = PostPolicy(self.bucket, expires_at)
        policy.add_equals_condition("key", key)
        policy.add_equals_condition("Content-Type", content_type)
        policy.add_content_length_range_condition(min_bytes, max_bytes)
        signed = self._public.presigned_post_policy(policy)
        fields = {**signed, "key": key, "Content-Type": content_type}
        return PresignedPost(f"{self._public_base}/{self.bucket}", fields, expires_at)


def _with_sha256(metadata: Mapping[str, str] | None, sha256: str) -> dict[str, str]:
    """User metadata plus our hash; the hash cannot be overridden by the caller."""
    meta = {k.lower().removeprefix("x-amz-meta-"): v for k, v in (metadata or {}).items()}
    for name, value in meta.items():
        if not value.isascii() or not name.isascii():
            raise BadInput(
                "对象元数据只能包含 ASCII 字符。",
                "Object metadata must be ASCII.",
                field=name,
            )
    meta[SHA256_META] = sha256
    return meta


def _check_expiry(expires: timedelta) -> None:
    if not timedelta(seconds=1) <= expires <= MAX_PRESIGN:
        raise ValueError("presigned expiry must be between 1 second and 7 days")


def _mismatch(key: str, expected: str, actual: str, **about: str) -> IntegrityError:
    return IntegrityError(
        "存储的文件与登记的校验值不一致，可能已损坏或被替换；已拒绝提供并记入审计日志，"
        "请联系运维人员核查。",
        "The stored object does not match its recorded SHA-256; it may be damaged or "
        "replaced. It was not served, the refusal is in the audit log; ask operations to "
        "investigate.",
        key=key,
        expected_sha256=expected,
        actual_sha256=actual,
        **{k: v for k, v in about.items() if k not in ("key", "expected_sha256", "actual_sha256")},
    )
