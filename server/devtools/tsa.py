"""A development time-stamping authority: RFC 3161 over HTTP, for tests and local runs.

Development only, like the dev CA it hangs from: its key and certificate (RSA, the critical
``timeStamping`` extended key usage RFC 3161 requires) are issued by the development CA under
``data_dir/signing-dev/tsa``, and tokens are signed by pyHanko's ``DummyTimeStamper``. It answers
``POST`` with ``application/timestamp-query`` like any TSA, so the app's real HTTP client talks
to it. Run it beside a development server::

    python -m server.devtools.tsa --data-dir data --port 8318
    CLOUDINSPECT_TSA_URL=http://127.0.0.1:8318/ cloudinspect serve

A production bureau points ``CLOUDINSPECT_TSA_URL`` at its accredited TSA instead.
"""

from __future__ import annotations

import argparse
import os
import shutil
import socket
import tempfile
import threading
import time
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import TracebackType
from typing import Any

import uvicorn
from asn1crypto import keys as asn1_keys  # type: ignore[import-untyped]
from asn1crypto import tsp
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import ExtendedKeyUsageOID
from pyhanko.sign.timestamps import DummyTimeStamper

from server.devtools.ca import (
    DEV_DIR_NAME,
    dev_name,
    ensure_dev_signing_material,
    load_dev_ca,
    write_private_key,
)
from server.opinions.signing import TimeStampReply, load_certificates

DEV_TSA_NAME = "云踏勘时间戳服务 开发用 (DEVELOPMENT ONLY)"
TSA_DIR = "tsa"
_KEY, _CERT = "tsa.key.pem", "tsa.cert.pem"
QUERY_TYPE, REPLY_TYPE = "application/timestamp-query", "application/timestamp-reply"
MAX_QUERY_BYTES = 8192  # a TimeStampReq is a hash and a nonce: a few hundred bytes
ACCEPTED_HASHES = {"sha256": 32, "sha384": 48, "sha512": 64}  # digest sizes in bytes

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]


# -- the TSA's certificate ----------------------------------------------------------------------


@dataclass(frozen=True)
class TsaMaterial:
    key_path: Path
    cert_path: Path

    def timestamper(self) -> DummyTimeStamper:
        """Signs tokens in-process (the server below, or a test without HTTP)."""
        key = serialization.load_pem_private_key(self.key_path.read_bytes(), None)
        der = key.private_bytes(
            serialization.Encoding.DER,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        cert = load_certificates([self.cert_path])[0]
        return DummyTimeStamper(cert, asn1_keys.PrivateKeyInfo.load(der))


def ensure_dev_tsa_material(data_dir: Path) -> TsaMaterial:
    """The dev TSA's key and certificate, issued by the dev CA on first use (atomically)."""
    ensure_dev_signing_material(data_dir)
    signing_dir = data_dir / DEV_DIR_NAME
    target = signing_dir / TSA_DIR
    if not (target / _CERT).is_file():
        staging = Path(tempfile.mkdtemp(prefix=".tsa-", dir=signing_dir))
        try:
            _write_tsa_material(signing_dir, staging)
            os.rename(staging, target)
        except OSError:
            if not (target / _CERT).is_file():
                raise
        finally:
            shutil.rmtree(staging, ignore_errors=True)
    return TsaMaterial(target / _KEY, target / _CERT)


def _write_tsa_material(signing_dir: Path, directory: Path) -> None:
    directory.chmod(0o700)
    ca = load_dev_ca(signing_dir)
    now = datetime.now(UTC) - timedelta(minutes=5)
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)  # the dummy TSA is RSA
    cert = (
        x509.CertificateBuilder()
        .subject_name(dev_name(DEV_TSA_NAME))
        .issuer_name(ca.cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(min(now + timedelta(days=5 * 365), ca.cert.not_valid_after_utc))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.TIME_STAMPING]), critical=True)
        .add_extension(_tsa_key_usage(), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca.key.public_key()), False
        )
        .sign(ca.key, hashes.SHA256())
    )
    write_private_key(directory / _KEY, key)
    (directory / _CERT).write_bytes(cert.public_bytes(serialization.Encoding.PEM))


def _tsa_key_usage() -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=True,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=False,
        crl_sign=False,
        encipher_only=False,
        decipher_only=False,
    )


# -- RFC 3161 over HTTP -------------------------------------------------------------------------


def _rejection(fail_info: str, text: str) -> bytes:
    status = {"status": "rejection", "status_string": [text], "fail_info": {fail_info}}
    return bytes(TimeStampReply({"status": tsp.PKIStatusInfo(status)}).dump())


def timestamp_reply(stamper: DummyTimeStamper, query: bytes) -> bytes:
    """The TSA's DER answer to one DER ``TimeStampReq``: a token, or a rejection saying why."""
    try:
        request = tsp.TimeStampReq.load(query)
        algorithm = request["message_imprint"]["hash_algorithm"]["algorithm"].native
        digest = request["message_imprint"]["hashed_message"].native
    except ValueError:
        return _rejection("bad_data_format", "not a DER TimeStampReq")
    if algorithm not in ACCEPTED_HASHES:
        return _rejection("bad_alg", f"hash algorithm {algorithm} not accepted")
    if not isinstance(digest, bytes) or len(digest) != ACCEPTED_HASHES[algorithm]:
        return _rejection("bad_data_format", "the message imprint has the wrong length")
    return bytes(stamper.request_tsa_response(request).dump())


class TimestampApp:
    """The ASGI app: ``POST`` a query, get a reply; anything else is a plain HTTP error."""

    def __init__(self, stamper: DummyTimeStamper) -> None:
        self.stamper = stamper
        self.answered = 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        headers = {k.decode().lower(): v.decode() for k, v in scope["headers"]}
        if scope["method"] != "POST":
            await _plain(send, 405, "POST an RFC 3161 TimeStampReq")
            return
        if headers.get("content-type", "").split(";")[0].strip() != QUERY_TYPE:
            await _plain(send, 415, f"Content-Type must be {QUERY_TYPE}")
            return
        body = await _body(receive, MAX_QUERY_BYTES)
        if body is None:
            await _plain(send, 413, "request too large for a TimeStampReq")
            return
        reply = timestamp_reply(self.stamper, body)
        self.answered += 1
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [(b"content-type", REPLY_TYPE.encode())],
            }
        )
        await send({"type": "http.response.body", "body": reply})


async def _body(receive: Receive, limit: int) -> bytes | None:
    body, more = b"", True
    while more:
        message = await receive()
        body += message.get("body", b"")
        more = bool(message.get("more_body", False))
        if len(body) > limit:
            return None
    return body


async def _plain(send: Send, status: int, text: str) -> None:
    headers = [(b"content-type", b"text/plain; charset=utf-8")]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": text.encode()})


class DevTsaServer:
    """The dev TSA on loopback in a thread of its own (its own event loop), for tests and dev.

    ``with DevTsaServer(data_dir) as tsa: ... tsa.url ...``; ``stop()`` takes it down so a
    test can see what an unreachable TSA does, ``start()`` brings it back on the same port.
    """

    def __init__(self, data_dir: Path, *, host: str = "127.0.0.1", port: int = 0) -> None:
        self.material = ensure_dev_tsa_material(data_dir)
        self.app = TimestampApp(self.material.timestamper())
        self.host, self.port = host, port
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}/"

    def start(self, timeout: float = 10.0) -> None:
        sock = socket.create_server((self.host, self.port))
        self.port = sock.getsockname()[1]
        config = uvicorn.Config(
            self.app, lifespan="off", ws="none", log_level="warning", access_log=False
        )
        server = uvicorn.Server(config)
        thread = threading.Thread(
            target=server.run, kwargs={"sockets": [sock]}, name="dev-tsa", daemon=True
        )
        thread.start()
        self._server, self._thread = server, thread
        deadline = time.monotonic() + timeout
        while not server.started:  # bounded polling: uvicorn sets the flag once it listens
            if not thread.is_alive() or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"the development TSA did not start on {self.url}")
            time.sleep(0.01)

    def stop(self) -> None:
        """Stop answering (uvicorn closes the listening socket); idempotent."""
        if self._server is not None and self._thread is not None:
            self._server.should_exit = True
            self._thread.join(timeout=10)
        self._server = self._thread = None

    def __enter__(self) -> DevTsaServer:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="development RFC 3161 time-stamping server")
    parser.add_argument("--data-dir", type=Path, default=Path("data"))
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8318)
    args = parser.parse_args(argv)
    material = ensure_dev_tsa_material(args.data_dir)
    app = TimestampApp(material.timestamper())
    print(f"development TSA (not for production) on http://{args.host}:{args.port}/")
    uvicorn.run(app, host=args.host, port=args.port, log_level="warning")


if __name__ == "__main__":
    main()
