"""The issued opinion's machine-readable side: the signed JSON twin, its detached signature,
and the evidence bundle a third party verifies offline (``cloudinspect verify-opinion
--bundle``). Window staff and the approval system (scope ``cases:read_results``) read the
twin; staff who handle issued opinions export the bundle. Every read is audited."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Response

from server.auth.models import Role
from server.auth.principal import Principal
from server.deps import ContextDep, SessionDep, StoreDep, VisibleCaseDep, require_roles
from server.opinions import reads
from server.opinions.bundle_export import export_bundle
from server.platform.storage import attachment_disposition

router = APIRouter(tags=["opinions"])
CASE = "/api/v1/cases/{case_id}/opinion"
TwinReader = Annotated[Principal, Depends(require_roles(Role.window, Role.admin, clients=True))]
Exporter = Annotated[Principal, Depends(require_roles(Role.window, Role.admin, Role.reviewer))]


def _download(data: bytes, media_type: str, name: str, sha256: str | None = None) -> Response:
    headers = {
        "Content-Disposition": attachment_disposition(name),
        "X-Content-Type-Options": "nosniff",
    }
    if sha256:
        headers["X-Content-SHA256"] = sha256
    return Response(data, media_type=media_type, headers=headers)


@router.get(f"{CASE}/json", response_class=Response)
async def get_twin(
    view: VisibleCaseDep, reader: TwinReader, session: SessionDep, store: StoreDep
) -> Response:
    """The signed JSON twin (机读副本) byte for byte as signed; SHA-256 = the content hash."""
    opinion, data = await reads.read_twin(session, store, reader.actor, view)
    name = f"踏勘意见书-{view.case.number}-v{opinion.version}.json"
    return _download(data, "application/json", name, opinion.content_hash)


@router.get(f"{CASE}/json/signature", response_class=Response)
async def get_twin_signature(
    view: VisibleCaseDep, reader: TwinReader, session: SessionDep, store: StoreDep
) -> Response:
    """The detached CMS signature (DER, PKCS #7) over the JSON twin."""
    opinion, data = await reads.read_twin_signature(session, store, reader.actor, view)
    name = f"踏勘意见书-{view.case.number}-v{opinion.version}.json.p7s"
    return _download(data, "application/pkcs7-signature", name)


@router.get(f"{CASE}/bundle", response_class=Response)
async def get_bundle(
    view: VisibleCaseDep, staff: Exporter, session: SessionDep, ctx: ContextDep
) -> Response:
    """The evidence bundle (zip): every object under the evidence root, a manifest, the PDF,
    the JSON twin and its signature."""
    opinion, data = await export_bundle(session, ctx.store, staff.actor, view)
    name = f"踏勘证据包-{view.case.number}-v{opinion.version}.zip"
    return _download(data, "application/zip", name)
