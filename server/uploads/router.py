"""Upload endpoints: announce a photo or clip, finalize it into evidence, list your uploads."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Response
from fastapi.responses import JSONResponse

from server.deps import PrincipalDep, SessionDep, StoreDep, VisibleCaseDep
from server.errors import PROBLEM_JSON
from server.uploads import finalize, service
from server.uploads.images import FileRefused
from server.uploads.schemas import FormOut, UploadIn, UploadOut, upload_out

router = APIRouter(prefix="/api/v1/cases/{case_id}/uploads", tags=["uploads"])


def _refused(refusal: FileRefused) -> JSONResponse:
    """422 without raising, so the request still commits the upload's ``rejected`` state."""
    return JSONResponse(refusal.to_problem(), status_code=refusal.status, media_type=PROBLEM_JSON)


@router.post("", response_model=UploadOut, status_code=201)
async def announce_upload(
    body: UploadIn,
    view: VisibleCaseDep,
    principal: PrincipalDep,
    session: SessionDep,
    store: StoreDep,
    response: Response,
) -> UploadOut:
    """Announce a file and get a presigned POST form; the same key returns the same upload."""
    request = service.UploadRequest(
        idempotency_key=body.idempotency_key,
        purpose=body.purpose,
        item_ids=tuple(body.item_ids),
        content_type=body.content_type.strip().lower(),
        size=body.size,
        sha256=body.sha256.lower(),
        position=None if body.position is None else body.position.fix(),
        captured_at=body.captured_at,
    )
    upload, created = await service.announce(
        session, principal=principal, view=view, request=request
    )
    if not created:
        response.status_code = 200
    if upload.status == "pending":
        post = await service.presign(store, upload)
        return upload_out(
            upload, form=FormOut(url=post.url, fields=post.fields, expires_at=post.expires_at)
        )
    outcome = await finalize.finalize(
        session, store, principal=principal, view=view, upload_id=upload.id
    )
    return upload_out(outcome.upload, evidence=outcome.evidence)


@router.post("/{upload_id}/finalize", response_model=UploadOut)
async def finalize_upload(
    view: VisibleCaseDep,
    principal: PrincipalDep,
    session: SessionDep,
    store: StoreDep,
    upload_id: Annotated[str, Path(max_length=64)],
) -> UploadOut | JSONResponse:
    """Check the uploaded file and record it as evidence; a refused file is deleted (422)."""
    service.purpose_for(principal, view, None)
    outcome = await finalize.finalize(
        session, store, principal=principal, view=view, upload_id=upload_id
    )
    if outcome.refusal is not None:
        return _refused(outcome.refusal)
    return upload_out(outcome.upload, evidence=outcome.evidence)


@router.get("", response_model=list[UploadOut])
async def list_uploads(
    view: VisibleCaseDep, principal: PrincipalDep, session: SessionDep
) -> list[UploadOut]:
    """The caller's own uploads for this case, oldest first."""
    uploads = await service.list_own(session, principal=principal, case_id=view.case.id)
    return [upload_out(u) for u in uploads]
