"""Sign the opinion: PAdES on the PDF, detached CMS on the JSON twin.

The signer is pluggable (``OpinionSigner``): development and small deployments use key files
(``SigningMaterial``); a real bureau signs in an HSM or the government e-seal service, which
pyHanko reaches through its PKCS#11 or CSC signers — the key then never enters this process
(电子签名法 Art. 13). ``ensure_dev_signing_material`` creates a local development CA and
signing certificate on first run, under ``data_dir`` (never committed), and keeps a fresh
CRL of that CA beside them.

PAdES levels (ETSI EN 319 142-1): B-B is the bare signature; B-T adds an RFC 3161 timestamp
of the signature; B-LT adds, in the document security store (DSS), every certificate and
CRL/OCSP response a verifier needs, so the signature can be checked offline after the
certificates have expired; B-LTA adds a document timestamp over all of that.

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
from typing import Any, ClassVar, Literal, Protocol, get_args

from asn1crypto import cms, core, tsp  # type: ignore[import-untyped]
from asn1crypto import crl as asn1_crl
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID
from pyhanko.keys import load_private_key_from_pemder
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.sign import signers
from pyhanko.sign.fields import MDPPerm, SigSeedSubFilter
from pyhanko.sign.general import SigningError
from pyhanko.sign.timestamps import HTTPTimeStamper, TimeStamper, TimestampRequestError
from pyhanko_certvalidator import ValidationContext
from pyhanko_certvalidator.errors import PathError, ValidationError
from pyhanko_certvalidator.policy_decl import REQUIRE_REVINFO, CertRevTrustPolicy
from pyhanko_certvalidator.registry import SimpleCertificateStore

from server.errors import AppError, Unavailable

DEV_CA_NAME = "云踏勘开发用根证书 (DEVELOPMENT ONLY)"
DEV_SIGNER_NAME = "云踏勘意见书签名 开发用 (DEVELOPMENT ONLY)"
DEV_DIR_NAME = "signing-dev"
_CA_KEY, _CA_CERT = "dev-ca.key.pem", "dev-ca.cert.pem"
_KEY, _CERT = "signing.key.pem", "signing.cert.pem"
DEV_CRL = "dev-ca.crl"
# The dev CA re-issues its CRL a day before the current one runs out (a week).
CRL_LIFETIME, CRL_RENEW_BEFORE = timedelta(days=7), timedelta(days=1)
DEFAULT_FIELD = "BureauSignature"

SignatureLevel = Literal["B-B", "B-T", "B-LT", "B-LTA"]
LEVELS: tuple[SignatureLevel, ...] = get_args(SignatureLevel)
TIMESTAMPED: frozenset[str] = frozenset({"B-T", "B-LT", "B-LTA"})
LONG_TERM: frozenset[str] = frozenset({"B-LT", "B-LTA"})


class OpinionSigner(Protocol):
    """Whatever holds the bureau's key: key files, an HSM (PKCS#11), an e-seal service (CSC)."""

    @property
    def signing_cert(self) -> asn1_x509.Certificate: ...

    def pyhanko_signer(self) -> signers.Signer: ...


@dataclass(frozen=True)
class SigningMaterial:
    """The bureau's key, certificate and chain loaded from PEM files.

    ``trust_paths`` are the roots that anchor the bureau's certificate and the TSA's (the dev
    CA in development); ``crl_paths`` the CRLs embedded for B-LT when revocation data is not
    fetched online.
    """

    key_path: Path
    cert_path: Path
    chain_paths: tuple[Path, ...] = ()
    key_passphrase: bytes | None = field(default=None, repr=False)
    trust_paths: tuple[Path, ...] = ()
    crl_paths: tuple[Path, ...] = ()

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
        """The configured roots, or else the self-signed certificates of the chain."""
        if self.trust_paths:
            return load_certificates(self.trust_paths)
        chain = load_certificates(self.chain_paths)
        return [cert for cert in chain if cert.self_signed != "no"]

    def crls(self) -> list[asn1_crl.CertificateList]:
        return load_crls(self.crl_paths)


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


def load_crls(paths: Sequence[Path]) -> list[asn1_crl.CertificateList]:
    """The CRL in each PEM or DER file; ValueError if a file is not a CRL."""
    result: list[asn1_crl.CertificateList] = []
    for path in paths:
        data = path.read_bytes()
        parsed = (
            x509.load_pem_x509_crl(data) if b"-----BEGIN" in data else x509.load_der_x509_crl(data)
        )
        der = parsed.public_bytes(serialization.Encoding.DER)
        result.append(asn1_crl.CertificateList.load(der))
    return result


# -- development material -----------------------------------------------------------------


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


# -- signing ---------------------------------------------------------------------------------


def long_term_context(
    trust_roots: Sequence[asn1_x509.Certificate],
    crls: Sequence[asn1_crl.CertificateList] = (),
    *,
    fetch: bool = False,
) -> ValidationContext:
    """What B-LT signing validates against: every certificate must have revocation data.

    Requiring it (rather than pyHanko's soft-fail default) means a signature is only called
    B-LT when the DSS really lets a verifier decide offline; missing data fails the signing.
    """
    return ValidationContext(
        trust_roots=list(trust_roots),
        crls=list(crls),
        allow_fetching=fetch,
        revinfo_policy=CertRevTrustPolicy(REQUIRE_REVINFO),
    )


def default_level(timestamper: TimeStamper | None) -> SignatureLevel:
    return "B-T" if timestamper is not None else "B-B"


def sign_pdf(
    pdf_bytes: bytes,
    signer: OpinionSigner,
    *,
    reason: str,
    location: str,
    field_name: str = DEFAULT_FIELD,
    level: SignatureLevel | None = None,
    timestamper: TimeStamper | None = None,
    validation: ValidationContext | None = None,
) -> bytes:
    """A PAdES signature at ``level`` (default: B-T with a timestamper, B-B without).

    B-T and up need ``timestamper``; B-LT and B-LTA need ``validation`` (see
    ``long_term_context``) to collect the chain and revocation data into the DSS. A TSA that
    cannot be reached raises pyHanko's ``TimestampRequestError``.

    The signature also certifies the document with "no changes allowed" (DocMDP P=1): later
    incremental updates other than validation data and archive timestamps void it.
    """
    level = level or default_level(timestamper)
    if level in TIMESTAMPED and timestamper is None:
        raise ValueError(f"PAdES {level} needs a time-stamping authority (timestamper)")
    if level in LONG_TERM and validation is None:
        raise ValueError(f"PAdES {level} needs a validation context with revocation data")
    long_term = level in LONG_TERM
    meta = signers.PdfSignatureMetadata(
        field_name=field_name,
        md_algorithm="sha256",
        subfilter=SigSeedSubFilter.PADES,
        reason=reason,
        location=location,
        certify=True,
        docmdp_permissions=MDPPerm.NO_CHANGES,
        embed_validation_info=long_term,
        use_pades_lta=level == "B-LTA",
        validation_context=validation if long_term else None,
    )
    stamper = timestamper if level in TIMESTAMPED else None
    pdf_signer = signers.PdfSigner(meta, signer=signer.pyhanko_signer(), timestamper=stamper)
    writer = IncrementalPdfFileWriter(io.BytesIO(pdf_bytes))
    output = io.BytesIO()
    pdf_signer.sign_pdf(writer, output=output)
    return output.getvalue()


class TimeStampReply(core.Sequence):  # type: ignore[misc]
    """RFC 3161 ``TimeStampResp`` with its token OPTIONAL, as the RFC has it (absent when the
    TSA refuses); asn1crypto's own class requires the token, so a refusal fails to parse."""

    _fields: ClassVar[list[Any]] = [
        ("status", tsp.PKIStatusInfo),
        ("time_stamp_token", cms.ContentInfo, {"optional": True}),
    ]


class CheckedHTTPTimeStamper(HTTPTimeStamper):
    """pyHanko's HTTP TSA client; a refusal or a reply that is not RFC 3161 becomes a
    ``TimestampRequestError`` saying so, instead of an asn1crypto parse error."""

    async def async_request_tsa_response(self, req: tsp.TimeStampReq) -> tsp.TimeStampResp:
        try:
            response = await super().async_request_tsa_response(req)
            status = TimeStampReply.load(response.dump())["status"]
        except ValueError as exc:
            raise TimestampRequestError(f"the TSA's reply is not RFC 3161: {exc}") from exc
        if status["status"].native not in ("granted", "granted_with_mods"):
            texts = "; ".join(status["status_string"].native or [])
            fails = ", ".join(sorted(status["fail_info"].native or []))
            raise TimestampRequestError(
                f"the TSA refused the request ({status['status'].native}: {texts} {fails})"
            )
        return response


@dataclass(frozen=True)
class SignaturePolicy:
    """How far an opinion's signature goes: its level, the TSA, where revocation data comes from."""

    level: SignatureLevel = "B-B"
    tsa_url: str = ""
    tsa_timeout: float = 10.0
    fetch_revocation: bool = False  # fetch CRL/OCSP online (a public CA) instead of given CRLs


class TimestampUnavailable(Unavailable):
    """The TSA did not answer with a token: nothing was signed, so nothing is issued (503)."""

    code = "tsa_unavailable"

    def __init__(self, tsa_url: str, cause: Exception) -> None:
        why = _causes(cause)
        super().__init__(
            f"时间戳服务（{tsa_url}）暂时无法使用，意见书未出具，也未保存任何文件。请稍后重试；"
            f"若持续失败，请管理员检查 CLOUDINSPECT_TSA_URL 和网络。（{why}）",
            f"The time-stamping authority ({tsa_url}) could not be used, so the opinion was "
            f"not issued and nothing was stored. Retry shortly; if it keeps failing, an "
            f"administrator should check CLOUDINSPECT_TSA_URL and the network. ({why})",
            tsa_url=tsa_url,
        )


def _causes(exc: BaseException) -> str:
    """The messages down an exception's chain: pyHanko wraps the reason that matters."""
    messages: list[str] = []
    current: BaseException | None = exc
    while current is not None and len(messages) < 5:
        text = str(current)
        if text and text not in messages:
            messages.append(text)
        current = current.__cause__ or current.__context__
    return ": ".join(messages)


class SigningFailed(AppError):
    """The chain or revocation data does not support the configured level (500)."""

    code = "signing_failed"

    def __init__(self, level: str, cause: Exception) -> None:
        cause_text = _causes(cause)
        super().__init__(
            f"意见书签名失败（PAdES {level}）：签名证书或时间戳证书未通过校验，或缺少吊销信息。"
            f"意见书未出具。请管理员检查签名证书、信任根与 CRL 配置。（{cause_text}）",
            f"Signing the opinion (PAdES {level}) failed: the signing or TSA certificate did "
            f"not validate, or revocation data is missing. The opinion was not issued; an "
            f"administrator should check the certificates, trust roots and CRLs. ({cause_text})",
            level=level,
        )


def sign_opinion_pdf(
    pdf_bytes: bytes,
    material: SigningMaterial,
    policy: SignaturePolicy,
    *,
    reason: str,
    location: str,
) -> bytes:
    """``sign_pdf`` at the policy's level, with its failures as errors a person can act on."""
    timestamper = None
    if policy.tsa_url:
        timestamper = CheckedHTTPTimeStamper(policy.tsa_url, timeout=policy.tsa_timeout)
    validation = None
    if policy.level in LONG_TERM:
        validation = long_term_context(
            material.trust_roots(), material.crls(), fetch=policy.fetch_revocation
        )
    try:
        return sign_pdf(
            pdf_bytes,
            material,
            reason=reason,
            location=location,
            level=policy.level,
            timestamper=timestamper,
            validation=validation,
        )
    except TimestampRequestError as exc:
        raise TimestampUnavailable(policy.tsa_url, exc) from exc
    except (SigningError, PathError, ValidationError) as exc:
        raise SigningFailed(policy.level, exc) from exc


def sign_json(canonical_bytes: bytes, signer: OpinionSigner) -> bytes:
    """A detached CMS signature (DER) over the JSON twin."""
    coroutine = signer.pyhanko_signer().async_sign_general_data(
        canonical_bytes, "sha256", detached=True
    )
    content_info = asyncio.run(coroutine)
    return bytes(content_info.dump())
