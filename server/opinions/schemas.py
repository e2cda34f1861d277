"""What the opinion endpoints take and answer: the workflow, the window staff's list, and the
public verification."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field

from server.opinions.models import Opinion
from server.opinions.reopened import reopened_by
from server.opinions.verify import VerificationReport
from server.platform.time import shanghai_time


class OpinionReasonIn(BaseModel):
    reason: str = Field(min_length=1, max_length=2000)


class CommentsIn(BaseModel):
    comments: str = Field(min_length=1, max_length=4000)


class SendBackIn(CommentsIn):
    """The reviewer's send-back: why, and which checklist items the lead must redo."""

    items: list[Annotated[str, Field(min_length=1, max_length=16)]] = Field(
        min_length=1, max_length=200, description="checklist item ids to reopen for the lead"
    )


class SignIn(BaseModel):
    """A signing step (co-sign, approve): the signer confirms with their login password."""

    password: str = Field(min_length=1, max_length=256)


class OpinionOut(BaseModel):
    id: str
    case_id: str
    version: int
    previous_id: str | None
    status: str
    content_hash: str
    verification_code: str
    verification_url: str
    conclusion: str
    drafted_by: str
    cosigned_by: str | None
    reviewed_by: str | None
    review_comments: list[dict[str, Any]]
    issued_at: datetime | None
    pdf_sha256: str | None
    acknowledged_by: str | None
    acknowledged_at: datetime | None
    reopened_items: list[str] = []  # checklist items a send-back reopened for the lead
    content: dict[str, Any] | None = None


class IssuedOut(BaseModel):
    id: str
    case_id: str
    case_number: str
    application_no: str
    applicant: str
    matters: list[str]
    version: int
    previous_id: str | None
    status: str
    conclusion: str
    content_hash: str
    pdf_sha256: str | None
    verification_code: str
    issued_at: datetime | None
    acknowledged_by: str | None
    acknowledged_at: datetime | None
    pdf_path: str


class SignatureOut(BaseModel):
    """The stored PDF's PAdES signature, verified now against the bureau's trust roots."""

    ok: bool
    level: str | None  # the PAdES level that holds: B-B, B-T, B-LT, B-LTA
    signer: str | None
    timestamp_valid: bool
    timestamp_time: datetime | None  # the TSA's time, UTC
    timestamp_time_beijing: str | None  # the same, as read in Asia/Shanghai
    timestamp_authority: str | None
    validation_data: bool  # certificates and revocation data embedded (B-LT)
    archive_timestamp_time: datetime | None  # B-LTA
    problems: list[str]


def signature_out(report: VerificationReport) -> SignatureOut:
    when = report.timestamp_time
    return SignatureOut(
        ok=report.ok,
        level=report.level,
        signer=report.signer_subject,
        timestamp_valid=report.timestamp_valid,
        timestamp_time=when,
        timestamp_time_beijing=shanghai_time(when, "%Y-%m-%d %H:%M:%S") if when else None,
        timestamp_authority=report.timestamp_authority,
        validation_data=report.validation_data,
        archive_timestamp_time=report.archive_timestamp_time,
        problems=report.problems,
    )


class VerifyOut(BaseModel):
    """What the printed opinion shows, and whether it is still the one in force."""

    verification_code: str
    current: bool
    status: Literal["current", "superseded"]
    status_zh: str
    superseded_by: str | None  # the verification code of the correction
    issuer: str
    case_number: str
    application_no: str
    applicant: str
    site_address: str
    matters: list[str]
    version: int
    conclusion: str
    conclusion_zh: str
    conclusion_en: str
    issued_at: datetime | None
    content_hash: str
    evidence_root: str | None  # Merkle root over the evidence (None before evidence roots)
    pdf_sha256: str | None
    signature: SignatureOut  # the stored PDF's signature, checked now


def opinion_out(opinion: Opinion, *, with_content: bool) -> OpinionOut:
    content = opinion.content
    return OpinionOut(
        id=opinion.id,
        case_id=opinion.case_id,
        version=opinion.version,
        previous_id=opinion.previous_id,
        status=opinion.status,
        content_hash=opinion.content_hash,
        verification_code=opinion.verification_code,
        verification_url=str(content.get("verification_url", "")),
        conclusion=str(content.get("conclusion", {}).get("value", "")),
        drafted_by=opinion.drafted_by,
        cosigned_by=opinion.cosigned_by,
        reviewed_by=opinion.reviewed_by,
        review_comments=opinion.review_comments,
        issued_at=opinion.issued_at,
        pdf_sha256=opinion.pdf_sha256,
        acknowledged_by=opinion.acknowledged_by,
        acknowledged_at=opinion.acknowledged_at,
        reopened_items=sorted(reopened_by(opinion)),
        content=content if with_content else None,
    )
