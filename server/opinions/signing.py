"""Sign the opinion: PAdES on the PDF, detached CMS on the JSON twin.

The signer is pluggable (``OpinionSigner``): development and small deployments use key files
(``SigningMaterial``); a real bureau signs in an HSM or the government e-seal service, which
pyHanko reaches through its PKCS#11 or CSC signers — the key then never enters this process
(电子签名法 Art. 13). ``ensure_dev_signing_material`` creates a local development CA and
signing certificate on first run, under ``data_dir`` (never committed).

Signing runs pyHanko's event loop (``asyncio.run``): call it through ``asyncio.to_thread``.
"""

from __future__ import annotations

import asyncio
import io
import os
import shutil
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Protocol

from asn1crypto import x509 as asn1_x509  # type: ignore[import-untyped]
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from pyhanko.keys import load_private_key_from_pemder
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.sign import signers
from pyhanko.sign.fields import MDPPerm, SigSeedSubFilter
from pyhanko.sign.timestamps import HTTPTimeStamper, TimeStamper
from pyhanko_certvalidator.registry import SimpleCertificateStore

DEV_CA_NAME = "云踏勘开发用根证书 (DEVELOPMENT ONLY)"
DEV_SIGNER_NAME = "云踏勘意见书签名 开发用 (DEVELOPMENT ONLY)"
DEV_DIR_NAME = "signing-dev"
_CA_KEY, _CA_CERT = "dev-ca.key.pem", "dev-ca.cert.pem"
_KEY, _CERT = "signing.key.pem", "signing.cert.pem"
DEFAULT_FIELD = "BureauSignature"


class OpinionSigner(Protocol):
    """Whatever holds the bureau's key: key files, an HSM (PKCS#11), an e-seal service (CSC)."""

    @property
    def signing_cert(self) -> asn1_x509.Certificate: ...

    def pyhanko_signer(self) -> signers.Signer: ...


@dataclass(frozen=True)
class SigningMaterial:
    """The bureau's key, certificate and chain loaded from PEM files."""

    key_path: Path
    cert_path: Path
    chain_paths: tuple[Path, ...] = ()
    key_passphrase: bytes | None = field(default=None, repr=False)
    trust_paths: tuple[Path, ...] = ()  # roots a local verifier trusts (the dev CA)

    @property
    def signing_cert(self) -> asn1_x509.Certificate:
        return load_certificates([self.cert_path])[0]

    def pyhanko_signer(self) -> signers.Signer:
        registry = SimpleCertificateStore()  # type: ignore[no-untyped-call]
        registry.register_multiple(load_certificates(self.chain_paths))
        return signers.SimpleSigner(
            signing_cert=self.signing_cert,
            signing_key=load_private_key_from_pemder(str(self.key_path), self.key_passphrase),
            cert_registry=registry,
        )

    def trust_roots(self) -> list[asn1_x509.Certificate]:
        return load_certificates(self.trust_paths)


def load_certificates(paths: Sequence[Path]) -> list[asn1_x509.Certificate]:
    """All certificates in the given PEM (or DER) files; ValueError if a file holds none."""
    result: list[asn1_x509.Certificate] = []
    for path in paths:
        data = path.read_bytes()
        parsed = (
            x509.load_pem_x509_certificates(data)
            if b"-----BEGIN" in data
            else [x509.load_der_x509_certificate(data)]
        )
        der = (cert.public_bytes(serialization.Encoding.DER) for cert in parsed)
        result += [asn1_x509.Certificate.load(item) for item in der]
    return result


# -- development material -----------------------------------------------------------------


def ensure_dev_signing_material(data_dir: Path) -> SigningMaterial:
    """The development CA + signing certificate under ``data_dir``; created on first run.

    Created in a temporary directory and renamed into place, so two processes starting at
    once end up with the same material.
    """
    target = data_dir / DEV_DIR_NAME
    if not (target / _CERT).is_file():
        data_dir.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=".signing-", dir=data_dir))
        try:
            _write_dev_material(staging)
            os.rename(staging, target)
        except OSError:
            if not (target / _CERT).is_file():
                raise
        finally:
            shutil.rmtree(staging, ignore_errors=True)
    return dev_material(target)


def dev_material(directory: Path) -> SigningMaterial:
    return SigningMaterial(
        key_path=directory / _KEY,
        cert_path=directory / _CERT,
        chain_paths=(directory / _CA_CERT,),
        trust_paths=(directory / _CA_CERT,),
    )


def _write_dev_material(directory: Path) -> None:
    directory.chmod(0o700)
    now = datetime.now(UTC) - timedelta(minutes=5)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_cert = _dev_ca_cert(ca_key, now)
    key = ec.generate_private_key(ec.SECP256R1())
    cert = _dev_signing_cert(key, ca_key, ca_cert, now)
    _write_key(directory / _CA_KEY, ca_key)
    _write_key(directory / _KEY, key)
    (directory / _CA_CERT).write_bytes(ca_cert.public_bytes(serialization.Encoding.PEM))
    (directory / _CERT).write_bytes(cert.public_bytes(serialization.Encoding.PEM))


def _write_key(path: Path, key: ec.EllipticCurvePrivateKey) -> None:
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(pem)


def _name(common_name: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.COUNTRY_NAME, "CN"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "cloudinspect development"),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        ]
    )


def _dev_ca_cert(key: ec.EllipticCurvePrivateKey, now: datetime) -> x509.Certificate:
    name = _name(DEV_CA_NAME)
    public = key.public_key()
    return (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(public)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(now + timedelta(days=3650))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(_key_usage(cert_sign=True), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public), critical=False)
        .sign(key, hashes.SHA256())
    )


def _dev_signing_cert(
    key: ec.EllipticCurvePrivateKey,
    ca_key: ec.EllipticCurvePrivateKey,
    ca_cert: x509.Certificate,
    now: datetime,
) -> x509.Certificate:
    public = key.public_key()
    return (
        x509.CertificateBuilder()
        .subject_name(_name(DEV_SIGNER_NAME))
        .issuer_name(ca_cert.subject)
        .public_key(public)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(now + timedelta(days=825))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(_key_usage(cert_sign=False), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
            critical=False,
        )
        .sign(ca_key, hashes.SHA256())
    )


def _key_usage(*, cert_sign: bool) -> x509.KeyUsage:
    # A CA signs certificates and CRLs; the signer needs digitalSignature + nonRepudiation
    # (contentCommitment), which pyHanko's validation requires by default.
    return x509.KeyUsage(
        digital_signature=not cert_sign,
        content_commitment=not cert_sign,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=cert_sign,
        crl_sign=cert_sign,
        encipher_only=False,
        decipher_only=False,
    )


# -- signing ---------------------------------------------------------------------------------


def sign_pdf(
    pdf_bytes: bytes,
    signer: OpinionSigner,
    *,
    reason: str,
    location: str,
    field_name: str = DEFAULT_FIELD,
    tsa_url: str | None = None,
    timestamper: TimeStamper | None = None,
) -> bytes:
    """PAdES signature: B-T with a timestamp (``tsa_url`` or ``timestamper``), B-B otherwise.

    The signature also certifies the document with "no changes allowed" (DocMDP P=1): later
    incremental updates other than validation data and archive timestamps void it.
    """
    meta = signers.PdfSignatureMetadata(
        field_name=field_name,
        md_algorithm="sha256",
        subfilter=SigSeedSubFilter.PADES,
        reason=reason,
        location=location,
        certify=True,
        docmdp_permissions=MDPPerm.NO_CHANGES,
    )
    if timestamper is None and tsa_url:
        timestamper = HTTPTimeStamper(tsa_url)
    pdf_signer = signers.PdfSigner(meta, signer=signer.pyhanko_signer(), timestamper=timestamper)
    writer = IncrementalPdfFileWriter(io.BytesIO(pdf_bytes))
    output = io.BytesIO()
    pdf_signer.sign_pdf(writer, output=output)
    return output.getvalue()


def sign_json(canonical_bytes: bytes, signer: OpinionSigner) -> bytes:
    """A detached CMS signature (DER) over the JSON twin."""
    coroutine = signer.pyhanko_signer().async_sign_general_data(
        canonical_bytes, "sha256", detached=True
    )
    content_info = asyncio.run(coroutine)
    return bytes(content_info.dump())
