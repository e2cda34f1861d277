"""The development CA: a local root and signing certificate for opinions, never for production.

``ensure_dev_signing_material`` creates the CA and the signing certificate on first run,
under ``data_dir`` (never committed), and keeps a fresh CRL of that CA beside them. The only
production code that reaches here chooses development material in development mode:
``server.opinions.issue.signing_material`` when no bureau key is configured, and the verify
command's default trust (``server.opinions.cli``) when no ``--trust`` is given.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID

from server.opinions.signing import SigningMaterial

DEV_CA_NAME = "云踏勘开发用根证书 (DEVELOPMENT ONLY)"
DEV_SIGNER_NAME = "云踏勘意见书签名 开发用 (DEVELOPMENT ONLY)"
DEV_DIR_NAME = "signing-dev"
_CA_KEY, _CA_CERT = "dev-ca.key.pem", "dev-ca.cert.pem"
_KEY, _CERT = "signing.key.pem", "signing.cert.pem"
DEV_CRL = "dev-ca.crl"
# The dev CA re-issues its CRL a day before the current one runs out (a week).
CRL_LIFETIME, CRL_RENEW_BEFORE = timedelta(days=7), timedelta(days=1)


def ensure_dev_signing_material(data_dir: Path) -> SigningMaterial:
    """The development CA + signing certificate under ``data_dir``; created on first run.

    Created in a temporary directory and renamed into place, so two processes starting at
    once end up with the same material. The CA's CRL is renewed here when it runs low.
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
    ensure_dev_crl(target)
    return dev_material(target)


def dev_ca_cert_path(data_dir: Path) -> Path:
    """Where the development CA's certificate lives (it may not exist yet)."""
    return data_dir / DEV_DIR_NAME / _CA_CERT


def dev_material(directory: Path) -> SigningMaterial:
    return SigningMaterial(
        key_path=directory / _KEY,
        cert_path=directory / _CERT,
        chain_paths=(directory / _CA_CERT,),
        trust_paths=(directory / _CA_CERT,),
        crl_paths=(directory / DEV_CRL,),
    )


@dataclass(frozen=True)
class DevCa:
    """The development CA's key and certificate, to issue a TSA certificate or a CRL."""

    key: ec.EllipticCurvePrivateKey
    cert: x509.Certificate


def load_dev_ca(directory: Path) -> DevCa:
    key = serialization.load_pem_private_key((directory / _CA_KEY).read_bytes(), None)
    assert isinstance(key, ec.EllipticCurvePrivateKey)
    return DevCa(key, x509.load_pem_x509_certificate((directory / _CA_CERT).read_bytes()))


def ensure_dev_crl(directory: Path, *, now: datetime | None = None) -> Path:
    """The dev CA's CRL, issued anew when missing or within a day of its next update."""
    path = directory / DEV_CRL
    now = now or datetime.now(UTC)
    if path.is_file():
        current = x509.load_der_x509_crl(path.read_bytes())
        next_update = current.next_update_utc
        if next_update is not None and next_update - now > CRL_RENEW_BEFORE:
            return path
    return issue_dev_crl(directory, now=now)


def issue_dev_crl(
    directory: Path, *, revoked: Sequence[int] = (), now: datetime | None = None
) -> Path:
    """Issue (and atomically replace) the dev CA's CRL, listing ``revoked`` serial numbers."""
    now = now or datetime.now(UTC)
    ca = load_dev_ca(directory)
    builder = (
        x509.CertificateRevocationListBuilder()
        .issuer_name(ca.cert.subject)
        .last_update(now - timedelta(minutes=1))
        .next_update(now + CRL_LIFETIME)
        .add_extension(x509.CRLNumber(int(now.timestamp() * 1000)), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca.key.public_key()),
            critical=False,
        )
    )
    for serial in revoked:
        entry = (
            x509.RevokedCertificateBuilder()
            .serial_number(serial)
            .revocation_date(now - timedelta(minutes=1))
            .build()
        )
        builder = builder.add_revoked_certificate(entry)
    der = builder.sign(ca.key, hashes.SHA256()).public_bytes(serialization.Encoding.DER)
    path = directory / DEV_CRL
    staging = path.with_name(f".{DEV_CRL}.{os.getpid()}.{now.timestamp():.6f}")
    staging.write_bytes(der)
    os.replace(staging, path)
    return path


def _write_dev_material(directory: Path) -> None:
    directory.chmod(0o700)
    now = datetime.now(UTC) - timedelta(minutes=5)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_cert = _dev_ca_cert(ca_key, now)
    key = ec.generate_private_key(ec.SECP256R1())
    cert = _dev_signing_cert(key, ca_key, ca_cert, now)
    write_private_key(directory / _CA_KEY, ca_key)
    write_private_key(directory / _KEY, key)
    (directory / _CA_CERT).write_bytes(ca_cert.public_bytes(serialization.Encoding.PEM))
    (directory / _CERT).write_bytes(cert.public_bytes(serialization.Encoding.PEM))


def write_private_key(path: Path, key: ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey) -> None:
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(pem)


def dev_name(common_name: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.COUNTRY_NAME, "CN"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "cloudinspect development"),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        ]
    )


def _dev_ca_cert(key: ec.EllipticCurvePrivateKey, now: datetime) -> x509.Certificate:
    name = dev_name(DEV_CA_NAME)
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
        .subject_name(dev_name(DEV_SIGNER_NAME))
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
