"""PAdES levels with a real RFC 3161 TSA over HTTP: B-T, B-LT (DSS + CRL), B-LTA, and failures."""

from __future__ import annotations

import hashlib
import io
import os
import socket
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from asn1crypto import algos, cms, tsp
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from pydantic import ValidationError
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.validation import add_validation_info
from pyhanko.sign.validation.dss import DocumentSecurityStore
from pyhanko_certvalidator import ValidationContext

from server.config import Settings
from server.devtools.ca import (
    DEV_CRL,
    DEV_DIR_NAME,
    ensure_dev_crl,
    ensure_dev_signing_material,
    issue_dev_crl,
)
from server.devtools.tsa import QUERY_TYPE, REPLY_TYPE, DevTsaServer
from server.opinions.content import OpinionContent, content_hash
from server.opinions.signing import (
    SignatureLevel,
    SignaturePolicy,
    SigningFailed,
    SigningMaterial,
    TimeStampReply,
    TimestampUnavailable,
    sign_opinion_pdf,
    sign_pdf,
)
from server.opinions.verify import verify_pdf
from tests.opinions.tsa import dummy_tsa

YEARS_LATER = timedelta(days=4 * 365)  # the signing certificate (825 days) has expired by then


def _sign(pdf: bytes, material: SigningMaterial, tsa: DevTsaServer, level: SignatureLevel) -> bytes:
    return sign_opinion_pdf(
        pdf, material, SignaturePolicy(level=level, tsa_url=tsa.url), reason="r", location="l"
    )


@pytest.fixture(scope="module")
def signed(pdf: bytes, material: SigningMaterial, tsa: DevTsaServer) -> dict[SignatureLevel, bytes]:
    levels: tuple[SignatureLevel, ...] = ("B-T", "B-LT", "B-LTA")
    return {level: _sign(pdf, material, tsa, level) for level in levels}


def _query(digest: bytes, nonce: int = 4242) -> bytes:
    imprint = tsp.MessageImprint(
        {"hash_algorithm": algos.DigestAlgorithm({"algorithm": "sha256"}), "hashed_message": digest}
    )
    request = tsp.TimeStampReq(
        {"version": "v1", "message_imprint": imprint, "nonce": nonce, "cert_req": True}
    )
    return bytes(request.dump())


def _post(url: str, body: bytes, content_type: str = QUERY_TYPE) -> httpx.Response:
    return httpx.post(url, content=body, headers={"Content-Type": content_type})


# --- the development TSA -----------------------------------------------------------------------


def test_dev_tsa_answers_an_rfc3161_query_over_http(
    tsa: DevTsaServer, material: SigningMaterial
) -> None:
    digest = hashlib.sha256(b"opinion").digest()
    response = _post(tsa.url, _query(digest))
    assert response.status_code == 200
    assert response.headers["content-type"] == REPLY_TYPE
    reply = tsp.TimeStampResp.load(response.content)
    assert reply["status"]["status"].native == "granted"
    signed_data = reply["time_stamp_token"]["content"]
    info = signed_data["encap_content_info"]["content"].parsed
    assert info["message_imprint"]["hashed_message"].native == digest
    assert info["nonce"].native == 4242
    (tsa_cert,) = [c.chosen for c in signed_data["certificates"]]
    assert tsa_cert.extended_key_usage_value.native == ["time_stamping"]
    assert tsa_cert.issuer == material.trust_roots()[0].subject


@pytest.mark.parametrize(
    ("body", "content_type", "status", "fail_info"),
    [
        (b"not DER at all", QUERY_TYPE, 200, "bad_data_format"),
        (_query(b"short"), QUERY_TYPE, 200, "bad_data_format"),
        (_query(hashlib.sha256(b"x").digest()), "application/json", 415, None),
        (b"\x30" * 9000, QUERY_TYPE, 413, None),
    ],
)
def test_dev_tsa_refuses_bad_queries_clearly(
    tsa: DevTsaServer, body: bytes, content_type: str, status: int, fail_info: str | None
) -> None:
    response = _post(tsa.url, body, content_type)
    assert response.status_code == status
    if fail_info is not None:
        reply = TimeStampReply.load(response.content)
        assert reply["status"]["status"].native == "rejection"
        assert reply["status"]["fail_info"].native == {fail_info}
    assert httpx.get(tsa.url).status_code == 405


# --- levels ------------------------------------------------------------------------------------


def test_b_t_over_http_carries_a_valid_timestamp(
    pdf: bytes, material: SigningMaterial, tsa: DevTsaServer, content: OpinionContent
) -> None:
    before, answered = datetime.now(UTC), tsa.app.answered
    signed = _sign(pdf, material, tsa, "B-T")
    after = datetime.now(UTC)
    assert tsa.app.answered > answered  # the token really came over HTTP
    report = verify_pdf(signed, material.trust_roots(), expected_hash=content_hash(content))
    assert report.ok, report.problems
    assert (report.level, report.timestamp_present, report.timestamp_valid) == ("B-T", True, True)
    assert report.timestamp_time is not None
    assert before - timedelta(seconds=1) <= report.timestamp_time <= after + timedelta(seconds=1)
    assert report.signing_time == report.timestamp_time
    assert "时间戳服务" in str(report.timestamp_authority)
    assert not report.validation_data


def test_b_lt_embeds_chain_and_crl_and_validates_offline(
    signed: dict[SignatureLevel, bytes], material: SigningMaterial
) -> None:
    reader = PdfFileReader(io.BytesIO(signed["B-LT"]))
    dss = DocumentSecurityStore.read_dss(reader)
    certs = {cert.dump() for cert in dss.load_certs()}
    assert material.signing_cert.dump() in certs
    assert len(dss.crls) == 1
    assert dss.crls[0].get_object().data == material.crl_paths[0].read_bytes()
    report = verify_pdf(signed["B-LT"], material.trust_roots())
    assert report.ok, report.problems
    assert (report.level, report.validation_data, report.modification) == (
        "B-LT",
        True,
        "LTA_UPDATES",
    )


def test_b_lta_adds_a_document_timestamp(
    signed: dict[SignatureLevel, bytes], material: SigningMaterial
) -> None:
    kinds = [
        s.sig_object_type for s in PdfFileReader(io.BytesIO(signed["B-LTA"])).embedded_signatures
    ]
    assert kinds == ["/Sig", "/DocTimeStamp"]
    report = verify_pdf(signed["B-LTA"], material.trust_roots())
    assert report.ok, report.problems
    assert report.level == "B-LTA"
    assert report.archive_timestamp_time is not None
    assert report.timestamp_time is not None
    assert report.archive_timestamp_time >= report.timestamp_time


@pytest.mark.parametrize("level", ["B-LT", "B-LTA"])
def test_long_term_levels_still_validate_years_later(
    signed: dict[SignatureLevel, bytes], material: SigningMaterial, level: SignatureLevel
) -> None:
    later = datetime.now(UTC) + YEARS_LATER
    report = verify_pdf(signed[level], material.trust_roots(), at=later)
    assert report.ok, report.problems
    assert report.level == level


@pytest.mark.parametrize("level", ["B-B", "B-T"])
def test_short_term_levels_fail_once_the_certificate_expired(
    signed: dict[SignatureLevel, bytes],
    signed_pdf: bytes,
    material: SigningMaterial,
    level: SignatureLevel,
) -> None:
    data = signed_pdf if level == "B-B" else signed[level]
    assert verify_pdf(data, material.trust_roots()).level == level  # fine today…
    report = verify_pdf(data, material.trust_roots(), at=datetime.now(UTC) + YEARS_LATER)
    assert not report.ok  # …but nothing proves the certificate was good when it signed
    assert report.level is None
    assert any("not trusted" in problem for problem in report.problems)


def _positions(data: bytes) -> list[int]:
    signature = PdfFileReader(io.BytesIO(data)).embedded_signatures[0]
    start, first, second, _ = (int(x) for x in signature.sig_object["/ByteRange"])
    return [start + 10, first // 2, first - 20, second + 5, len(data) - 40]


@pytest.mark.parametrize("level", ["B-T", "B-LT", "B-LTA"])
@pytest.mark.parametrize("index", range(5))
def test_one_flipped_byte_fails_at_every_level(
    signed: dict[SignatureLevel, bytes], material: SigningMaterial, level: str, index: int
) -> None:
    data = signed[level]  # type: ignore[index]
    tampered = bytearray(data)
    tampered[_positions(data)[index]] ^= 0x01
    report = verify_pdf(bytes(tampered), material.trust_roots())
    assert not report.ok
    assert report.level is None
    assert report.problems


# --- what must not pass ------------------------------------------------------------------------


def test_timestamp_from_an_untrusted_tsa_is_reported(pdf: bytes, material: SigningMaterial) -> None:
    stranger, _ = dummy_tsa()  # a self-made TSA the dev root does not vouch for
    signed = sign_pdf(pdf, material, reason="r", location="l", level="B-T", timestamper=stranger)
    report = verify_pdf(signed, material.trust_roots())
    assert report.timestamp_present
    assert not report.timestamp_valid
    assert not report.ok
    assert any("timestamp" in problem for problem in report.problems)


def test_validation_data_that_does_not_cover_the_signature_is_reported(
    signed: dict[SignatureLevel, bytes], material: SigningMaterial
) -> None:
    """A DSS with the certificates but no CRL: not B-LT, and not silently B-T either."""
    reader = PdfFileReader(io.BytesIO(signed["B-T"]))
    context = ValidationContext(trust_roots=material.trust_roots(), allow_fetching=False)
    output = add_validation_info(reader.embedded_signatures[0], context)
    report = verify_pdf(output.getvalue(), material.trust_roots())
    assert not report.ok
    assert not report.validation_data
    assert any("validation data" in problem for problem in report.problems)


def test_revoked_signer_cannot_sign_b_lt(pdf: bytes, tmp_path: Path) -> None:
    material = ensure_dev_signing_material(tmp_path)
    serial = x509.load_pem_x509_certificate(material.cert_path.read_bytes()).serial_number
    with DevTsaServer(tmp_path) as tsa:
        assert verify_pdf(_sign(pdf, material, tsa, "B-LT"), material.trust_roots()).ok
        issue_dev_crl(tmp_path / DEV_DIR_NAME, revoked=[serial])
        with pytest.raises(SigningFailed) as refused:
            _sign(pdf, material, tsa, "B-LT")
    assert refused.value.status == 500
    assert "revoked" in refused.value.message_en


def test_b_lt_without_revocation_data_is_refused_at_signing(
    pdf: bytes, material: SigningMaterial, tsa: DevTsaServer
) -> None:
    no_crl = SigningMaterial(
        key_path=material.key_path,
        cert_path=material.cert_path,
        chain_paths=material.chain_paths,
        trust_paths=material.trust_paths,
    )
    with pytest.raises(SigningFailed) as refused:
        _sign(pdf, no_crl, tsa, "B-LT")
    assert "no revocation information" in refused.value.message_en


def test_unreachable_tsa_is_a_clear_503(pdf: bytes, material: SigningMaterial) -> None:
    with socket.create_server(("127.0.0.1", 0)) as sock:
        url = f"http://127.0.0.1:{sock.getsockname()[1]}/"  # closed once we leave the block
    policy = SignaturePolicy(level="B-T", tsa_url=url, tsa_timeout=5)
    with pytest.raises(TimestampUnavailable) as refused:
        sign_opinion_pdf(pdf, material, policy, reason="r", location="l")
    problem = refused.value.to_problem()
    assert (problem["status"], problem["code"], problem["tsa_url"]) == (503, "tsa_unavailable", url)
    assert "CLOUDINSPECT_TSA_URL" in problem["detail"]


async def _refusing_tsa(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """A TSA in maintenance: a well-formed RFC 3161 refusal without a token."""
    status = tsp.PKIStatusInfo(
        {"status": "rejection", "status_string": ["maintenance"], "fail_info": {"system_failure"}}
    )
    await send(
        {
            "type": "http.response.start",
            "status": 200,
            "headers": [(b"content-type", REPLY_TYPE.encode())],
        }
    )
    await send({"type": "http.response.body", "body": TimeStampReply({"status": status}).dump()})


def test_a_tsa_refusal_is_a_clear_503(
    pdf: bytes, material: SigningMaterial, tmp_path: Path
) -> None:
    refusing = DevTsaServer(tmp_path)
    refusing.app = _refusing_tsa  # type: ignore[assignment]
    with refusing:
        policy = SignaturePolicy(level="B-T", tsa_url=refusing.url)
        with pytest.raises(TimestampUnavailable) as refused:
            sign_opinion_pdf(pdf, material, policy, reason="r", location="l")
    assert "refused" in refused.value.message_en
    assert "maintenance" in refused.value.message_en


def test_levels_above_b_b_need_their_inputs(pdf: bytes, material: SigningMaterial) -> None:
    with pytest.raises(ValueError, match="time-stamping"):
        sign_pdf(pdf, material, reason="r", location="l", level="B-T")
    stamper, _ = dummy_tsa()
    with pytest.raises(ValueError, match="revocation"):
        sign_pdf(pdf, material, reason="r", location="l", level="B-LT", timestamper=stamper)


# --- the dev CA's CRL ------------------------------------------------------------------------


def test_dev_crl_is_renewed_only_when_it_runs_low(tmp_path: Path) -> None:
    material = ensure_dev_signing_material(tmp_path)
    directory = tmp_path / DEV_DIR_NAME
    before = (directory / DEV_CRL).read_bytes()
    assert ensure_dev_crl(directory).read_bytes() == before  # fresh: kept
    soon = datetime.now(UTC) + timedelta(days=6, hours=12)
    renewed = ensure_dev_crl(directory, now=soon).read_bytes()
    assert renewed != before
    crl = x509.load_der_x509_crl(renewed)
    assert crl.next_update_utc is not None
    assert crl.next_update_utc > soon + timedelta(days=6)
    ca = x509.load_pem_x509_certificate(material.chain_paths[0].read_bytes())
    assert crl.is_signature_valid(ca.public_key())  # type: ignore[arg-type]
    assert sorted(os.listdir(directory)) == sorted(
        [DEV_CRL, "dev-ca.cert.pem", "dev-ca.key.pem", "signing.cert.pem", "signing.key.pem"]
    )  # no staging file left behind


def test_signature_timestamp_is_an_rfc3161_token_over_the_signature(
    signed: dict[SignatureLevel, bytes],
) -> None:
    signature = PdfFileReader(io.BytesIO(signed["B-T"])).embedded_signatures[0]
    unsigned = signature.signer_info["unsigned_attrs"]
    (token,) = [
        a["values"][0] for a in unsigned if a["type"].native == "signature_time_stamp_token"
    ]
    assert isinstance(token, cms.ContentInfo)
    info = token["content"]["encap_content_info"]["content"].parsed
    value = signature.signer_info["signature"].native
    assert info["message_imprint"]["hashed_message"].native == hashlib.sha256(value).digest()
    assert isinstance(info["tsa"].chosen, asn1_x509.Name)


# --- settings ----------------------------------------------------------------------------------


def test_default_level_is_b_lt_with_a_tsa_and_b_b_without(tmp_path: Path) -> None:
    assert Settings(data_dir=tmp_path).effective_signature_level == "B-B"
    with_tsa = Settings(data_dir=tmp_path, tsa_url="http://127.0.0.1:9/")
    assert with_tsa.effective_signature_level == "B-LT"
    chosen = Settings(data_dir=tmp_path, tsa_url="http://127.0.0.1:9/", signature_level="B-T")
    assert chosen.effective_signature_level == "B-T"


@pytest.mark.parametrize(
    ("changes", "names"),
    [
        ({"signature_level": "B-T"}, "CLOUDINSPECT_TSA_URL"),
        ({"signature_level": "B-LTA"}, "CLOUDINSPECT_TSA_URL"),
        (
            {"tsa_url": "http://tsa.example/", "signing_key_path": "k.pem"},
            "CLOUDINSPECT_SIGNING_CRL_PATHS",
        ),
    ],
)
def test_a_level_without_what_it_needs_is_refused_at_startup(
    tmp_path: Path, changes: dict[str, Any], names: str
) -> None:
    with pytest.raises(ValidationError) as refused:
        Settings(data_dir=tmp_path, **changes)
    assert names in str(refused.value)


def test_own_key_with_crls_or_fetching_may_be_b_lt(tmp_path: Path) -> None:
    base = {"tsa_url": "http://tsa.example/", "signing_key_path": "k.pem"}
    assert Settings(data_dir=tmp_path, signing_crl_paths=["ca.crl"], **base)
    assert Settings(data_dir=tmp_path, signing_fetch_revocation=True, **base)
