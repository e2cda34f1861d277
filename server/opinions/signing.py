"""Sign the opinion: PAdES on the PDF, detached CMS on the JSON twin.

The signer is pluggable (``OpinionSigner``): development and small deployments use key files
(``SigningMaterial``); a real bureau signs in an HSM or the government e-seal service, which
pyHanko reaches through its PKCS#11 or CSC signers — the key then never enters this process
(电子签名法 Art. 13). In development the material comes from the local development CA
(``server.devtools.ca``).

PAdES levels (ETSI EN 319 142-1): B-B is the bare signature; B-T adds an RFC 3161 timestamp
of the signature; B-LT adds, in the document security store (DSS), every certificate and
CRL/OCSP response a verifier needs, so the signature can be checked offline after the
certificates have expired; B-LTA adds a document timestamp over all of that.

Signing runs pyHanko's event loop (``asyncio.run``): call it through ``asyncio.to_thread``.
"""

from __future__ import annotations

import asyncio
import io
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Literal, Protocol, get_args

from asn1crypto import cms, core, tsp  # type: ignore[import-untyped]
from asn1crypto import crl as asn1_crl
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import serialization
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
